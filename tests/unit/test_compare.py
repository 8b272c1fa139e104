"""Comparing runs (lemof.evaluation.compare) without the page: aligned predictions, their metrics, run ids in links; the Compare page is tested in tests/app/test_compare.py."""

from __future__ import annotations

import pytest

from lemof import load_run, open_bundle
from lemof.evaluation.compare import compare_runs
from testkit.paths import shipped_runs


def test_comparison_aligns_runs_and_reproduces_their_metrics(default_cohort):
    bundle = open_bundle(default_cohort)
    runs = [load_run(e.path) for e in shipped_runs("synthetic")[:3]]
    comp = compare_runs(runs, bundle)
    assert comp.ids == [r.run_id for r in runs] and not comp.unavailable
    metrics = comp.metrics(B=200).set_index(["run", "metric"])
    for run in runs:
        recorded = run.metrics.test.model
        assert metrics.loc[(run.run_id, "mae_days"), "estimate"] == pytest.approx(recorded.mae_days, abs=1e-6)
        lo, hi = metrics.loc[(run.run_id, "mae_days"), ["lo", "hi"]]
        assert lo < recorded.mae_days < hi
    calibration = comp.calibration()
    at90 = calibration[calibration["nominal"] == 0.9].set_index("run")["observed"]
    for run in runs:  # recomputing the interval at 90 % gives the stored interval's coverage
        assert at90[run.run_id] == pytest.approx(run.metrics.test.model.interval_coverage, abs=0.004)
    top = comp.disagreements(runs[0].run_id, runs[1].run_id, 5)
    assert list(top["difference (days)"]) == sorted(top["difference (days)"], reverse=True)


def test_a_plus_typed_into_a_link_still_finds_the_run():
    """'+' in a hand-typed URL arrives as a space; the run is still found, and the links the app
    writes encode it."""
    from types import SimpleNamespace

    from lemof.runs.catalog import run_id_from_link
    from ui.context import case_link

    ids = ["synthetic-gru+resnet1d", "synthetic-gbm"]
    assert run_id_from_link("synthetic-gru resnet1d", ids) == "synthetic-gru+resnet1d"
    assert run_id_from_link("synthetic-gbm", ids) == "synthetic-gbm"
    assert run_id_from_link("nonsense", ids) == "nonsense"
    ctx = SimpleNamespace(cohort=SimpleNamespace(key="synthetic"))
    assert case_link(ctx, "synthetic-gru+resnet1d", 30000001) == "./?cohort=synthetic&run=synthetic-gru%2Bresnet1d&stay=30000001"
