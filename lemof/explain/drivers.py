"""The input drivers of one prediction, in words and in days that add up.

From Integrated Gradients against a reference population (``input_attribution.Background``):
on the log1p(days) scale the attributions ``a_i`` add up to f − f_ref (+ captum's integration
error δ), with f the stay's prediction and f_ref the mean prediction of the reference stays. The
reference is shown as a prediction in days, expm1(f_ref) ("a typical stay of this cohort").

A driver is one input of the stay, and one of four kinds:

- ``value``: an EHR variable that was measured in the window — its value channels over all hours
  (the measured and carried-forward values against those of the reference stays);
- ``not measured``: an EHR variable never measured in the window — all its channels (its value
  channel then holds "the training mean", its mask "not observed");
- ``static``: a static fact (age, sex, ...);
- ``signal``: the biosignal (only when the stay has one: without, the reference stays have it
  switched off too and it gets no attribution).

The mask and time-since-last channels of a *measured* variable (when and how often it was
measured) are not a driver of their own; they count in "everything else".

Days: every attribution is multiplied by the same factor, the secant slope of expm1 between
f_ref and f,

    s = (expm1(f) − expm1(f_ref)) / (f − f_ref)      (→ exp(f) as f → f_ref)

so effect_i = s · a_i. s is positive and finite whatever the sum of the attributions (no sign
flips when Σa ≈ 0, unlike scaling by (expm1(f) − expm1(f_ref)) / Σa), and the effects of all
inputs add up to expm1(f) − expm1(f_ref) + s·δ. "Everything else" is the prediction − the
reference − the shown effects: the inputs not shown, the timing of measurements, and −s·δ (the
integration error, reported). So reference + shown + everything else = the prediction, exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.explain.input_attribution import InputAttribution

MIN_EFFECT_DAYS = 0.05  # an input below this is not named as a driver


@dataclass
class Driver:
    kind: str  # value | not measured | static | signal
    name: str  # display name of the input
    attribution: float  # log1p-days (sum of its Integrated Gradients)
    effect_days: float  # s * attribution, see the module docstring
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.name, "kind": self.kind, "effect_days": self.effect_days, "text": self.text}


@dataclass
class Drivers:
    reference_description: str
    reference_days: float  # expm1(mean log1p prediction of the reference stays)
    items: list[Driver]
    rest_days: float  # everything else: los_days - reference_days - sum(items)
    los_days: float  # the prediction, days
    slope: float  # s: days per log1p-day
    integration_error_days: float  # s * delta, inside rest_days
    candidates: list[Driver] = field(default_factory=list)  # every input, largest |effect| first

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    @property
    def rest_shown_days(self) -> float:
        """"Everything else" as shown to one decimal: what makes the *shown* (rounded) numbers add
        up to the shown prediction; it differs from ``rest_days`` by rounding only (< 0.05 d per
        shown number)."""
        shown = round(self.reference_days, 1) + sum(round(d.effect_days, 1) for d in self.items)
        return round(round(self.los_days, 1) - shown, 1)

    def sum_text(self) -> str:
        """"2.6 d typical + 1.2 + … − 0.3 everything else = 4.4 d": the shown numbers add up."""
        parts = [f"{self.reference_days:.1f} d typical"] + [f"{'+' if d.effect_days >= 0 else '−'} {abs(d.effect_days):.1f}" for d in self.items]
        rest = f"{'+' if self.rest_shown_days >= 0 else '−'} {abs(self.rest_shown_days):.1f} everything else"
        return " ".join(parts + [rest]) + f" = {self.los_days:.1f} d"

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": {"description": self.reference_description, "los_days": self.reference_days},
            "items": [d.to_dict() for d in self.items],
            "rest_days": self.rest_days,
            "los_days": self.los_days,
            "days_per_log1p_day": self.slope,
            "integration_error_days": self.integration_error_days,
        }


def secant_slope(f: float, f_ref: float) -> float:
    """(expm1(f) − expm1(f_ref)) / (f − f_ref), exp(f) in the limit."""
    d = f - f_ref
    if abs(d) < 1e-9:
        return math.exp(f)
    return (math.expm1(f) - math.expm1(f_ref)) / d


def _effect_words(effect: float) -> str:
    verb = "lengthened" if effect > 0 else "shortened"
    return f"{verb} the predicted stay by about {abs(effect):.1f} d" if abs(effect) >= 0.05 else f"{verb} the predicted stay slightly (< 0.05 d)"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def input_drivers(
    attr: InputAttribution, bundle: CohortBundle, k: int = 5, sig_label: str = "ECG", *, los_days: float | None = None, min_effect_days: float = MIN_EFFECT_DAYS
) -> Drivers:
    """The (at most) ``k`` inputs with the largest |effect| of at least ``min_effect_days``, each
    with a sentence, the reference and everything else; ``los_days`` is the prediction shown
    (default expm1 of the attributed output)."""
    row = bundle.row_of(attr.stay_id)
    f, f_ref = attr.output, attr.baseline_output
    s = secant_slope(f, f_ref)
    meta = {m["name"]: m for m in bundle.features["ehr"]["features"]}
    values = np.asarray(bundle.ehr_values[row], dtype=float)  # (T, F)
    mask = np.asarray(bundle.ehr_mask[row]).astype(bool)
    names = bundle.ehr_feature_names
    step_h = bundle.ehr_step_hours
    value_attr = np.asarray(attr.ehr_value if attr.ehr_value else attr.ehr)  # (F, T)
    missing_attr = np.asarray(attr.ehr_missing) if attr.ehr_missing else np.zeros_like(value_attr)
    window_h = len(attr.ehr_hours) * step_h
    out: list[Driver] = []
    for j, name in enumerate(attr.ehr_features):
        m = meta.get(name, {"label": name, "unit": ""})
        label, unit = m.get("label", name), (m.get("unit") or "").strip()
        u = f" {unit}" if unit else ""
        col = names.index(name)
        seen = np.flatnonzero(mask[:, col])
        if len(seen) == 0:
            a = float(value_attr[j].sum() + missing_attr[j].sum())
            e = s * a
            out.append(Driver("not measured", label, a, e, f"{label} not measured in the first {window_h:g} h {_effect_words(e)}."))
            continue
        a = float(value_attr[j].sum())
        e = s * a
        t = int(np.argmax(np.abs(value_attr[j])))
        prior = seen[seen <= t]
        h = prior[-1] if len(prior) else seen[0]
        when = f"at hour {h * step_h:g}" if h == t or not len(prior) else f"at hour {h * step_h:g}, carried to hour {t * step_h:g}"
        n_seen = len(seen)
        out.append(Driver("value", label, a, e, f"{label} {_fmt(values[h, col])}{u} ({when}; measured {n_seen}×) {_effect_words(e)}."))
    static_row = bundle.stays.iloc[row]
    for name, a in attr.static.items():
        value = static_row.get(name)
        e = s * float(a)
        shown = f"{name.replace('_', ' ').capitalize()} {_fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value}"
        out.append(Driver("static", name.replace("_", " "), float(a), e, f"{shown} {_effect_words(e)}."))
    if attr.sig is not None:
        sig = np.asarray(attr.sig)  # (C, L')
        a = float(sig.sum())
        seconds = np.asarray(attr.sig_seconds)
        n_seg = max(1, min(10, sig.shape[1]))
        edges = np.linspace(0, sig.shape[1], n_seg + 1).astype(int)
        seg = np.array([sig[:, lo:hi].sum() for lo, hi in zip(edges[:-1], edges[1:])])
        top = int(np.argmax(np.abs(seg)))
        lo, hi = seconds[edges[top]], seconds[min(edges[top + 1], len(seconds) - 1)]
        in_hours = seconds.max() > 3600
        span = f"hours {lo / 3600:.0f}–{hi / 3600:.0f}" if in_hours else f"{lo:.1f}–{hi:.1f} s"
        per_channel = np.abs(sig[:, edges[top] : edges[top + 1]]).sum(axis=1)
        leads = [attr.sig_channels[i] for i in np.argsort(-per_channel)[:2]]
        e = s * a
        out.append(Driver("signal", sig_label, a, e, f"The {sig_label}, mostly {span} ({'leads' if not in_hours else 'series'} {', '.join(leads)}), {_effect_words(e)}."))
    out.sort(key=lambda d: -abs(d.effect_days))
    shown = [d for d in out if abs(d.effect_days) >= min_effect_days][:k]
    total = float(los_days) if los_days is not None else math.expm1(f)
    reference_days = math.expm1(f_ref)
    rest = total - reference_days - sum(d.effect_days for d in shown)
    return Drivers(
        reference_description=attr.reference, reference_days=reference_days, items=shown, rest_days=rest, los_days=total,
        slope=s, integration_error_days=s * attr.delta, candidates=out,
    )


def allocation_note(drivers: Drivers) -> str:
    """How the days were allocated, in one paragraph (the page's caption, the report's note)."""
    return (
        f"Reference: {drivers.reference_description}, {drivers.reference_days:.1f} d. From Integrated Gradients from each reference stay to "
        f"this one, averaged; on the log1p(days) scale they add up to the prediction minus the reference. Each is turned into days with one "
        f"factor, {drivers.slope:.2f} d per log1p-day (the slope of expm1 between the reference and the prediction), so the effects add up. "
        f"A measured variable counts through its values; one never measured counts as \"not measured\". Everything else "
        f"({drivers.rest_days:+.2f} d) holds the inputs not named, when the named variables were measured, and the integration error "
        f"({-drivers.integration_error_days:+.3f} d). Inputs under {MIN_EFFECT_DAYS} d are not named."
    )
