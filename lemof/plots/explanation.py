"""Figures of one stay's explanation: level SHAP, head contributions, cross-modal attention."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lemof.explain.explanation import StayExplanation
from lemof.plots.style import (
    ABSENT,
    HEAD_GROUP_COLOURS,
    NEGATIVE,
    POSITIVE,
    base_layout,
    head_group,
    head_label,
    level_label,
)


def level_shap_figure(expl: StayExplanation, sig_label: str = "ECG") -> go.Figure:
    """Signed Shapley value of every level for this stay, with the cohort's mean |phi|.

    Levels chosen by stage 2 are starred; levels of an absent modality are drawn as grey
    "absent" bars, never as zero.
    """
    keys, phis, glob = [], [], []
    for m in ("ehr", "sig"):
        keys += expl.level_names[m]
        phis += expl.level_shap[m]
        glob += expl.level_importance[m]
    selected = set(expl.selected_levels["ehr"]) | set(expl.selected_levels["sig"])
    labels = [("★ " if k in selected else "") + level_label(k, sig_label) for k in keys]
    present = [p is not None for p in phis]
    values = [p if p is not None else 0.0 for p in phis]
    fig = go.Figure()
    fig.add_bar(
        y=[l for l, ok in zip(labels, present) if ok],
        x=[v for v, ok in zip(values, present) if ok],
        orientation="h",
        marker_color=[POSITIVE if v > 0 else NEGATIVE for v, ok in zip(values, present) if ok],
        name="this stay (φ)",
        hovertemplate="%{y}<br>φ = %{x:+.3f} log1p-days<extra></extra>",
    )
    span = max([abs(v) for v in values] + glob + [1e-3])
    absent_labels = [l for l, ok in zip(labels, present) if not ok]
    if absent_labels:
        fig.add_bar(
            y=absent_labels,
            x=[span] * len(absent_labels),
            orientation="h",
            marker=dict(color=ABSENT, pattern=dict(shape="/")),
            name=f"absent ({sig_label} not recorded)",
            text=["absent"] * len(absent_labels),
            textposition="inside",
            hovertemplate="%{y}: modality absent for this stay<extra></extra>",
        )
    fig.add_scatter(
        y=labels,
        x=glob,
        mode="markers",
        marker=dict(symbol="diamond", size=11, color="black"),
        name="cohort mean |φ|",
        hovertemplate="%{y}<br>global importance %{x:.3f}<extra></extra>",
    )
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1])
    fig.update_xaxes(title="Shapley value φ (log1p-days; > 0 lengthens the predicted stay)", zeroline=True, zerolinecolor="#444")
    base_layout(fig, title="Per-level SHAP importance (★ = selected by stage 2)", height=340)
    fig.update_layout(barmode="overlay")
    return fig


def contributions_figure(expl: StayExplanation, sig_label: str = "ECG") -> go.Figure:
    """Waterfall from the meta-learner's bias to the prediction (log1p-days).

    Each present head adds w_i * y_i; the bars end exactly at the prediction. Modality-level
    heads and level-specific heads have different colours; absent heads are listed, not drawn.
    """
    steps = [(k, v) for k, v in expl.contributions.items() if v is not None]
    absent = [k for k, v in expl.contributions.items() if v is None]
    x_labels = ["meta-learner bias"] + [head_label(k, sig_label) for k, _ in steps] + ["prediction"]
    bases, heights, colours, texts = [0.0], [expl.meta_bias], [HEAD_GROUP_COLOURS["total"]], [f"{expl.meta_bias:+.3f}"]
    running = expl.meta_bias
    for key, value in steps:
        bases.append(running)
        heights.append(value)
        colours.append(HEAD_GROUP_COLOURS[head_group(key)])
        texts.append(f"{value:+.3f}")
        running += value
    bases.append(0.0)
    heights.append(expl.meta_output)
    colours.append(HEAD_GROUP_COLOURS["total"])
    texts.append(f"{expl.meta_output:.3f} = {expl.los_days:.2f} d")
    fig = go.Figure(
        go.Bar(
            x=x_labels,
            y=heights,
            base=bases,
            marker_color=colours,
            text=texts,
            textposition="outside",
            hovertemplate="%{x}<br>%{text}<extra></extra>",
            showlegend=False,
        )
    )
    for group, colour in (("modality-level head", HEAD_GROUP_COLOURS["modality"]), ("level-specific head", HEAD_GROUP_COLOURS["level"])):
        fig.add_bar(x=[None], y=[None], marker_color=colour, name=group)
    title = "Head contributions: bias + Σ wᵢ·yᵢ = prediction"
    if absent:
        title += f"<br><sup>absent ({sig_label} not recorded): {', '.join(head_label(k, sig_label) for k in absent)}</sup>"
    fig.update_yaxes(title="log1p(LOS days)")
    top = max(b + max(h, 0) for b, h in zip(bases, heights))
    fig.update_yaxes(range=[min(0.0, min(bases + [b + h for b, h in zip(bases, heights)])) - 0.1, top * 1.2 + 0.1])
    return base_layout(fig, title=title, height=380)


def attention_figure(expl: StayExplanation, direction: str = "ehr_to_sig", head: int | None = None, sig_label: str = "ECG") -> go.Figure | None:
    """Cross-modal attention heatmap, averaged over heads (``head=None``) or one head (0-based).

    ``ehr_to_sig``: rows are EHR hours (queries), columns biosignal seconds (keys);
    ``sig_to_ehr``: the reverse. None when the stay has no biosignal.
    """
    att = expl.attention
    if att is None:
        return None
    if direction not in ("ehr_to_sig", "sig_to_ehr"):
        raise ValueError(f"direction must be ehr_to_sig or sig_to_ehr, got {direction!r}")
    block = att[direction]
    if head is None:
        z = np.asarray(block["mean"])
        which = f"mean of {block['shape'][0]} heads"
    else:
        if block.get("per_head") is None:
            raise ValueError("this explanation was made without per-head attention")
        z = np.asarray(block["per_head"][head])
        which = f"head {head + 1} of {block['shape'][0]}"
    hours, seconds = att["ehr_hours"], att["sig_seconds"]
    ehr_axis, sig_axis = "EHR time (hours since admission)", f"{sig_label} time (s)"
    if seconds and max(seconds) > 3600:  # bedside series over hours
        seconds = [s / 3600 for s in seconds]
        sig_axis = f"{sig_label} time (hours since admission)"
    if direction == "ehr_to_sig":
        x, y, x_title, y_title = seconds, hours, sig_axis, ehr_axis
        title = f"EHR → {sig_label}: each EHR hour attends to {sig_label} time ({which})"
    else:
        x, y, x_title, y_title = hours, seconds, ehr_axis, sig_axis
        title = f"{sig_label} → EHR: each {sig_label} segment attends to EHR hours ({which})"
    fig = go.Figure(
        go.Heatmap(z=z, x=x, y=y, colorscale="Viridis", colorbar=dict(title="weight"), hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.4f}<extra></extra>")
    )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, autorange="reversed")
    return base_layout(fig, title=title, height=380)
