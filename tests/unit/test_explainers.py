"""One explainer interface: every additive explanation of every kind of run is complete.

For each fusion (LeMoF, its ablations, every fusion baseline, the gbm peer) trained on the tiny
cohort, and stays with and without a biosignal, on the cohort the run was trained on (stored
parts read) and on another draw (computed now), every explainer that applies returns an
``Attribution`` with ``base + Σ values + residual = output`` within the bound the explainer states
(the floating-point error of its arithmetic, see ``lemof.explain.explainers``). The bound itself
must be small against the numbers it bounds, so the check cannot pass by a loose tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lemof import CohortResults, load_run, open_bundle
from lemof.errors import RunError
from lemof.explain.attribution import Attribution
from lemof.explain.explainers import ADDITIVE, explainers_for, unavailable
from lemof.explain.views import VIEWS, views_for
from lemof.models.fusions import FUSIONS

EXPECTED = {  # which explanations a kind of run has: the only place a test names them per kind
    "lemof": {"drivers", "level_shap", "heads"},
    "baseline": {"drivers"},
    "tabular": {"tree_shap"},
}


def _stays(bundle, n_each: int = 1) -> list[int]:
    stays = bundle.stays
    test = stays[stays["split"] == "test"]
    return [int(s) for s in test[test["has_signal"]]["stay_id"].head(n_each)] + [int(s) for s in test[~test["has_signal"]]["stay_id"].head(n_each)]


def _check_complete(attr: Attribution) -> None:
    scale = abs(attr.base) + sum(abs(v) for v in attr.values if v is not None) + abs(attr.output)
    assert math.isfinite(attr.completeness_gap)
    assert abs(attr.completeness_gap) <= attr.tolerance, (
        f"{attr.method}: base {attr.base:.6f} + Σ {attr.total:+.6f} + residual {attr.residual:+.6f} = "
        f"{attr.base + attr.total + attr.residual:.6f} ≠ output {attr.output:.6f} (gap {attr.completeness_gap:.2e} > bound {attr.tolerance:.2e})"
    )
    assert 0 < attr.tolerance <= 1e-4 * max(scale, 1.0), f"{attr.method}: the bound {attr.tolerance:.2e} is not a floating-point bound on {scale:.3f}"


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_explainer_of_every_run_kind_is_complete(fusion, fusion_runs, tiny_cohort, other_draw):
    run = load_run(fusion_runs[fusion])
    names = {e.name for e in explainers_for(run)}
    assert names == EXPECTED[run.kind], f"{fusion} ({run.kind}) has {sorted(names)}"
    for path in (tiny_cohort, other_draw):  # stored parts read on its own cohort, computed on another
        bundle = open_bundle(path)
        cohort = CohortResults(run, bundle)
        for sid in _stays(bundle):
            stay = cohort.stay(sid)
            for e in stay.explainers:
                attr = stay.attribute(e.name)
                assert attr.method == e.name
                _check_complete(attr)
                if e.name == "drivers":  # the prediction shown; the residual is IG's own error (its size: test_input_attribution)
                    assert attr.output == pytest.approx(stay.prediction.los_days, abs=1e-12)
                    assert attr.residual == pytest.approx(-attr.detail["integration_error_days"], abs=1e-12)
                if attr.unit == "log1p-days" and e.name in ("heads", "tree_shap"):  # they explain the prediction itself
                    assert math.expm1(attr.output) == pytest.approx(stay.prediction.los_days, rel=1e-5, abs=1e-5)
            not_applying = [x for x in ADDITIVE if not x.applies(run)]
            for x in not_applying:
                with pytest.raises(RunError, match="does not explain"):
                    stay.attribute(x.name)


def test_every_explainer_and_view_applies_to_some_run_kind(fusion_runs):
    runs = [load_run(fusion_runs[f]) for f in ("lemof", "late", "gbm")]
    covered = {e.name for r in runs for e in explainers_for(r)}
    assert covered == {e.name for e in ADDITIVE}
    assert {v.name for r in runs for v in views_for(r)} == {v.name for v in VIEWS}
    assert unavailable(runs[0]) == ""  # LeMoF: nothing missing worth a note
    assert "Level SHAP" in unavailable(runs[1]) and "Input drivers" not in unavailable(runs[1])
    assert "Input drivers" in unavailable(runs[2])


def test_absent_modality_is_none_never_zero(tiny_run, tiny_cohort):
    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    stays = bundle.stays
    sid = int(stays[(stays["split"] == "test") & ~stays["has_signal"]]["stay_id"].iloc[0])
    stay = CohortResults(run, bundle).stay(sid)
    shap = stay.attribute("level_shap")
    assert all(v is None for v, g in zip(shap.values, shap.groups) if g == "sig")
    assert all(v is not None and np.isfinite(v) for v, g in zip(shap.values, shap.groups) if g == "ehr")
    heads = stay.attribute("heads")
    assert any(v is None for v in heads.values)
    assert stay.attention is None and stay.attention_received is None
