"""Figures of one stay's explanation: level SHAP, head contributions, cross-modal attention.

Each title names the number its figure explains, in days; when that is not the prediction, the
subtitle says which part of the model it is and its weight in the prediction. The log scale
(log1p of days), where the parts add up exactly, is named as such, in words."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lemof.explain.attribution import Attribution
from lemof.explain.views import Attention, LevelConcepts
from lemof.models.spec import HEAD_KINDS, kind_totals
from lemof.plots.style import (
    ABSENT,
    FONT_PX,
    LOG_SCALE,
    MODALITY_COLOURS,
    SEQUENTIAL,
    SMALL,
    TOTAL_COLOUR,
    base_layout,
    days,
    days_ticks,
    head_label,
    head_modality,
    level_label,
    modality_label,
    second_line,
    text_px,
    with_alt,
)
from lemof.plots.text import literal


def level_shap_figure(expl: Attribution, sig_label: str = "ECG", span: float | None = None, concepts: LevelConcepts | None = None,
                      prediction_days: float | None = None) -> go.Figure:
    """Signed Shapley value of every level for this stay, with the cohort's mean |phi|.

    What it explains is the level stacker's estimate, not the prediction: the stacker is stage
    2's model that ranked the levels, and the prediction does not read it (weight 0); the title
    says so, in days, with ``prediction_days`` (the stay's prediction) when given. Bars are
    coloured by modality; their direction is the sign (right lengthens the estimate), on the log
    scale where the parts add up. Levels chosen by stage 2 are starred; levels of an absent
    modality are grey "absent" bars, never zero. A level's second line says what it encodes
    across the cohort (``concepts``, from the run's concept probes: "best probe: AF, AUROC
    0.89"), a property of the level, not of the patient. ``expl`` is the ``level_shap`` attribution.
    """
    sig_label = literal(sig_label)
    selected = {k for k, chosen in zip(expl.names, expl.detail["selected"]) if chosen}
    importance = dict(zip(expl.names, expl.detail["global_importance"]))
    fig = go.Figure()
    all_labels, glob = [], []
    two_lines = False
    for m in ("ehr", "sig"):
        keys = [k for k, g in zip(expl.names, expl.groups) if g == m]
        labels = []
        for k in keys:
            probe = concepts.label(k) if concepts else ""
            two_lines = two_lines or bool(probe)
            labels.append(("★ " if k in selected else "") + level_label(k, sig_label) + (second_line(literal(probe)) if probe else ""))
        phis = [expl.value_of(k) for k in keys]
        all_labels += labels
        glob += [importance[k] for k in keys]
        present = [(l, p) for l, p in zip(labels, phis) if p is not None]
        if present:
            fig.add_bar(
                y=[l for l, _ in present],
                x=[p for _, p in present],
                orientation="h",
                marker_color=MODALITY_COLOURS[m],
                name=f"{modality_label(m, sig_label)} level, this stay",
                hovertemplate="%{y}<br>%{x:+.3f} on the " + LOG_SCALE + " (right lengthens the estimate)<extra></extra>",
            )
        absent = [l for l, p in zip(labels, phis) if p is None]
        if absent:
            fig.add_bar(
                y=absent,
                x=[span_of(expl)] * len(absent),
                orientation="h",
                marker=dict(color=ABSENT, pattern=dict(shape="/")),
                name=f"absent ({sig_label} not recorded)",
                text=["absent"] * len(absent),
                textposition="inside",
                hovertemplate="%{y}: modality absent for this stay<extra></extra>",
            )
    fig.add_scatter(
        y=all_labels,
        x=glob,
        mode="markers",
        marker=dict(symbol="diamond", size=10, color=TOTAL_COLOUR),
        name="typical size over stays",
        hovertemplate="%{y}<br>typical size (mean |value| over validation stays) %{x:.3f}<extra></extra>",
    )
    fig.update_yaxes(categoryorder="array", categoryarray=all_labels[::-1], automargin=True,
                     title=dict(text="★ = level the final model uses" if selected else "", font=dict(size=SMALL)))
    span = span if span is not None else 1.15 * span_of(expl)
    fig.update_xaxes(title=f"{LOG_SCALE}:  ← shortens  ·  lengthens →", zeroline=True, zerolinecolor="#444", range=[-span, span])
    estimate = days(expl.output)
    title = f"What each encoder level adds to the level stacker's {estimate}"
    subtitle = ("The level stacker ranked the levels in training; weight 0 in the prediction."
                f"<br>It starts from {days(expl.base)} (an average stay)"
                + (f"; this stay's prediction is {prediction_days:.1f} d." if prediction_days is not None else "."))
    base_layout(fig, title=title, subtitle=subtitle, height=200 + (42 if two_lines else 30) * len(all_labels), legend_above=True)
    fig.update_layout(barmode="overlay")
    ranked = sorted(((abs(p), level_label(k, sig_label), p) for k, p in zip(expl.names, expl.values) if p is not None), reverse=True)
    top = ", ".join(f"{name} {p:+.3f}" for _, name, p in ranked[:3])
    where = "stored at training" if expl.detail["origin"] == "stored" else "computed now"
    return with_alt(
        fig,
        f"Exact Shapley values of the encoder levels for the level stacker, stage 2's level-ranking model, which the prediction does not use "
        f"({where}; {LOG_SCALE}, log1p of days), largest first: {top}. "
        f"Base {expl.base:.3f} + Σφ {expl.total:+.3f} = level-stacker output {expl.output:.3f} ({estimate})"
        + (f"; the prediction is {prediction_days:.2f} days." if prediction_days is not None else "."),
    )


def span_of(expl: Attribution) -> float:
    """Largest |φ| or global importance of a stay's levels: the half-width its SHAP axis needs."""
    values = [abs(p) for p in expl.values if p is not None]
    return max(values + list(expl.detail["global_importance"]) + [1e-3])


def waterfall_range(expl: Attribution) -> tuple[float, float]:
    """The smallest and largest running total of a stay's head waterfall (log1p-days)."""
    running, points = expl.base, [0.0, expl.base, expl.output]
    for value in expl.values:
        if value is not None:
            running += value
            points.append(running)
    return min(points), max(points)


def _head_colour(name: str) -> str:
    """A head's colour is its modality's: EHR, biosignal, or both (the cross-modal head)."""
    return MODALITY_COLOURS[head_modality(name)]


def _head_rows(expl: Attribution, sig_label: str) -> list[dict]:
    """Per head, grouped by kind: label, name, kind, contribution (None if absent), own
    prediction (log1p-days), weight, and whether the meta-learner gave it weight 0."""
    rows = []
    for kind in HEAD_KINDS:
        for i, (name, group, value, pred) in enumerate(zip(expl.names, expl.groups, expl.values, expl.detail["head_predictions"])):
            if group != kind:
                continue
            weight = (expl.detail.get("weights") or [None] * len(expl.names))[i]
            zero_weight = value is not None and value == 0.0 and pred not in (None, 0.0)
            rows.append({"label": head_label(name, sig_label), "name": name, "kind": kind, "value": value, "pred": pred,
                         "weight": 0.0 if zero_weight else weight, "zero_weight": zero_weight})
    return rows


def contributions_figure(expl: Attribution, los_days: float, sig_label: str = "ECG", value_range: tuple[float, float] | None = None) -> go.Figure:
    """Horizontal waterfall from the meta-learner's bias through each head to the prediction.

    The parts add up exactly on the log scale (log1p of days: bias + Σ w_i·y_i); the axis is
    labelled in days at those positions, so each bar ends at the running estimate in days. Each
    head's second line says what it predicts alone (days) and its weight; heads are coloured by
    modality (EHR, biosignal, both for the cross-modal head); a head given weight 0 is marked "not
    used", an absent head (its modality not recorded) is listed, not drawn. ``value_range`` (low,
    high) on log1p-days fixes the axis (a shared scale across runs). ``expl`` is the ``heads``
    attribution, ``los_days`` the prediction it explains, in days.
    """
    sig_label = literal(sig_label)
    rows = _head_rows(expl, sig_label)
    labels = ["Starting value" + second_line(f"{days(expl.base)}, a constant of the final weighting")]
    # the starting value's number is on its label: as a bar text beside a short bar it fell on the label
    bases, widths, colours, texts, hovers = [0.0], [expl.base], [TOTAL_COLOUR], [""], [f"{expl.base:+.3f} on the {LOG_SCALE} = {days(expl.base)}"]
    running = expl.base
    absent, used_modalities = [], []
    for row in rows:
        if row["value"] is None:
            absent.append(row["label"])
            continue
        alone = days(row["pred"])
        if row["zero_weight"]:
            note = f"alone {alone} · weight 0: not used"
        else:
            note = f"alone {alone} · weight {row['weight']:.2f}" if row["weight"] is not None else f"alone {alone}"
        labels.append(row["label"] + second_line(note))
        bases.append(running)
        widths.append(row["value"])
        colours.append(_head_colour(row["name"]))
        used_modalities.append(head_modality(row["name"]))
        running += row["value"]
        texts.append("not used" if row["zero_weight"] else f"→ {days(running)}")  # the running estimate after this head, in days
        hovers.append(f"adds {row['value']:+.3f} on the {LOG_SCALE}; running estimate {days(running)}")
    labels.append("Prediction")
    bases.append(0.0)
    widths.append(expl.output)
    colours.append(TOTAL_COLOUR)
    texts.append(f"{los_days:.1f} d")
    hovers.append(f"{expl.output:.3f} on the {LOG_SCALE} = {los_days:.2f} d")
    ends = [b + w for b, w in zip(bases, widths)]
    lo, hi = value_range if value_range is not None else (min([0.0] + bases + ends), max([0.0] + bases + ends))
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.08 * (hi - lo) + 0.02  # the value labels spill into the right margin (below), not over the bars
    x_range = [lo - (pad if lo < 0 else 0.02), hi + pad]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=widths,
            base=bases,
            orientation="h",
            marker_color=colours,
            text=texts,
            textposition="outside",
            cliponaxis=False,
            customdata=hovers,
            hovertemplate="%{customdata}<extra></extra>",
            showlegend=False,
        )
    )
    names = {"ehr": "EHR heads", "sig": f"{sig_label} heads", "fused": "cross-modal head (both)"}
    for m in ("ehr", "sig", "fused"):
        if m in used_modalities:
            fig.add_bar(x=[None], y=[None], marker_color=MODALITY_COLOURS[m], name=names[m])
    totals = {k: float(v) for k, v in kind_totals(dict(zip(expl.names, expl.values)), dict(zip(expl.names, expl.groups))).items() if np.isfinite(v)}
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], automargin=True)
    tickvals, ticktext = days_ticks(x_range[0], x_range[1])
    fig.update_xaxes(title=f"days ({LOG_SCALE}: the parts add up)", range=x_range, tickvals=tickvals, ticktext=ticktext,
                     zeroline=True, zerolinecolor="#444")
    n_used = len(labels) - 2
    title = f"How the prediction, {los_days:.1f} d, adds up from {n_used} heads"
    subtitle = "Each head predicts the stay alone; the final stage weighs the heads<br>and adds the weighted parts on a log scale, from a starting value."
    if absent:
        subtitle += f"<br>absent ({sig_label} not recorded): {', '.join(absent)}"
    base_layout(fig, title=title, subtitle=subtitle, height=max(340, 44 * len(labels) + 190), legend_above=True)
    fig.update_layout(margin=dict(r=16 + int(max(text_px(t, FONT_PX) for t in texts))))  # room for the labels beside the bars
    parts = "; ".join(f"{kind} heads {totals[kind]:+.3f}" for kind in HEAD_KINDS if kind in totals)
    unused = [row["label"] for row in rows if row["zero_weight"] and row["value"] is not None]
    return with_alt(
        fig,
        f"Waterfall on the log1p-days scale (the {LOG_SCALE} of days where the meta-learner's parts add up exactly): bias {expl.base:+.3f} (the starting value); {parts}; "
        f"prediction {expl.output:.3f} log1p-days = {los_days:.2f} days."
        + (f" Not used by the meta-learner (weight 0): {', '.join(unused)}." if unused else "")
        + (f" Absent heads: {', '.join(absent)}." if absent else ""),
    )


def attention_figure(att: Attention | None, direction: str = "ehr_to_sig", head: int | None = None, sig_label: str = "ECG", zmax: float | None = None) -> go.Figure | None:
    """Cross-modal attention heatmap, averaged over heads (``head=None``) or one head (0-based).

    ``ehr_to_sig``: rows are EHR hours (queries), columns biosignal time (keys); ``sig_to_ehr``:
    the reverse. None when the stay has no biosignal (``att`` is None).
    """
    if att is None:
        return None
    sig_label = literal(sig_label)
    maps = att.maps(direction)
    if head is None:
        z = maps.mean(axis=0)
        which = f"mean of {maps.shape[0]} heads"
    else:
        z = maps[head]
        which = f"head {head + 1} of {maps.shape[0]}"
    hours, seconds = att.ehr_hours, att.sig_seconds
    ehr_axis, sig_axis, sig_unit = "EHR time (hours since admission)", f"{sig_label} time (s)", "s"
    if seconds and max(seconds) > 3600:  # bedside series over hours
        seconds = [s / 3600 for s in seconds]
        sig_axis, sig_unit = f"{sig_label} time (hours since admission)", "h"
    if direction == "ehr_to_sig":
        x, y, x_title, y_title = seconds, hours, sig_axis, ehr_axis
        title = f"EHR → {sig_label} attention ({which})"
        subtitle = f"Where in the {sig_label} each EHR hour looks (each row sums to 1)"
        hover = "EHR hour %{y:.1f}<br>" + sig_label + " %{x:.2f} " + sig_unit + "<br>weight %{z:.4f}<extra></extra>"
    else:
        x, y, x_title, y_title = hours, seconds, ehr_axis, sig_axis
        title = f"{sig_label} → EHR attention ({which})"
        subtitle = f"Which EHR hours each {sig_label} segment looks at (each row sums to 1)"
        hover = sig_label + " %{y:.2f} " + sig_unit + "<br>EHR hour %{x:.1f}<br>weight %{z:.4f}<extra></extra>"
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale=SEQUENTIAL, zmin=0, zmax=zmax, colorbar=dict(title="attention<br>weight"), hovertemplate=hover))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, autorange="reversed")
    subtitle += "<br>Attention heads are parts of the cross-modal layer, not prediction heads."
    base_layout(fig, title=title, subtitle=subtitle, height=400, legend_above=True)
    received = z.mean(axis=0)
    peak = int(np.argmax(received))
    unit = sig_unit if direction == "ehr_to_sig" else "h"
    return with_alt(
        fig,
        f"Attention heatmap ({which}), rows sum to 1; the most attended key is at {x[peak]:.2f} {unit} "
        f"(mean weight {received[peak]:.3f} against a uniform {1 / z.shape[1]:.3f}).",
    )


def head_table_rows(expl: Attribution, sig_label: str) -> list[dict]:
    """Rows for a table of heads: kind, what it predicts alone (days), its weight in the
    prediction, and what it adds (log scale, where the parts add up), or 'absent'."""
    rows = []
    for row in _head_rows(expl, sig_label):
        value, weight = row["value"], row["weight"]
        rows.append(
            {
                "head": row["label"],
                "kind": row["kind"],
                "alone predicts (days)": None if row["pred"] is None else round(float(np.expm1(row["pred"])), 2),
                "weight": None if value is None or weight is None else round(float(weight), 3),
                f"adds ({LOG_SCALE})": "absent" if value is None else ("0 (weight 0)" if value == 0.0 else f"{value:+.4f}"),
            }
        )
    return rows
