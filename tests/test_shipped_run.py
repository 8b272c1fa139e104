"""The shipped default run reproduces its recorded metrics on the regenerated default cohort."""

from __future__ import annotations

import json

import pytest

from conftest import SHIPPED_RUN
from lemof import evaluate_run, explain_stay, load_run, open_bundle


def test_shipped_run_is_small_and_safe():
    sizes = {p.name: p.stat().st_size for p in SHIPPED_RUN.iterdir()}
    assert sum(sizes.values()) < 5_000_000
    assert not [n for n in sizes if n.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin"))]


def test_regenerated_cohort_is_the_one_the_run_was_trained_on(default_cohort):
    run = load_run(SHIPPED_RUN)
    assert open_bundle(default_cohort).fingerprint == run.cohort["fingerprint"]


def test_shipped_run_reproduces_its_test_metrics(default_cohort):
    run = load_run(SHIPPED_RUN)
    recorded = json.loads((SHIPPED_RUN / "metrics.json").read_text())["test"]
    now = evaluate_run(run, open_bundle(default_cohort), "test")
    for block in ("lemof", "baseline_train_median"):
        for key, value in recorded[block].items():
            assert now[block][key] == pytest.approx(value, abs=1e-6), f"{block}.{key}"
    assert now["mae_reduction_vs_baseline"] >= 0.15, "the shipped model must beat the training median clearly"


def test_shipped_explanations_use_the_stored_level_shap(default_cohort):
    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    sid = int(bundle.stays["stay_id"].iloc[0])
    e = explain_stay(run, bundle, sid)
    assert e.shap_source == "stored"
    phis = [v for m in ("ehr", "sig") for v in e.level_shap[m] if v is not None]
    assert sum(phis) == pytest.approx(e.stacker_output - e.shap_base, abs=1e-5)
