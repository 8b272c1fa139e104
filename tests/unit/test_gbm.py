"""The tabular peer (``fusion = "gbm"``): LightGBM on per-stay summaries, its text model kept in
the run, predicting and explaining (TreeSHAP) any bundle of its family, and training on a cohort
without any biosignal."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from testkit.paths import REPO
from testkit.cohorts import tiny_config
from lemof import CohortError, CohortResults, RunError, evaluate_run, load_run, open_bundle
from lemof.data.summaries import SERIES_STATS, WAVEFORM_STATS, SummarySchema, series_summaries
from lemof.evaluation.predictions import run_predictions
from lemof.paths import file_sha256

# TreeSHAP values are computed in float64 by LightGBM: a stay's ~230 contributions (each below
# 1 in log1p-days) and the base value add up to its prediction to within a few hundred float64
# roundings (~1e-13); 1e-9 is far above that and far below any real disagreement.
SUM_TOL = 1e-9


@pytest.fixture(scope="module")
def ehr_only(tmp_path_factory):
    """A MIMIC-IV look-alike without its ECG module: no stay has a biosignal."""
    from lemof.data.mimic import build_mimic
    from tests.fixtures.mimic_fixture import write_mimic_fixture

    root = tmp_path_factory.mktemp("mimic-no-ecg")
    write_mimic_fixture(root, n_patients=100, seed=0, ecg=False)
    out = root / "bundle"
    build_mimic(root / "mimic", out)
    return out


def test_summaries_of_a_series_by_hand():
    # one stay, one variable, 4 hourly bins, observed at hours 0, 1 and 3: values 2, 4, 9
    values = np.array([[[2.0], [4.0], [7.0], [9.0]]])
    observed = np.array([[[True], [True], [False], [True]]])
    got = dict(zip(SERIES_STATS, series_summaries(values, observed, np.arange(4.0))[0, 0]))
    t, v = np.array([0.0, 1.0, 3.0]), np.array([2.0, 4.0, 9.0])
    expected = {"count": 3, "mean": 5.0, "std": v.std(), "min": 2, "max": 9, "first": 2, "last": 9, "slope": np.polyfit(t, v, 1)[0], "hours_since_last": 0.0}
    assert got == pytest.approx(expected, rel=1e-12)
    never = series_summaries(values, np.zeros_like(observed), np.arange(4.0))[0, 0]
    assert never[0] == 0 and np.isnan(never[1:]).all(), "never observed: count 0, every other summary NaN"
    once = dict(zip(SERIES_STATS, series_summaries(values, np.array([[[False], [True], [False], [False]]]), np.arange(4.0))[0, 0]))
    assert np.isnan(once["std"]) and np.isnan(once["slope"]) and once["hours_since_last"] == 2.0


def test_gbm_keeps_its_trees_as_text_and_its_stored_predictions_are_what_it_computes(gbm_run, tiny_cohort):
    config = json.loads((gbm_run / "config.json").read_text())
    text = (gbm_run / "model.lgb.txt").read_text()
    assert text.startswith("tree") and "Tree=0" in text
    assert config["weights_sha256"] == file_sha256(gbm_run / "model.lgb.txt")
    report = config["stage_reports"]["gbm"]
    assert {"objective", "num_leaves", "min_data_in_leaf", "feature_fraction", "learning_rate"} <= set(report["params"])
    assert report["fits"] >= 10 and report["n_trees"] >= 1
    run, bundle = load_run(gbm_run), open_bundle(tiny_cohort)
    names = run.summaries.names
    assert len(names) == len(set(names)) == len(report["features"])
    assert {f"ehr:hr:{s}" for s in SERIES_STATS} <= set(names) and {f"sig:II:{s}" for s in WAVEFORM_STATS} <= set(names)
    assert run.summaries.label("ehr:hr:slope") == "Heart rate (bpm): trend per hour"
    rows = np.arange(len(bundle))
    computed, stored = run_predictions(run, bundle, rows, mode="network"), run_predictions(run, bundle, rows, mode="stored")
    assert (computed.origin, stored.origin) == ("computed", "stored")
    # the stored predictions come from the text model as loaded, in float64: bit-equal
    assert np.array_equal(computed.arrays["final"], stored.arrays["final"]) and np.array_equal(computed.arrays["interval_days"], stored.arrays["interval_days"])


def test_a_changed_or_broken_model_file_is_a_clear_error(gbm_run, tmp_path):
    copy = tmp_path / "gbm-copy"
    shutil.copytree(gbm_run, copy)
    model = copy / "model.lgb.txt"
    original = model.read_bytes()
    model.write_bytes(original.replace(b"Tree=0", b"Tree=9", 1))
    with pytest.raises(RunError, match="model.lgb.txt of run gbm-copy does not match the SHA-256 recorded"):
        load_run(copy)
    model.write_bytes(b"this is not a LightGBM model\n")  # a broken file whose hash was recorded too
    config = json.loads((copy / "config.json").read_text())
    config["weights_sha256"] = file_sha256(model)
    (copy / "config.json").write_text(json.dumps(config))
    run = load_run(copy)
    with pytest.raises(RunError, match="model.lgb.txt of run gbm-copy is not a LightGBM model this version"):
        run.model
    model.unlink()
    with pytest.raises(RunError, match="run gbm-copy has no model.lgb.txt"):
        load_run(copy)


def test_gbm_evaluates_and_explains_another_cohort_of_its_family(gbm_run, other_draw):
    run, bundle = load_run(gbm_run), open_bundle(other_draw)
    assert bundle.fingerprint != run.cohort.fingerprint
    report = evaluate_run(run, bundle, "all")
    assert report["model"]["n"] == len(bundle) and np.isfinite(report["model"]["mae_days"])
    proc = subprocess.run(
        [sys.executable, "-m", "lemof", "evaluate", "--run", str(gbm_run), "--data", str(other_draw), "--split", "all"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["mae_days"] == pytest.approx(report["model"]["mae_days"], rel=1e-12)
    sid = int(bundle.stays["stay_id"].iloc[0])
    proc = subprocess.run(
        [sys.executable, "-m", "lemof", "explain", "--run", str(gbm_run), "--data", str(other_draw), "--stay", str(sid)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    tree = out["explanations"]["tree_shap"]
    assert out["prediction"]["stay_id"] == sid and list(out["explanations"]) == ["tree_shap"]
    assert tree["base"] + sum(p["value"] for p in tree["parts"]) == pytest.approx(tree["output"], abs=SUM_TOL)
    cohort = CohortResults(run, bundle)
    stays = bundle.stays
    for sid in (int(stays.loc[stays["has_signal"], "stay_id"].iloc[0]), int(stays.loc[~stays["has_signal"], "stay_id"].iloc[0])):
        results = cohort.stay(sid)
        tree, pred = results.attribute("tree_shap"), results.prediction
        features, inputs = tree.detail["features"], tree.detail["inputs"]
        assert pred.origin == "computed"
        assert tree.base + tree.total == pytest.approx(tree.output, abs=SUM_TOL)
        assert pred.los_days == pytest.approx(max(np.expm1(tree.output), 0.0), rel=1e-12)
        if pred.has_signal:  # the case report shows the same TreeSHAP values
            from lemof.report import case_report_html

            html = case_report_html(results)  # the same TreeSHAP values: in days on its first screen, as a chart among the internals
            assert "Why this prediction" in html and f"= {pred.los_days:.1f} d" in html and "summary features</h2>" in html
        else:  # no biosignal: its summaries are missing, not zero
            sig = [v for n, v in zip(features, inputs) if n.startswith("sig:") and n != "sig:available"]
            assert all(v is None for v in sig) and inputs[features.index("sig:available")] == 0


def test_an_old_gbm_run_without_its_trees_is_refused_at_load_naming_its_format(gbm_run, tmp_path):
    """A gbm run written before the trees were kept cannot predict: refused in one line, like any
    run this code does not read (not loaded with a warning and special cases downstream)."""
    from lemof.runs.layout import RUN_FORMAT_VERSION, spec_sha256

    old = tmp_path / "old-gbm"
    shutil.copytree(gbm_run, old)
    (old / "model.lgb.txt").unlink()
    config = json.loads((old / "config.json").read_text())
    del config["gbm"]
    config["weights_sha256"], config["spec_sha256"] = None, None
    config["spec_sha256"] = spec_sha256(config)
    (old / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match=f"run old-gbm \\(gbm\\) has format version {RUN_FORMAT_VERSION} without its trees .*retrain it") as refused:
        load_run(old)
    assert "\n" not in str(refused.value)


def test_the_tree_shap_base_value_is_the_average_training_prediction(gbm_run, tiny_cohort):
    """Path-dependent TreeSHAP's base value is each tree's leaf values weighted by how many training
    stays reached them, i.e. the mean prediction over the training split."""
    run, bundle = load_run(gbm_run), open_bundle(tiny_cohort)
    model = run.model
    x = model.features(bundle, bundle.rows("train"))
    phi = model.contributions(x)
    assert np.allclose(phi.sum(axis=1), model.raw(x), rtol=0, atol=SUM_TOL)
    assert phi[0, -1] == pytest.approx(model.raw(x).mean(), abs=1e-9)


def test_a_bundle_that_lacks_a_summarised_variable_is_refused(gbm_run, tiny_cohort, physionet_cohort):
    run, bundle = load_run(gbm_run), open_bundle(tiny_cohort)
    schema = run.summaries
    extra = dataclasses.replace(schema, ehr=schema.ehr + [{"name": "troponin", "label": "Troponin", "unit": "ng/L"}])
    with pytest.raises(CohortError, match="lacks EHR variable\\(s\\) troponin that the tabular model summarises"):
        extra.features(bundle)
    with pytest.raises(CohortError, match="biosignal \\(waveform, .*\\) does not fit the tabular model \\(series, "):
        dataclasses.replace(schema, signal_kind="series").check_compatible(bundle)
    with pytest.raises(CohortError, match="lacks EHR variable\\(s\\) GCS, FiO2, MechVent, pH, PaCO2 and 21 more"):
        SummarySchema.of(open_bundle(physionet_cohort)).check_compatible(bundle)


def test_what_if_runs_through_the_trees(gbm_run, tiny_cohort, stay_ids):
    from lemof.explain.whatif import Edit, what_if

    run, bundle = load_run(gbm_run), open_bundle(tiny_cohort)
    sid = stay_ids["with_signal"]
    stay = CohortResults(run, bundle).stay(sid)
    before = stay.attribute("tree_shap")
    edited = what_if(run, bundle, sid, [Edit("hide_signal"), Edit("shift", "hr", delta=15.0)])
    after = edited.attributions["tree_shap"]
    assert stay.prediction.has_signal and not edited.prediction.has_signal
    i = after.detail["features"].index("ehr:hr:mean")
    assert after.detail["inputs"][i] == pytest.approx(before.detail["inputs"][i] + 15.0, abs=1e-4)  # float32 storage of the shifted values
    assert after.base == before.base and after.base + after.total == pytest.approx(after.output, abs=SUM_TOL)


@pytest.mark.slow  # trains a model
def test_a_cohort_without_any_biosignal_trains_the_tabular_peer_only(ehr_only, tmp_path):
    bundle = open_bundle(ehr_only)
    assert not bundle.stays["has_signal"].any()
    proc = subprocess.run(
        [sys.executable, "-m", "lemof", "train", "--data", str(ehr_only), "--out", str(tmp_path / "lemof"), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "0 train stays with a biosignal" in lines[0] and "--fusion gbm" in lines[0]
    from lemof.training.pipeline import train

    run = load_run(train(ehr_only, tmp_path / "gbm", tiny_config(fusion="gbm"), device="cpu"))
    assert run.metrics.test.model.n == len(bundle.rows("test")) and np.isfinite(run.metrics.test.model.mae_days)
    sid = int(bundle.stays["stay_id"].iloc[0])
    stay = CohortResults(run, bundle).stay(sid)
    tree = stay.attribute("tree_shap")
    assert not stay.prediction.has_signal and tree.base + tree.total == pytest.approx(tree.output, abs=SUM_TOL)
    used = [n for n, p in zip(tree.detail["features"], tree.values) if p != 0]
    assert used and not [n for n in used if n.startswith("sig:")], "no biosignal: nothing of it is used"
