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

A network with a tabular head (``InputAttribution.tabular``) adds one part per summary feature
(kind ``summary``): the head's TreeSHAP value times its meta weight, on log1p-days, turned into
days with the same factor s, so everything still adds up (the reference is then the reference
stays' prediction with that head at its trees' average output).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.data.display import fact_text, fmt_value
from lemof.ecg.findings import ecg_findings
from lemof.ecg.measure import EcgMeasurements
from lemof.explain.attribution import Attribution
from lemof.explain.bedside import channel_parts
from lemof.explain.input_attribution import InputAttribution
from lemof.explain.signal_where import attribution_peak

MIN_EFFECT_DAYS = 0.05  # an input below this is not named as a driver


def secant_slope(f: float, f_ref: float) -> float:
    """(expm1(f) − expm1(f_ref)) / (f − f_ref), exp(f) in the limit."""
    d = f - f_ref
    if abs(d) < 1e-9:
        return math.exp(f)
    return (math.expm1(f) - math.expm1(f_ref)) / d


def effect_words(effect: float) -> str:
    verb = "lengthened" if effect > 0 else "shortened"
    return f"{verb} the predicted stay by about {abs(effect):.1f} d" if abs(effect) >= 0.05 else f"{verb} the predicted stay slightly (< 0.05 d)"


DRIVER_GROUPS = ("value", "not measured", "static", "signal", "ecg_finding", "summary")  # "timing" (when a measured variable was measured) is never named


def summary_text(label: str, value: float | None, effect_days: float) -> str:
    """One summary feature's sentence, as the tabular peer's TreeSHAP in days and LeMoF's tabular
    head word it: "Heart rate (bpm): maximum 131 lengthened the predicted stay by about 0.3 d."."""
    shown_x = "never observed" if value is None else (f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}")
    return f"{label} {shown_x} {effect_words(effect_days)}."


def drivers_attribution(
    attr: InputAttribution, bundle: CohortBundle, sig_label: str = "ECG", *, los_days: float | None = None, network_rounding: float = 0.0,
    ecg: EcgMeasurements | None = None, ecg_effects: dict | None = None,
) -> Attribution:
    """The prediction in days as a typical stay's prediction plus one part per input of the stay
    (``DRIVER_GROUPS``, and one ``timing`` part per measured variable), each with a sentence, and
    the integration error as the residual. With ``ecg`` (the stay's ECG measured) and
    ``ecg_effects`` (the run's finding effects, ``lemof.explain.ecg_effects``), the ECG's part is
    split into its findings (AF pattern, wide QRS, ST deviation; kind ``ecg_finding``), each given
    β_k · (present − base rate), and the rest of the ECG; they add up to the ECG's whole part.
    Validated on the synthetic truth in ``benchmarks/bench_ecg_findings.py`` (docs/BENCHMARKS.md).
    ``los_days`` is the prediction shown (default expm1 of the attributed output); ``network_rounding`` the relative float32 rounding of the network
    (the stay's prediction and captum's forward are two evaluations of it)."""
    row = bundle.row_of(attr.stay_id)
    f, f_ref = attr.output, attr.reference_output
    s = secant_slope(f, f_ref)
    meta = {m["name"]: m for m in bundle.features["ehr"]["features"]}
    values = np.asarray(bundle.ehr_values[row], dtype=float)  # (T, F)
    mask = np.asarray(bundle.ehr_mask[row]).astype(bool)
    names = bundle.ehr_feature_names
    step_h = bundle.ehr_step_hours
    value_attr = np.asarray(attr.ehr_value if attr.ehr_value else attr.ehr)  # (F, T)
    missing_attr = np.asarray(attr.ehr_missing) if attr.ehr_missing else np.zeros_like(value_attr)
    window_h = len(attr.ehr_hours) * step_h
    parts: list[tuple[str, str, float, str]] = []  # (group, name, attribution in log1p-days, sentence)
    # The tabular head's TreeSHAP parts (each × its meta weight, log1p-days) join the variable they summarise, so a
    # clinician reads one effect per variable; the biosignal's summaries (and any other) stay parts of their own.
    tab_of_variable: dict[tuple[str, str], float] = {}
    tab_left: list[tuple[str, str, float | None, float]] = []  # (column, label, input, part)
    if attr.tabular is not None:
        tab = attr.tabular
        ehr_names, static_names = set(attr.ehr_features), set(attr.static)
        for col, label, x, a in zip(tab["names"], tab["labels"], tab["inputs"], tab["values"]):
            if a == 0.0:  # a summary no tree split on contributes nothing
                continue
            kind, _, rest = str(col).partition(":")
            variable = rest.rpartition(":")[0] if kind == "ehr" else rest.partition("=")[0]
            if (kind == "ehr" and variable in ehr_names) or (kind == "static" and variable in static_names):
                tab_of_variable[(kind, variable)] = tab_of_variable.get((kind, variable), 0.0) + float(a)
            else:
                tab_left.append((str(col), label, x, float(a)))
    for j, name in enumerate(attr.ehr_features):
        m = meta.get(name, {"label": name, "unit": ""})
        label = m.get("label", name)
        col = names.index(name)
        seen = np.flatnonzero(mask[:, col])
        via_tab = tab_of_variable.get(("ehr", name), 0.0)
        if len(seen) == 0:
            a = float(value_attr[j].sum() + missing_attr[j].sum()) + via_tab
            parts.append(("not measured", label, a, f"{label} not measured in the first {window_h:g} h {effect_words(s * a)}."))
            continue
        a = float(value_attr[j].sum()) + via_tab
        t = int(np.argmax(np.abs(value_attr[j])))
        prior = seen[seen <= t]
        h = prior[-1] if len(prior) else seen[0]
        when = f"at hour {h * step_h:g}" if h == t or not len(prior) else f"at hour {h * step_h:g}, carried to hour {t * step_h:g}"
        parts.append(("value", label, a, f"{label} {fmt_value(m, values[h, col])} ({when}; measured {len(seen)}×) {effect_words(s * a)}."))
        timing = float(missing_attr[j].sum())
        parts.append(("timing", f"when {label} was measured", timing, ""))
    static_row = bundle.stays.iloc[row]
    for name, a in attr.static.items():
        a = float(a) + tab_of_variable.get(("static", name), 0.0)
        value = static_row.get(name)
        fact = fact_text(bundle.source, name, value)  # as a clinician writes it (lemof.data.display)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        label, shown = fact if fact is not None else (name.replace("_", " ").capitalize(), "not recorded" if missing else str(value))
        parts.append(("static", label, float(a), f"{label}: {shown} — {effect_words(s * float(a))}."))
    bedside = attr.sig is not None and max(attr.sig_seconds) > 3600
    if bedside:  # a bedside channel's summaries join that channel's part
        channels = set(attr.sig_channels)
        for col, _, _, a in [t for t in tab_left if t[0].startswith("sig:") and t[0][4:].rpartition(":")[0] in channels]:
            tab_of_variable[("sig", col[4:].rpartition(":")[0])] = tab_of_variable.get(("sig", col[4:].rpartition(":")[0]), 0.0) + a
        tab_left = [t for t in tab_left if not (t[0].startswith("sig:") and t[0][4:].rpartition(":")[0] in channels)]
    for _, label, x, a in tab_left:  # the tabular head's parts on summaries of no EHR variable, static fact or bedside channel (an ECG's)
        parts.append(("summary", label, a, summary_text(label, x, s * a)))
    findings: list[str] = []
    if attr.sig is not None and ecg is not None and ecg_effects is not None:  # the ECG split into its findings (lemof.explain.ecg_effects)
        sig = np.asarray(attr.sig)  # (C, L')
        whole = float(sig.sum())
        named = 0.0
        for found in ecg_findings(ecg):
            if found.score is None or found.finding not in ecg_effects["beta"]:
                continue  # not measurable: its effect stays in the rest of the ECG
            a = float(ecg_effects["beta"][found.finding]) * (float(found.present) - float(ecg_effects["base_rate"][found.finding]))
            parts.append(("ecg_finding", f"{sig_label}: {found.text}", a, f"{sig_label}: {found.text} — {effect_words(s * a)}."))
            findings.append(found.finding)
            named += a
        where = attribution_peak(sig, np.asarray(attr.sig_seconds), list(attr.sig_channels))
        rest = whole - named
        parts.append(("signal", f"{sig_label}, the rest", rest,
                      f"The rest of the {sig_label} (what its findings do not explain; leads {' and '.join(where.leads)} weighed most) {effect_words(s * rest)}."))
    elif bedside:  # a bedside series: one part per channel, named by what it showed
        for ch, (name, a, text) in zip(attr.sig_channels, channel_parts(np.asarray(attr.sig), list(attr.sig_channels), bundle.signal_physical(row),
                                                                        bundle.source, list(bundle.signal_channels), np.asarray(attr.sig_seconds), sig_label)):
            a += tab_of_variable.get(("sig", ch), 0.0)
            parts.append(("signal", name, a, f"{text} — {effect_words(s * a)}."))
    elif attr.sig is not None:
        sig = np.asarray(attr.sig)  # (C, L')
        a = float(sig.sum())
        where = attribution_peak(sig, np.asarray(attr.sig_seconds), list(attr.sig_channels))  # the page's one answer (lemof.explain.signal_where)
        weighed = f"{'leads' if not where.in_hours else 'series'} {' and '.join(where.leads)} weighed most"
        parts.append(("signal", sig_label, a, f"The {sig_label} as a whole ({weighed}) {effect_words(s * a)}."))
    total = float(los_days) if los_days is not None else math.expm1(f)
    reference_days = math.expm1(f_ref)
    effects = [s * a for _, _, a, _ in parts]
    magnitudes = [abs(f), abs(f_ref), *[abs(a) for _, _, a, _ in parts]]
    return Attribution(
        method="drivers", title="Input drivers", explains="the predicted LOS", unit="days",
        base=reference_days, base_label=attr.reference, output=total,
        names=[p[1] for p in parts], values=effects, groups=[p[0] for p in parts], texts=[p[3] for p in parts],
        residual=-s * attr.delta,
        # the stay's prediction and captum's forward pass are two float32 evaluations of the network
        tolerance=s * network_rounding * sum(magnitudes) + 1e-9 * max(1.0, abs(total)),
        detail={"days_per_log1p_day": s, "integration_error_days": s * attr.delta, "method": attr.method,
                "findings": _finding_of_parts(parts, findings)},  # the ECG finding of each part, else None
        note=allocation_rule(s, tabular=attr.tabular is not None),
    )


def _finding_of_parts(parts: list, findings: list[str]) -> list[str | None]:
    """The ECG finding of each part (in the order they were added), None for the others."""
    it = iter(findings)
    return [next(it) if group == "ecg_finding" else None for group, *_ in parts]


def shown(drivers: Attribution, k: int = 5, min_effect_days: float = MIN_EFFECT_DAYS) -> list[int]:
    """The (at most) ``k`` inputs named as drivers: the largest |effect| of at least
    ``min_effect_days``, never a ``timing`` part."""
    order = sorted((i for i, g in enumerate(drivers.groups) if g in DRIVER_GROUPS), key=lambda i: -abs(drivers.values[i]))
    return [i for i in order if abs(drivers.values[i]) >= min_effect_days][:k]


def rest_days(drivers: Attribution, k: int = 5) -> float:
    """Everything else: the prediction − the reference − the named effects (the inputs not named,
    when the named variables were measured, and the integration error)."""
    return drivers.output - drivers.base - sum(drivers.values[i] for i in shown(drivers, k))


def rest_shown_days(drivers: Attribution, k: int = 5) -> float:
    """"Everything else" as shown to one decimal: what makes the *shown* (rounded) numbers add up
    to the shown prediction; it differs from ``rest_days`` by rounding only (< 0.05 d per shown
    number)."""
    total = round(drivers.base, 1) + sum(round(drivers.values[i], 1) for i in shown(drivers, k))
    return round(round(drivers.output, 1) - total, 1)


def sum_text(drivers: Attribution, k: int = 5) -> str:
    """"2.6 d typical + 1.2 + … − 0.3 everything else = 4.4 d": the shown numbers add up."""
    parts = [f"{drivers.base:.1f} d typical"] + [f"{'+' if drivers.values[i] >= 0 else '−'} {abs(drivers.values[i]):.1f}" for i in shown(drivers, k)]
    rest = rest_shown_days(drivers, k)
    return " ".join(parts + [f"{'+' if rest >= 0 else '−'} {abs(rest):.1f} everything else"]) + f" = {drivers.output:.1f} d"


def drivers_dict(drivers: Attribution, k: int = 5) -> dict[str, Any]:
    """The named drivers as JSON: the reference, each named input, everything else."""
    return {
        "reference": {"description": drivers.base_label, "los_days": drivers.base},
        "items": [{"input": drivers.names[i], "kind": drivers.groups[i], "effect_days": drivers.values[i], "text": drivers.texts[i],
                   **({"finding": drivers.detail["findings"][i]} if drivers.detail["findings"][i] else {})} for i in shown(drivers, k)],
        "rest_days": rest_days(drivers, k),
        "los_days": drivers.output,
        "days_per_log1p_day": drivers.detail["days_per_log1p_day"],
        "integration_error_days": drivers.detail["integration_error_days"],
    }


def allocation_rule(slope: float, tabular: bool = False) -> str:
    head = (" The tabular (LightGBM) head's part is split over the summaries it reads by their exact TreeSHAP values times its "
            "meta-learner weight, each joining the variable, fact or bedside channel it summarises.") if tabular else ""
    return (
        "From Integrated Gradients from each reference stay to this one, averaged; on the log1p(days) scale they add up to the prediction "
        f"minus the reference.{head} Each is turned into days with one factor, {slope:.2f} d per log1p-day (the slope of expm1 between the "
        "reference and the prediction), so the effects add up. A measured variable counts through its values; one never measured "
        "counts as \"not measured\"."
    )


def allocation_note(drivers: Attribution, k: int = 5) -> str:
    """How the days were allocated, in one paragraph (the page's caption, the report's note)."""
    return (
        f"Reference: {drivers.base_label}, {drivers.base:.1f} d. {drivers.note} Everything else ({rest_days(drivers, k):+.2f} d) holds the "
        f"inputs not named, when the named variables were measured, and the integration error ({drivers.residual:+.3f} d). "
        f"Inputs under {MIN_EFFECT_DAYS} d are not named."
    )
