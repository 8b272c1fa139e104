"""The explainers: which explanations a run has, each one call returning one type.

Additive explainers (``attribute(stay) -> Attribution``, ``lemof.explain.attribution``):

| name | applies to | explains | unit |
|---|---|---|---|
| ``drivers`` | every run with a network (LeMoF, its ablations, the fusion baselines) | the predicted LOS | days |
| ``tree_shap`` | the tabular peer (gbm) | its prediction | log1p-days |
| ``level_shap`` | LeMoF | the level stacker's output (stage 2's level-ranking model; not an input of the prediction) | log1p-days |
| ``heads`` | LeMoF | the meta-learner's output (the prediction) | log1p-days |

Views that are not additive (``view(stay) -> a typed result``, ``lemof.explain.views``):
``similar`` (nearest training stays in LeMoF's fused representation), ``attention``
(cross-modal attention maps), ``concepts`` (what each encoder level encodes across the cohort).

``explainers_for(run)`` and ``views_for(run)`` are the one place that knows which of these a
kind of run has; the case page, the case report and ``python -m lemof explain`` build their
sections from those lists in that order (reasons first, the model's internals last).

Each explainer states the completeness bound of its ``Attribution`` (``tolerance``): the
floating-point error of its arithmetic, checked for every explainer and run kind by
``tests/unit/test_explainers.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lemof.explain.attribution import FLOAT32_EPS, FLOAT64_EPS, Attribution, summation_bound
from lemof.explain.drivers import drivers_attribution
from lemof.explain.views import VIEWS

if TYPE_CHECKING:
    from lemof.runs.run import Run

# An explainer reads a ``lemof.explain.results.StayResults`` (which imports this module, so it is
# named, not imported, here): its prediction and the raw parts (``level_parts``, ``tabular``,
# ``input_gradients``) it computes once.
StayResults = Any

# Two float32 evaluations of the same network on the same inputs (one batched at training, one
# now; or captum's forward and the stored one) differ by the rounding of its layers. A layer's
# output carries about eps32 relative error per accumulation; the networks here are at most a
# few layers of width <= 256, and the error is relative to the magnitudes involved. 64 eps32 per
# unit of magnitude covers the measured gaps on every shipped run (largest 2e-6 log1p-days on
# magnitudes ~2, i.e. ~8 eps32) with an eightfold margin.
NETWORK_ROUNDING = 64 * FLOAT32_EPS


class Explainer:
    """An additive explainer: ``applies(run)``, ``attribute(stay) -> Attribution``."""

    name = ""
    title = ""
    on_request = False  # True: runs the network per stay (seconds): computed when a reader asks
    peculiar = False  # True: explains one kind of model only, so its absence is not worth a note

    def applies(self, run: "Run") -> bool:
        raise NotImplementedError

    def attribute(self, stay: StayResults) -> Attribution:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<explainer {self.name}>"


class InputDrivers(Explainer):
    """The prediction in days from a typical stay's: one part per input of the stay (EHR
    variables, static facts, the biosignal) from Integrated Gradients against the reference
    population (``lemof.explain.drivers``)."""

    name = "drivers"
    title = "Input drivers"
    on_request = True

    def applies(self, run: "Run") -> bool:
        return run.spec is not None  # every run with a network

    def attribute(self, stay: StayResults) -> Attribution:
        stored = stay.stored_reasons.get("drivers")  # precomputed for the run's own cohort (lemof.explain.stay_reasons)
        if stored is not None:
            return Attribution.from_dict(stored)
        # An ECG is split into its findings where the run has their effects (lemof.explain.ecg_effects), else it stays one part.
        effects = stay.run.ecg_effects() if stay.has_signal and stay.context.signal_kind == "ecg" else None
        return drivers_attribution(stay.input_gradients, stay.bundle, stay.sig_label, los_days=stay.prediction.los_days, network_rounding=NETWORK_ROUNDING,
                                   ecg=stay.ecg if effects is not None else None, ecg_effects=effects)


class TreeShap(Explainer):
    """The tabular peer's prediction from its trees' expected output: exact TreeSHAP values of
    the per-stay summary features (LightGBM ``pred_contrib``, float64)."""

    name = "tree_shap"
    title = "TreeSHAP of the summary features"
    peculiar = True

    def applies(self, run: "Run") -> bool:
        return run.kind == "tabular"

    def attribute(self, stay: StayResults) -> Attribution:
        t = stay.tabular
        schema = stay.run.summaries
        names = schema.names
        phi = [float(v) for v in t["phi"][:-1]]
        base, output = float(t["phi"][-1]), float(t["final"])
        x = t["x"]
        return Attribution(
            method=self.name, title=self.title, explains="the prediction (log1p of days)", unit="log1p-days",
            base=base, base_label="the trees' average output over the training stays", output=output,
            names=[schema.label(n) for n in names], values=phi, groups=[schema.modality(n) for n in names],
            # LightGBM adds the F + 1 float64 numbers of a row; the prediction adds the same leaf values
            tolerance=summation_bound(FLOAT64_EPS, [base, output, *phi], len(phi) + 2) * 4,
            detail={"features": list(names), "inputs": [None if not np.isfinite(v) else float(v) for v in x]},
            note="TreeSHAP (path-dependent, exact for the trees; LightGBM pred_contrib): base value + contributions = prediction, on log1p(days).",
        )


class LevelShap(Explainer):
    """The level stacker's output from its base value: exact Shapley values of the encoder
    levels (``lemof.explain.level_shap``), one part per level; the biosignal's levels are
    absent (None) for a stay without one. The level stacker is stage 2's model that ranked the
    levels; the meta-learner does not read it, so this explains a number other than the prediction."""

    name = "level_shap"
    title = "Level SHAP"

    def applies(self, run: "Run") -> bool:
        return run.is_lemof

    def attribute(self, stay: StayResults) -> Attribution:
        p = stay.level_parts
        imp = stay.run.level_importance
        n_ehr = len(imp.levels["ehr"])
        phi = np.asarray(p["phi"], dtype=float).copy()
        if not p["has_signal"]:
            phi[n_ehr:] = np.nan  # absent modality: never zero evidence
        levels = list(imp.levels["ehr"]) + list(imp.levels["sig"])
        values = [None if not np.isfinite(v) else float(v) for v in phi]
        selected = set(imp.selected["ehr"]) | set(imp.selected["sig"])
        magnitudes = [p["base"], p["stacker_output"], *[abs(v) for v in values if v is not None]]
        return Attribution(
            method=self.name, title=self.title, explains="the level stacker's estimate (log1p of days): the stage-2 model that ranked the levels during training, not an input of the prediction (weight 0)",
            unit="log1p-days", base=float(p["base"]), base_label="the level stacker's estimate for an average stay (every level at its training mean)",
            output=float(p["stacker_output"]),
            names=levels, values=values, groups=["ehr"] * n_ehr + ["sig"] * (len(levels) - n_ehr),
            # phi sums to v(all) - v(base) to float64 rounding over 2^P coalitions; v(all) and the
            # stacker output are two float32 evaluations of the stacker
            tolerance=NETWORK_ROUNDING * sum(magnitudes) + summation_bound(FLOAT64_EPS, magnitudes, 1 << len(levels)),
            detail={
                "global_importance": [float(v) for v in imp.importance["ehr"]] + [float(v) for v in imp.importance["sig"]],
                "selected": [k in selected for k in levels],
                "origin": p["origin"],
            },
            note="Exact Shapley values of the encoder levels for the level stacker (all coalitions enumerated), levels outside a coalition at "
                 "the training mean. The level stacker ranked the levels in stage 2; the prediction does not use its output.",
        )


class HeadContributions(Explainer):
    """The prediction (the meta-learner's output) from its bias: each head's weight times its
    prediction, w_i·y_i; a head of an absent modality is absent (None)."""

    name = "heads"
    title = "Head contributions"

    def applies(self, run: "Run") -> bool:
        return run.is_lemof

    def attribute(self, stay: StayResults) -> Attribution:
        p = stay.level_parts
        heads = stay.run.spec.heads
        contrib = np.asarray(p["contributions"], dtype=float)
        values = [None if not np.isfinite(v) else float(v) for v in contrib]
        head_preds = [None if v is None else float(y) for v, y in zip(values, p["heads"])]
        magnitudes = [p["bias"], p["final"], *[abs(v) for v in values if v is not None]]
        return Attribution(
            method=self.name, title=self.title, explains="the prediction (log1p of days): the final stage (meta-learner) adds each head's own prediction times its weight to a starting value",
            unit="log1p-days", base=float(p["bias"]), base_label="the starting value (the meta-learner's bias, a constant)", output=float(p["final"]),
            names=[h.name for h in heads], values=values, groups=[h.kind for h in heads],
            # bias + Σ w_i y_i in float32, each number stored rounded to float32
            tolerance=summation_bound(FLOAT32_EPS, magnitudes, len(values) + 2),
            detail={"head_predictions": head_preds, "weights": [None if v is None or y in (None, 0.0) else v / y for v, y in zip(values, head_preds)], "origin": p["origin"]},
            note="Each head predicts the stay on its own (y_i); the meta-learner weighs them (w_i >= 0) and adds the weighted parts to a "
                 "starting value (bias) on the log scale: log1p(prediction in days) = bias + Σ w_i·y_i. A head with weight 0 is not used.",
        )


ADDITIVE: tuple[Explainer, ...] = (InputDrivers(), TreeShap(), LevelShap(), HeadContributions())


def explainers_for(run: "Run") -> list[Explainer]:
    """The additive explainers that apply to ``run``, reasons first."""
    return [e for e in ADDITIVE if e.applies(run)]


def unavailable(run: "Run") -> str:
    """One sentence naming the explanations that do not apply to ``run`` and why ("" if all do)."""
    missing = [e.title for e in ADDITIVE if not e.applies(run) and not e.peculiar] + [v.title for v in VIEWS if not v.applies(run)]
    if not missing:
        return ""
    return (
        f"Not available for {run.run_id} ({run.fusion}): {', '.join(missing)}. Level SHAP, the head contributions, the cross-modal attention and the similar stays explain LeMoF's levels, heads "
        "and fused representation; the input drivers need a network."
    )


def explainer(name: str) -> Explainer:
    for e in ADDITIVE:
        if e.name == name:
            return e
    raise KeyError(f"no explainer {name!r}; known: {', '.join(e.name for e in ADDITIVE)}")


__all__ = ["ADDITIVE", "Explainer", "HeadContributions", "InputDrivers", "LevelShap", "TreeShap", "explainer", "explainers_for", "unavailable"]
