"""The case review's first screen in words, one object for the page and the case report.

What a clinician reads first about a stay, in this order: who the patient is and when the
prediction is made; the predicted LOS with its interval and what LOS means in this cohort; the
reasons — a typical stay's prediction plus the top inputs in days, which add up to the
prediction; the ECG's measurements and findings; the similar stays in one sentence.

The reasons come from the run's input drivers (Integrated Gradients, in days: ``drivers``) or,
for the tabular peer, from its TreeSHAP values turned into days with the same one factor (the
secant slope of expm1 between the base and the prediction, ``drivers.secant_slope``), so both
add up to the prediction in days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lemof.data.sources import source_info
from lemof.explain.attribution import Attribution
from lemof.explain.drivers import rest_shown_days, secant_slope, shown, summary_text

N_REASONS = 5


@dataclass(frozen=True)
class Reason:
    text: str  # "Heart rate 115 bpm (at hour 20; measured 24×) lengthened the predicted stay by about 0.5 d."
    days: float  # its effect in days
    kind: str  # the driver's kind (value, not measured, static, signal, ecg_finding)


@dataclass(frozen=True)
class Reasons:
    """The prediction in days as a starting point plus the named inputs plus everything else."""

    start_days: float
    start_text: str  # what the starting point is, in words
    items: list[Reason]
    rest_days: float  # everything else, rounded so that the shown numbers add up
    total_days: float
    method: str  # "Integrated Gradients" or "TreeSHAP"
    note: str  # how the days were allocated, one paragraph
    sum_text: str = ""

    def lines(self) -> list[str]:
        """The reasons as numbered lines (Markdown-free text), the sum last."""
        out = [f"Starting point — {self.start_text}: {self.start_days:.1f} d."]
        out += [f"{n}. {r.text}" for n, r in enumerate(self.items, 1)]
        out.append(f"{len(self.items) + 1}. Everything else: {self.rest_days:+.1f} d.")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"start_days": self.start_days, "start_text": self.start_text, "rest_days": self.rest_days, "total_days": self.total_days,
                "method": self.method, "sum_text": self.sum_text,
                "items": [{"text": r.text, "days": r.days, "kind": r.kind} for r in self.items]}


def signal_words(sig_label: str) -> str:
    """"an ECG", "bedside data": the biosignal as an object of "with"."""
    return "an ECG" if sig_label == "ECG" else f"{sig_label.lower()} data"


def signal_noun(sig_label: str) -> str:
    """"ECG", "bedside series": the biosignal as a clinician names it in a sentence."""
    return sig_label if sig_label.isupper() else f"{sig_label.lower()} series"


def start_text(has_signal: bool, sig_label: str, n_reference: int | None) -> str:
    """The starting point in words: the reference population of the drivers."""
    n = f"{n_reference} " if n_reference else ""
    which = f"with {signal_words(sig_label)}" if has_signal else f"(their {signal_noun(sig_label)} left out, as this stay has none)"
    return f"the model's average prediction for {n}random training stays {which}"


def _tree_shap_in_days(tree: Attribution, los_days: float) -> Attribution:
    """TreeSHAP (log1p-days) as days: each contribution times one factor, the secant slope of
    expm1 between the trees' base value and the prediction, so that they add up to the
    prediction in days (as the drivers do)."""
    s = secant_slope(tree.output, tree.base)
    inputs = tree.detail.get("inputs") or [None] * len(tree.names)
    values = [None if v is None else s * v for v in tree.values]
    texts = [summary_text(name, x, v or 0.0) for name, x, v in zip(tree.names, inputs, values)]
    return Attribution(
        method="tree_shap_days", title="TreeSHAP in days", explains="the predicted LOS", unit="days",
        base=math.expm1(tree.base), base_label="the trees' average output over the training stays", output=float(los_days),
        names=list(tree.names), values=values, groups=["value"] * len(values), texts=texts,
        residual=0.0, tolerance=s * tree.tolerance + 1e-9 * max(1.0, abs(los_days)),
        detail={"days_per_log1p_day": s, "findings": [None] * len(values)}, note=tree.note,
    )


def reasons(results, k: int = N_REASONS) -> Reasons | None:
    """The stay's reasons in days (None for a run with neither drivers nor TreeSHAP). Computes
    Integrated Gradients when they are not stored (~1 s on one core)."""
    names = {e.name for e in results.explainers}
    if "drivers" in names:
        d = results.attribute("drivers")
        n_ref = len(results.input_gradients.reference_stays or []) if results.computed("input_gradients") else None
        n_ref = n_ref or _reference_count(d)
        start, method = start_text(results.has_signal, results.sig_label, n_ref), "Integrated Gradients"
    elif "tree_shap" in names:
        d = _tree_shap_in_days(results.attribute("tree_shap"), results.prediction.los_days)
        start, method = "the trees' average prediction over the training stays", "TreeSHAP"
    else:
        return None
    idx = shown(d, k)
    items = [Reason(d.texts[i], float(d.values[i]), d.groups[i]) for i in idx]
    rest = rest_shown_days(d, k)
    parts = [f"{d.base:.1f} d"] + [f"{'+' if d.values[i] >= 0 else '−'} {abs(d.values[i]):.1f}" for i in idx]
    total = f"{' '.join(parts)} {'+' if rest >= 0 else '−'} {abs(rest):.1f} everything else = {d.output:.1f} d"
    head = "drivers" in names and results.run.tabular_head is not None  # LeMoF with its tabular (LightGBM) head
    how = (f"{method} over the network's inputs, and TreeSHAP over the summaries its tabular (LightGBM) head reads (each summary's part "
           "joins the variable it summarises)") if head else method
    note = (f"{how}: each input's effect is its share of the gap between the starting point and this prediction, turned into days "
            f"with one factor ({d.detail.get('days_per_log1p_day', 0):.2f} d per unit of the model's log scale) so that the effects add up. "
            "Everything else holds the inputs not named, when the named variables were measured and the method's integration error.")
    return Reasons(start_days=float(d.base), start_text=start, items=items, rest_days=float(rest), total_days=float(d.output),
                   method=method, note=note, sum_text=total)


def _reference_count(d: Attribution) -> int | None:
    """The number of reference stays named in the drivers' base label ("... for 32 training stays ...")."""
    words = d.base_label.split()
    for a, b in zip(words, words[1:]):
        if a.isdigit() and b.startswith(("training", "random")):
            return int(a)
    return None


def prediction_hours(bundle) -> float:
    """Hours after ICU admission at which the prediction is made: the end of the EHR window it reads."""
    return float(bundle.features["ehr"]["n_steps"] * bundle.ehr_step_hours)


def los_definition(bundle) -> str:
    """What LOS means in this cohort, in words (from the cohort family's registry)."""
    found = source_info(bundle.source).los_definition
    return found or "length of stay as the cohort defines it (its source does not say more)"
