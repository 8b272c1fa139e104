"""Every shipped run is small, pickle-free, trained on the cohort the app regenerates, and
reproduces its recorded metrics (by running its network or, for the gbm peer, its trees); the gbm
peer's chosen model is refitted from its command's choice."""

from __future__ import annotations

import json

import numpy as np
import pytest

from testkit.paths import REPO, SHIPPED_PHYSIONET_RUN, SHIPPED_RUN
from lemof import evaluate_run, explain_stay, load_run, open_bundle

SHIPPED = sorted(p for p in (REPO / "assets" / "models").iterdir() if p.is_dir())


def _cohort(run, default_cohort, physionet_cohort):
    return default_cohort if run.cohort.source == "synthetic" else physionet_cohort


# How close what the network computes on another machine must be to what is stored.
# The network computes in float32 (machine epsilon 1.2e-7). Another CPU (other SIMD width, other
# BLAS/oneDNN kernels) sums and fuses in another order, so each of the few dozen sequential
# operations from the inputs to the prediction x = log1p(days) (recurrence steps, convolutions,
# attention, heads, meta-learner: ~40) may round differently: a relative error of at most about
# 40 * 1.2e-7 = 5e-6, i.e. |dx| <= 5e-6 * max(1, |x|) <= 2e-5 for x up to 4 (log1p of 50 days).
# Days are expm1(x), whose slope is e^x = 1 + days: |d days| <= 2e-5 * (1 + days), which is
# exactly numpy's allclose(rtol=2e-5, atol=2e-5), also near 0 days (the interval's lower end).
FLOAT32_TOL = 2e-5
# A mean or median of days (MAE, RMSE, interval width) moves by at most 2e-5 * (1 + mean days),
# and on the shipped cohorts these metrics are at least a third of (1 + mean days) (synthetic:
# MAE 1.25 d, mean LOS 3.3 d), as mae_log1p (~0.3) is of 2e-5/0.3: relative 1e-4 covers both.
# (Seen in practice: 2.7e-7 relative, the interval width 24.2071619856774 vs 24.207168635113806 on
# another x86-64 machine.) A real change of the model moves them by orders of magnitude more.
FLOAT32_RTOL = 1e-4
# Metrics that count stays on either side of a threshold (a LOS bucket edge, an interval end, the
# order of two predictions) move in steps: a prediction within FLOAT32_TOL of a threshold may
# cross it on another CPU. One stay crossing moves coverage by 1/n, kappa and AUROC/AUPRC by less
# than 2/n; that many is allowed. (Their exact values are checked from the stored predictions.)
STEP_METRICS = ("kappa_linear_10bucket", "auroc_los_gt7", "auprc_los_gt7", "interval_coverage")
# What is computed in float64 from stored numbers (no network) differs across CPUs only by the
# last bits of numpy's vectorised exp/log: relative 1e-9 is far above that.
FLOAT64_RTOL = 1e-9
# The gbm trees: float64 summaries (numpy sums, which another CPU may add in another order: ~1e-15
# relative) against float64 thresholds, then a sum of a few hundred float64 leaf values of at most
# ~1 each: ~1e-13. A summary landing on the other side of a threshold by an ulp would move one
# stay by a whole leaf (>1e-4), which this catches; 1e-9 is far above the rounding.
GBM_TOL = 1e-9


def assert_metrics_match(now: dict, recorded: dict, *, by_float32_network: bool, where: str = "") -> None:
    """``now`` (metrics just computed) agree with ``recorded`` to within what another CPU can change."""
    assert set(now) >= set(recorded), where
    n = recorded["n"]
    for key, value in recorded.items():
        label = f"{where}{key}: now {now[key]!r}, recorded {value!r}"
        if value is None or key == "n":
            assert now[key] == value, label  # integers and absent values do not depend on the CPU
        elif not by_float32_network:
            assert now[key] == pytest.approx(value, rel=FLOAT64_RTOL, abs=1e-12), label
        elif key in STEP_METRICS:
            assert now[key] == pytest.approx(value, abs=2 / n), label
        else:
            assert now[key] == pytest.approx(value, rel=FLOAT32_RTOL, abs=1e-12), label


def test_shipped_runs_fit_the_budget():
    total = sum(f.stat().st_size for run in SHIPPED for f in run.iterdir())
    assert total < 40_000_000, f"shipped runs take {total / 1e6:.1f} MB"
    by_cohort = {}
    for path in SHIPPED:
        run = load_run(path)
        by_cohort.setdefault(run.cohort.source, []).append(run)
    lemof_configs = {s: {r.encoders for r in runs if r.fusion == "lemof"} for s, runs in by_cohort.items()}
    assert len(lemof_configs["synthetic"]) >= 3 and len(lemof_configs["physionet2012"]) >= 2
    for source, runs in by_cohort.items():
        fusions = {r.fusion for r in runs}
        assert "gbm" in fusions and fusions & {"late", "early", "xattn_last"}, source


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_run_is_small_safe_and_reproduces_its_metrics(path, default_cohort, physionet_cohort):
    sizes = {p.name: p.stat().st_size for p in path.iterdir()}
    # 9 MB: the largest, LeMoF with the tabular head on PhysioNet's 7,885 stays, holds 2.6 MB of
    # weights and stored predictions, 2.3 MB of stay vectors (7,885 x 128 float16 fused vectors),
    # 1.3 MB of the tabular head's 851 trees (LightGBM's text format, read back exactly) and 1.5 MB
    # of the first screen's reasons of its 1,183 test stays (stay_reasons.json.gz: every driver of a
    # stay with its sentence, exact float64, so the stored drivers are the computed ones)
    assert sum(sizes.values()) < 9_000_000
    assert not [n for n in sizes if n.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin", ".joblib"))]
    run = load_run(path)
    assert run.run_id == path.name and run.warnings == []
    bundle = open_bundle(_cohort(run, default_cohort, physionet_cohort))
    # Bit-equal on purpose: the fingerprint hashes the cohort's files, and the generators store
    # numbers rounded to a few decimals (EHR) or to int16 microvolts (ECG) from numpy's seeded RNG,
    # so another CPU's last-ulp differences in exp/sin do not reach the bytes.
    assert bundle.fingerprint == run.cohort.fingerprint, "the app rebuilds the very cohort the run was trained on"
    recorded = json.loads((path / "metrics.json").read_text())["test"]
    # The stored predictions (bytes in the run, no network) give exactly the recorded metrics ...
    stored = evaluate_run(run, bundle, "test", use_stored=True)
    for block in ("model", "baseline_train_median"):
        assert_metrics_match(stored[block], recorded[block], by_float32_network=False, where=f"stored {block}.")
    # ... and the model, run here, gives those predictions again, stay by stay: the network to float32
    # rounding; the gbm trees (float64 summaries, float64 leaf values read back from text) to float64 rounding
    from lemof.evaluation.predictions import run_predictions

    tol = FLOAT32_TOL if run.spec is not None else GBM_TOL
    rows = bundle.rows("test")
    fresh, kept = run_predictions(run, bundle, rows, mode="network"), run_predictions(run, bundle, rows, mode="stored")
    assert (fresh.origin, kept.origin) == ("computed", "stored")
    fresh, kept = fresh.arrays, kept.arrays
    assert np.array_equal(fresh["sig_available"], kept["sig_available"])
    np.testing.assert_allclose(fresh["final"], kept["final"], rtol=0, atol=tol, err_msg="log1p(days)")
    for key in ("los_days", "interval_days"):
        np.testing.assert_allclose(fresh[key], kept[key], rtol=tol, atol=tol, err_msg=key)
    now = evaluate_run(run, bundle, "test")  # the model runs: the network, or the gbm trees on the stays' summaries
    assert_metrics_match(now["model"], recorded["model"], by_float32_network=run.spec is not None, where="model.")
    assert_metrics_match(now["baseline_train_median"], recorded["baseline_train_median"], by_float32_network=False, where="baseline.")
    assert now["model"]["mae_days"] < now["baseline_train_median"]["mae_days"], "it beats the training median"
    if path == SHIPPED_RUN:
        assert now["mae_reduction_vs_baseline"] >= 0.15, "the default run beats the training median clearly"


def test_shipped_explanations_use_the_stored_results(default_cohort):
    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    sid = int(bundle.stays["stay_id"].iloc[0])
    e = explain_stay(run, bundle, sid)["level_shap"]
    assert e.detail["origin"] == "stored"
    assert e.total == pytest.approx(e.output - e.base, abs=1e-5)


def test_the_gbm_peers_chosen_model_is_refitted_from_its_choice(default_cohort):
    """The configuration the shipped synthetic-gbm chose on validation, fitted again (one fit of
    the 13 its command makes, so the test takes seconds; the whole command gives the very same
    text model, see docs/SHIPPED_RUNS.md), stops at the same tree and predicts what is stored."""
    from lemof.training.gbm import fit_booster, validation_mae_days
    from lemof.models.gbm import booster_feature_names
    from lemof.training.inputs import split_rows

    shipped = load_run(REPO / "assets" / "models" / "synthetic-gbm")
    bundle = open_bundle(default_cohort)
    report = shipped.stage_reports["gbm"]
    x = shipped.summaries.features(bundle)
    y = np.log1p(bundle.stays["los_days"].to_numpy(dtype=np.float64))
    rows = split_rows(bundle, need_signal=False)
    booster = fit_booster(report["params"], x, y, rows["train"], rows["val"], booster_feature_names(shipped.summaries.names), shipped.train_config.seed)
    assert booster.best_iteration == report["n_trees"]
    assert validation_mae_days(booster.predict(x[rows["val"]], num_iteration=booster.best_iteration), y[rows["val"]]) == pytest.approx(report["val_mae_days"], rel=1e-9)
    stored = shipped.predictions.set_index("stay_id")["final"].reindex(bundle.stays["stay_id"].to_numpy()).to_numpy()
    assert np.allclose(booster.predict(x, num_iteration=booster.best_iteration), stored, rtol=0, atol=GBM_TOL)


def test_a_model_is_only_used_on_its_own_cohort_family(default_cohort, physionet_cohort):
    from lemof import CohortError

    run = load_run(SHIPPED_PHYSIONET_RUN)
    bundle = open_bundle(default_cohort)
    with pytest.raises(CohortError, match="trained on 'physionet2012' data and cannot explain"):
        explain_stay(run, bundle, int(bundle.stays["stay_id"].iloc[0]))


def test_the_metric_tolerance_holds_across_cpus_and_still_catches_a_real_change(physionet_cohort):
    """A float32 rounding difference in the network's output (as another CPU makes) passes the
    comparison; the old ``abs=1e-6`` failed on exactly this (24.2071619856774 vs 24.207168635113806
    days of median interval width); a change of the model by 1e-3 in log1p(days) is caught."""
    from lemof.models.conformal import prediction_arrays
    from lemof.evaluation.metrics import los_metrics

    path = REPO / "assets" / "models" / "physionet2012-late-gru+resnet1d"
    run, bundle = load_run(path), open_bundle(physionet_cohort)
    recorded = json.loads((path / "metrics.json").read_text())["test"]["model"]
    rows = bundle.rows("test")
    table = run.predictions.set_index("stay_id").reindex(bundle.stays["stay_id"].to_numpy()[rows])
    y = bundle.stays["los_days"].to_numpy(dtype=float)[rows]
    final, halfwidth = table["final"].to_numpy(), table["halfwidth"].to_numpy()

    def metrics(final, halfwidth):
        pred = prediction_arrays(table.index.to_numpy(), table["sig_available"].to_numpy(dtype=bool), final, halfwidth)
        return los_metrics(y, pred["los_days"], pred["interval_days"]).to_dict()

    eps32 = float(np.finfo(np.float32).eps)
    rng = np.random.default_rng(0)
    # another CPU: the network's float32 output rounded differently by a few ulp
    rounded = metrics(final * (1 + 4 * eps32 * rng.uniform(-1, 1, len(final))), halfwidth * (1 + 4 * eps32 * rng.uniform(-1, 1, len(final))))
    assert_metrics_match(rounded, recorded, by_float32_network=True)
    assert rounded["interval_median_width_days"] != pytest.approx(recorded["interval_median_width_days"], abs=1e-6), (
        "the old absolute tolerance rejects a float32 rounding difference"
    )
    with pytest.raises(AssertionError, match=r"(mae_days|rmse_days): now"):
        assert_metrics_match(metrics(final + 1e-3, halfwidth), recorded, by_float32_network=True)
    with pytest.raises(AssertionError, match="interval_median_width_days"):
        assert_metrics_match(metrics(final, halfwidth * (1 + 1e-3)), recorded, by_float32_network=True)
