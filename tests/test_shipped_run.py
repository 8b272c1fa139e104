"""The shipped default run reproduces its recorded metrics on the regenerated default cohort."""

from __future__ import annotations

import json

import pytest

from conftest import SHIPPED_PHYSIONET_RUN, SHIPPED_RUN
from lemof import evaluate_run, explain_stay, load_run, open_bundle


@pytest.mark.parametrize("run", [SHIPPED_RUN, SHIPPED_PHYSIONET_RUN], ids=lambda p: p.name)
def test_shipped_runs_are_small_and_safe(run):
    sizes = {p.name: p.stat().st_size for p in run.iterdir()}
    assert sum(sizes.values()) < 5_000_000
    assert not [n for n in sizes if n.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin"))]


def test_regenerated_cohort_is_the_one_the_run_was_trained_on(default_cohort):
    run = load_run(SHIPPED_RUN)
    assert open_bundle(default_cohort).fingerprint == run.cohort.fingerprint


def test_shipped_run_reproduces_its_test_metrics(default_cohort):
    run = load_run(SHIPPED_RUN)
    recorded = json.loads((SHIPPED_RUN / "metrics.json").read_text())["test"]
    now = evaluate_run(run, open_bundle(default_cohort), "test")
    for block in ("model", "baseline_train_median"):
        for key, value in recorded[block].items():
            assert now[block][key] == pytest.approx(value, abs=1e-6), f"{block}.{key}"
    assert now["mae_reduction_vs_baseline"] >= 0.15, "the shipped model must beat the training median clearly"


def test_shipped_explanations_use_the_stored_level_shap(default_cohort):
    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    sid = int(bundle.stays["stay_id"].iloc[0])
    e = explain_stay(run, bundle, sid)
    assert e.source == "stored"
    phis = [v for m in ("ehr", "sig") for v in e.level_shap[m] if v is not None]
    assert sum(phis) == pytest.approx(e.stacker_output - e.shap_base, abs=1e-5)


def test_shipped_physionet_run_reproduces_its_test_metrics(physionet_cohort):
    run = load_run(SHIPPED_PHYSIONET_RUN)
    bundle = open_bundle(physionet_cohort)
    assert bundle.fingerprint == run.cohort.fingerprint, "the vendored data rebuild the cohort the run was trained on"
    recorded = json.loads((SHIPPED_PHYSIONET_RUN / "metrics.json").read_text())["test"]
    now = evaluate_run(run, bundle, "test")
    for block in ("model", "baseline_train_median"):
        for key, value in recorded[block].items():
            assert now[block][key] == pytest.approx(value, abs=1e-6), f"{block}.{key}"
    assert now["model"]["mae_days"] < now["baseline_train_median"]["mae_days"], "it must beat the training median"


def test_a_model_is_only_used_on_its_own_cohort_family(default_cohort, physionet_cohort):
    from lemof import CohortError, explain_stay

    run = load_run(SHIPPED_PHYSIONET_RUN)
    bundle = open_bundle(default_cohort)
    with pytest.raises(CohortError, match="trained on 'physionet2012' data and cannot explain"):
        explain_stay(run, bundle, int(bundle.stays["stay_id"].iloc[0]))
