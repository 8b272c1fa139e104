"""Figures of one stay's explanation: level SHAP, head contributions, cross-modal attention."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lemof.explain.attribution import Attribution
from lemof.explain.views import Attention, LevelConcepts
from lemof.models.spec import HEAD_KINDS, kind_totals
from lemof.plots.style import (
    ABSENT,
    HEAD_KIND_COLOURS,
    LOG1P_DAYS,
    MODALITY_COLOURS,
    SEQUENTIAL,
    TOTAL_COLOUR,
    base_layout,
    days_ticks,
    head_label,
    level_label,
    modality_label,
    with_alt,
)
from lemof.plots.text import literal


def level_shap_figure(expl: Attribution, sig_label: str = "ECG", span: float | None = None, concepts: LevelConcepts | None = None) -> go.Figure:
    """Signed Shapley value of every level for this stay, with the cohort's mean |phi|.

    Bars are coloured by modality; their direction is the sign (right lengthens the predicted
    stay). Levels chosen by stage 2 are starred; levels of an absent modality are grey
    "absent" bars, never zero. A level is named after the concepts it encodes
    (``concepts``, from the run's concept probes) when it has any. ``expl`` is the ``level_shap``
    attribution.
    """
    sig_label = literal(sig_label)
    selected = {k for k, chosen in zip(expl.names, expl.detail["selected"]) if chosen}
    importance = dict(zip(expl.names, expl.detail["global_importance"]))
    fig = go.Figure()
    all_labels, glob = [], []
    for m in ("ehr", "sig"):
        keys = [k for k, g in zip(expl.names, expl.groups) if g == m]
        labels = [("★ " if k in selected else "") + level_label(k, sig_label) + (f" · {literal(concepts.label(k))}" if concepts and concepts.label(k) else "")
                  for k in keys]
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
                name=f"{modality_label(m, sig_label)} level, this stay (φ)",
                hovertemplate="%{y}<br>φ = %{x:+.3f} " + LOG1P_DAYS + "<extra></extra>",
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
        name="cohort mean |φ| (global importance)",
        hovertemplate="%{y}<br>global importance %{x:.3f}<extra></extra>",
    )
    fig.update_yaxes(categoryorder="array", categoryarray=all_labels[::-1], automargin=True)
    span = span if span is not None else 1.15 * span_of(expl)
    fig.update_xaxes(
        title=f"φ ({LOG1P_DAYS}):  ← shortens   ·   lengthens →",
        zeroline=True,
        zerolinecolor="#444",
        range=[-span, span],
    )
    base_layout(fig, title="Per-level SHAP importance (★ = selected by stage 2)", height=360)
    fig.update_layout(barmode="overlay")
    ranked = sorted(((abs(p), level_label(k, sig_label), p) for k, p in zip(expl.names, expl.values) if p is not None), reverse=True)
    top = ", ".join(f"{name} {p:+.3f}" for _, name, p in ranked[:3])
    where = "stored at training" if expl.detail["origin"] == "stored" else "computed now"
    return with_alt(
        fig,
        f"Exact Shapley values of the encoder levels ({where}; log1p-days), largest first: {top}. "
        f"Base {expl.base:.3f} + Σφ {expl.total:+.3f} = level-stacker output {expl.output:.3f}.",
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


def _head_rows(expl: Attribution, sig_label: str) -> list[tuple[str, str, float | None, bool]]:
    """(label, kind, contribution or None if absent, zero-weight) per head, grouped by kind."""
    rows = []
    for kind in HEAD_KINDS:
        for name, group, value, pred in zip(expl.names, expl.groups, expl.values, expl.detail["head_predictions"]):
            if group != kind:
                continue
            zero_weight = value is not None and value == 0.0 and pred not in (None, 0.0)
            rows.append((head_label(name, sig_label), kind, value, zero_weight))
    return rows


def contributions_figure(expl: Attribution, los_days: float, sig_label: str = "ECG", value_range: tuple[float, float] | None = None) -> go.Figure:
    """Horizontal waterfall from the meta-learner's bias through each head to the prediction.

    The scale is log1p(days), where the parts add up exactly; the top axis shows the same
    positions in days. Heads are coloured by kind; a head the meta-learner gave weight 0 is
    marked so, an absent head (its modality not recorded) is listed, not drawn. ``value_range``
    (low, high) on log1p-days fixes the axis (a shared scale across runs). ``expl`` is the
    ``heads`` attribution, ``los_days`` the prediction it explains, in days.
    """
    sig_label = literal(sig_label)
    rows = _head_rows(expl, sig_label)
    labels, bases, widths, colours, texts = ["meta-learner bias"], [0.0], [expl.base], [TOTAL_COLOUR], [f"{expl.base:+.3f}"]
    running = expl.base
    absent = []
    for label, kind, value, zero_weight in rows:
        if value is None:
            absent.append(label)
            continue
        labels.append(label)
        bases.append(running)
        widths.append(value)
        colours.append(HEAD_KIND_COLOURS[kind])
        texts.append("w = 0" if zero_weight else f"{value:+.3f}")  # short: it sits wherever the running sum is, often at the right edge
        running += value
    labels.append("prediction")
    bases.append(0.0)
    widths.append(expl.output)
    colours.append(TOTAL_COLOUR)
    texts.append(f"{expl.output:.3f} = {los_days:.2f} d")
    ends = [b + w for b, w in zip(bases, widths)]
    lo, hi = value_range if value_range is not None else (min([0.0] + bases + ends), max([0.0] + bases + ends))
    pad = 0.35 * (hi - lo) + 0.05  # room for the value labels beside the bars
    x_range = [lo - (pad if lo < 0 else 0.05), hi + pad]
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
            hovertemplate="%{y}<br>%{text}<extra></extra>",
            showlegend=False,
        )
    )
    totals = {k: float(v) for k, v in kind_totals(dict(zip(expl.names, expl.values)), dict(zip(expl.names, expl.groups))).items() if np.isfinite(v)}
    for kind in HEAD_KINDS:
        if kind in totals:
            fig.add_bar(x=[None], y=[None], marker_color=HEAD_KIND_COLOURS[kind], name=f"{kind} heads (Σ {totals[kind]:+.3f})")
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], automargin=True)
    fig.update_xaxes(title="log1p(LOS days): the parts add up exactly · top axis: days", range=x_range, zeroline=True, zerolinecolor="#444")
    tickvals, ticktext = days_ticks(max(x_range[0], 0.0), x_range[1])
    fig.update_layout(
        xaxis2=dict(overlaying="x", side="top", range=x_range, tickvals=tickvals, ticktext=ticktext, showgrid=False, tickfont=dict(size=11)),
    )
    fig.add_scatter(x=[None], y=[None], xaxis="x2", showlegend=False)  # makes the top axis drawn
    title = "Head contributions: bias + Σ wᵢ·yᵢ = prediction"
    if absent:
        title += f"<br><sup>absent ({sig_label} not recorded): {', '.join(absent)}</sup>"
    base_layout(fig, title=title, height=max(340, 34 * len(labels) + 190))
    fig.update_layout(margin=dict(t=115 if absent else 95))
    parts = "; ".join(f"{kind} heads {totals[kind]:+.3f}" for kind in HEAD_KINDS if kind in totals)
    unused = [label for label, _, value, zero_weight in rows if zero_weight and value is not None]
    return with_alt(
        fig,
        f"Waterfall on the log1p-days scale: bias {expl.base:+.3f}; {parts}; prediction {expl.output:.3f} log1p-days = {los_days:.2f} days."
        + (f" Not used by the meta-learner (w = 0): {', '.join(unused)}." if unused else "")
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
        title = f"EHR → {sig_label}: where in the {sig_label} each EHR hour looks ({which})"
        hover = "EHR hour %{y:.1f}<br>" + sig_label + " %{x:.2f} " + sig_unit + "<br>weight %{z:.4f}<extra></extra>"
    else:
        x, y, x_title, y_title = hours, seconds, ehr_axis, sig_axis
        title = f"{sig_label} → EHR: which EHR hours each {sig_label} segment looks at ({which})"
        hover = sig_label + " %{y:.2f} " + sig_unit + "<br>EHR hour %{x:.1f}<br>weight %{z:.4f}<extra></extra>"
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale=SEQUENTIAL, zmin=0, zmax=zmax, colorbar=dict(title="attention<br>weight"), hovertemplate=hover))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, autorange="reversed")
    base_layout(fig, title=title, height=380)
    received = z.mean(axis=0)
    peak = int(np.argmax(received))
    unit = sig_unit if direction == "ehr_to_sig" else "h"
    return with_alt(
        fig,
        f"Attention heatmap ({which}), rows sum to 1; the most attended key is at {x[peak]:.2f} {unit} "
        f"(mean weight {received[peak]:.3f} against a uniform {1 / z.shape[1]:.3f}).",
    )


def head_table_rows(expl: Attribution, sig_label: str) -> list[dict]:
    """Rows for a table of heads: kind, prediction in days, weight x prediction, or 'absent'."""
    rows = []
    for name, kind, value, pred in zip(expl.names, expl.groups, expl.values, expl.detail["head_predictions"]):
        rows.append(
            {
                "head": head_label(name, sig_label),
                "kind": kind,
                "prediction (days)": None if pred is None else round(float(np.expm1(pred)), 2),
                "contribution (log1p-days)": "absent" if value is None else ("0 (weight 0)" if value == 0.0 else f"{value:+.4f}"),
            }
        )
    return rows
