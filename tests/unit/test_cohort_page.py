"""The computations behind the Cohort page (lemof.evaluation.cohort_view), on hand-made arrays and the shipped runs; the page itself is tested in tests/app/test_cohort_page.py."""

from __future__ import annotations

import numpy as np
import pytest

from testkit.paths import SHIPPED_RUN
from lemof import load_run, open_bundle
from lemof.evaluation.cohort_view import build_view
from lemof.evaluation.long_stay import prob_long_stay, validation_residuals
from lemof.evaluation.reliability import reliability_table

LOG1P_7 = float(np.log1p(7.0))


def test_probability_of_a_long_stay_from_known_residuals():
    # validation stays: two with the signal (residuals -0.5 and +0.5 are too few on their own →
    # all residuals are used), four without: residuals -1, 0, 0.2, 0.6 (log1p-days)
    final = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    residual = np.array([-0.5, 0.5, -1.0, 0.0, 0.2, 0.6])
    observed_days = np.expm1(final + residual)
    avail = np.array([True, True, False, False, False, False])
    res = validation_residuals(final, observed_days, avail, min_n=3)
    assert np.allclose(res[False], [-1.0, 0.0, 0.2, 0.6])
    assert np.allclose(res[True], np.sort(residual)), "too few with the signal: all residuals"
    # f = log1p(7) - 0.1: residuals above 0.1 exceed 7 days
    f = np.array([LOG1P_7 - 0.1, LOG1P_7 - 0.1, LOG1P_7 + 2.0, LOG1P_7 - 5.0])
    p = prob_long_stay(f, np.array([False, True, False, True]), res)
    assert p == pytest.approx([2 / 4, 3 / 6, 1.0, 0.0])
    # the definition, stay by stay: mean over i of [f + r_i > log1p(7)]
    assert p[1] == pytest.approx(np.mean(f[1] + residual > LOG1P_7))


def test_reliability_bins_count_every_stay_once():
    p = np.array([0.0, 0.05, 0.1, 0.55, 0.99, 1.0])
    y = np.array([0, 0, 1, 1, 1, 0])
    table = reliability_table(p, y)
    assert table["n"].sum() == len(p)
    assert table.loc[0, "n"] == 2 and table.loc[1, "n"] == 1 and table.loc[9, "n"] == 2
    assert table.loc[9, "mean_predicted"] == pytest.approx(0.995) and table.loc[9, "observed"] == pytest.approx(0.5)
    assert np.isnan(table.loc[3, "observed"])


def test_build_view_on_the_shipped_run(default_cohort):
    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    view = build_view(run, bundle, "test", "ECG")
    assert view.stored and view.n == len(bundle.rows("test"))
    assert view.stays["p_long"].between(0, 1).all()
    assert view.reliability["n"].sum() == view.n
    # the probability is monotone in the prediction within a pattern
    for avail in (True, False):
        part = view.stays[view.stays["sig_available"] == avail].sort_values("final")
        assert (np.diff(part["p_long"].to_numpy()) >= 0).all()
    assert view.overall["lo"] <= view.overall["mae_days"] <= view.overall["hi"]
    spread = view.level_spread.set_index("level")
    assert spread.loc[run.level_importance.selected["sig"], "selected"].all()
    assert (spread.loc[[l for l in spread.index if l.startswith("sig.")], "n"] == view.stays["sig_available"].sum()).all(), "absent modality: no |φ|"
    assert (spread["q05"] <= spread["median"]).all() and (spread["median"] <= spread["q95"]).all()


def test_interval_calibration_when_the_run_stores_what_it_needs(default_cohort):
    from lemof.plots.compare import calibration_figure
    from lemof.plots.style import alt_text

    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    # The shipped run stores the predictions with the biosignal hidden (docs/RUN_DIRECTORY.md),
    # which the interval calibration needs: the test uses them as they are, no stand-ins.
    needed = ["final_without_signal"] + [f"head_without_signal:{h.name}" for h in run.heads]
    assert set(needed) <= set(run.predictions.columns), "the shipped run stores its predictions without the biosignal"
    view = build_view(run, bundle, "test")
    table = view.interval_calibration
    assert len(table) >= 3 and table["observed"].between(0, 1).all() and (table["run"] == run.run_id).all()
    assert alt_text(calibration_figure(table, [run.run_id]))


def test_another_cohort_of_the_family_is_scored_by_the_network(tiny_cohort):
    run, bundle = load_run(SHIPPED_RUN), open_bundle(tiny_cohort)
    view = build_view(run, bundle, "test", "ECG")
    assert not view.stored and view.n == len(bundle.rows("test"))
    assert view.level_spread is None and view.head_spread is None
    assert "stored only for the cohort" in view.notes["levels"] and "stored only for the cohort" in view.notes["heads"]
    assert view.stays["p_long"].between(0, 1).all() and view.reliability["n"].sum() == view.n
    assert view.residual_counts["val_with"] + view.residual_counts["val_without"] == len(bundle.rows("val"))
    for _, part in view.subgroups.groupby("category"):
        assert part["n"].sum() == view.n


@pytest.mark.parametrize("split", ["test", "all"])
def test_the_mae_interval_is_the_same_on_the_compare_and_cohort_pages(default_cohort, split):
    from lemof.evaluation.compare import compare_runs

    run, bundle = load_run(SHIPPED_RUN), open_bundle(default_cohort)
    overall = build_view(run, bundle, split, "ECG").overall
    compared = compare_runs([run], bundle, split).metrics().set_index(["run", "metric"]).loc[(run.run_id, "mae_days")]
    # the same resamples (one seed, one B) and the same arithmetic (stats.bootstrap_mean_ci of |error|)
    for key in ("estimate", "lo", "hi"):
        assert compared[key] == pytest.approx(overall["mae_days" if key == "estimate" else key], abs=1e-12, rel=0)
