"""The input drivers of one prediction, in words, from its Integrated Gradients.

A driver is one input of the stay: an EHR variable (all its hours together), a static fact, or
the biosignal. Its attribution ``a`` is the sum of its Integrated Gradients on the log1p(days)
scale, where they add up to prediction − baseline prediction. The effect in days is the change
of the predicted LOS if that attribution were taken away:

    effect_days = expm1(f) − expm1(f − a)      (f: the prediction on log1p(days))

so "lengthened the predicted stay by about 0.6 d" means the prediction would be 0.6 d shorter
without it — measured against Integrated Gradients' baseline: every value at its training mean,
nothing observed, no biosignal deflection. Because the scale is not linear, these day effects do not add up exactly; the
log1p attributions do. The sentence names the value and the hour that mattered most (the
carried-forward value when the variable was not measured at that hour).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.explain.input_attribution import InputAttribution


@dataclass
class Driver:
    kind: str  # ehr | static | signal
    name: str  # display name
    attribution: float  # log1p-days (sum of IG)
    effect_days: float  # expm1(f) - expm1(f - attribution)
    text: str


def _days(f: float, a: float) -> float:
    return math.expm1(f) - math.expm1(f - a)


def _effect_words(effect: float) -> str:
    verb = "lengthened" if effect > 0 else "shortened"
    return f"{verb} the predicted stay by about {abs(effect):.1f} d" if abs(effect) >= 0.05 else f"{verb} the predicted stay slightly (< 0.05 d)"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def input_drivers(attr: InputAttribution, bundle: CohortBundle, k: int = 5, sig_label: str = "ECG") -> list[Driver]:
    """The ``k`` inputs with the largest |attribution|, each with a sentence."""
    row = bundle.row_of(attr.stay_id)
    f = attr.output
    meta = {m["name"]: m for m in bundle.features["ehr"]["features"]}
    values = np.asarray(bundle.ehr_values[row], dtype=float)  # (T, F)
    mask = np.asarray(bundle.ehr_mask[row]).astype(bool)
    names = bundle.ehr_feature_names
    step_h = bundle.ehr_step_hours
    ehr = np.asarray(attr.ehr)  # (F, T)
    drivers: list[Driver] = []
    for j, name in enumerate(attr.ehr_features):
        a = float(ehr[j].sum())
        t = int(np.argmax(np.abs(ehr[j])))
        m = meta.get(name, {"label": name, "unit": ""})
        label, unit = m.get("label", name), (m.get("unit") or "").strip()
        col = names.index(name)
        seen = np.flatnonzero(mask[: t + 1, col])
        u = f" {unit}" if unit else ""
        if len(seen) == 0:
            what = f"{label} (not yet measured at hour {t * step_h:g}, the hour that weighed most)"
        elif seen[-1] == t:
            what = f"{label} (most at hour {t * step_h:g}: {_fmt(values[t, col])}{u})"
        else:
            h = seen[-1]
            what = f"{label} (most at hour {t * step_h:g}: {_fmt(values[h, col])}{u}, measured at hour {h * step_h:g})"
        effect = _days(f, a)
        drivers.append(Driver("ehr", label, a, effect, f"{what} {_effect_words(effect)}."))
    static_row = bundle.stays.iloc[row]
    for name, a in attr.static.items():
        value = static_row.get(name)
        effect = _days(f, float(a))
        shown = f"{name.replace('_', ' ').capitalize()} {_fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value}"
        drivers.append(Driver("static", name.replace("_", " "), float(a), effect, f"{shown} {_effect_words(effect)}."))
    if attr.sig is not None:
        sig = np.asarray(attr.sig)  # (C, L')
        a = float(sig.sum())
        seconds = np.asarray(attr.sig_seconds)
        n_seg = max(1, min(10, sig.shape[1]))
        edges = np.linspace(0, sig.shape[1], n_seg + 1).astype(int)
        seg = np.array([sig[:, s:e].sum() for s, e in zip(edges[:-1], edges[1:])])
        top = int(np.argmax(np.abs(seg)))
        lo, hi = seconds[edges[top]], seconds[min(edges[top + 1], len(seconds) - 1)]
        in_hours = seconds.max() > 3600
        span = f"hours {lo / 3600:.0f}–{hi / 3600:.0f}" if in_hours else f"{lo:.1f}–{hi:.1f} s"
        per_channel = np.abs(sig[:, edges[top] : edges[top + 1]]).sum(axis=1)
        leads = [attr.sig_channels[i] for i in np.argsort(-per_channel)[:2]]
        effect = _days(f, a)
        drivers.append(Driver("signal", sig_label, a, effect, f"The {sig_label}, mostly {span} ({'leads' if not in_hours else 'series'} {', '.join(leads)}), {_effect_words(effect)}."))
    drivers.sort(key=lambda d: -abs(d.attribution))
    return drivers[:k]
