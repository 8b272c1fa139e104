"""Every shipped run is small, pickle-free, trained on the cohort the app regenerates, and
reproduces its recorded metrics; the gbm peer's stored predictions are reproduced by its command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO, SHIPPED_PHYSIONET_RUN, SHIPPED_RUN
from lemof import evaluate_run, explain_stay, load_run, open_bundle

SHIPPED = sorted(p for p in (REPO / "assets" / "models").iterdir() if p.is_dir())


def _cohort(run, default_cohort, physionet_cohort):
    return default_cohort if run.cohort.source == "synthetic" else physionet_cohort


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
    assert sum(sizes.values()) < 5_000_000
    assert not [n for n in sizes if n.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin", ".joblib"))]
    run = load_run(path)
    assert run.run_id == path.name and run.warnings == []
    bundle = open_bundle(_cohort(run, default_cohort, physionet_cohort))
    assert bundle.fingerprint == run.cohort.fingerprint, "the app rebuilds the very cohort the run was trained on"
    now = evaluate_run(run, bundle, "test")  # the network runs (gbm: its stored predictions)
    recorded = json.loads((path / "metrics.json").read_text())["test"]
    for block in ("model", "baseline_train_median"):
        for key, value in recorded[block].items():
            assert now[block][key] == pytest.approx(value, abs=1e-6), f"{block}.{key}"
    assert now["model"]["mae_days"] < now["baseline_train_median"]["mae_days"], "it beats the training median"
    if path == SHIPPED_RUN:
        assert now["mae_reduction_vs_baseline"] >= 0.15, "the default run beats the training median clearly"


def test_shipped_explanations_use_the_stored_results(default_cohort):
    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    sid = int(bundle.stays["stay_id"].iloc[0])
    e = explain_stay(run, bundle, sid, attention=False)
    assert e.source == "stored"
    phis = [v for m in ("ehr", "sig") for v in e.level_shap[m] if v is not None]
    assert sum(phis) == pytest.approx(e.stacker_output - e.shap_base, abs=1e-5)


def test_the_gbm_peers_predictions_come_from_its_command(default_cohort, tmp_path):
    from lemof import TrainConfig, train

    shipped = load_run(REPO / "assets" / "models" / "synthetic-gbm")
    again = load_run(train(default_cohort, tmp_path / "gbm", TrainConfig(fusion="gbm", seed=shipped.train_config.seed), device="cpu"))
    a = shipped.predictions.set_index("stay_id")["final"]
    b = again.predictions.set_index("stay_id")["final"].reindex(a.index)
    assert np.allclose(a.to_numpy(), b.to_numpy(), atol=1e-9)


def test_a_model_is_only_used_on_its_own_cohort_family(default_cohort, physionet_cohort):
    from lemof import CohortError

    run = load_run(SHIPPED_PHYSIONET_RUN)
    bundle = open_bundle(default_cohort)
    with pytest.raises(CohortError, match="trained on 'physionet2012' data and cannot explain"):
        explain_stay(run, bundle, int(bundle.stays["stay_id"].iloc[0]))
