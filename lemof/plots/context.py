"""Figures of a stay's patient context: the EHR timeline and the biosignal strip."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.patient import StayContext
from lemof.plots.style import MODALITY_COLOURS, OKABE_ITO, base_layout

_GROUP_COLOURS = {"vital": OKABE_ITO["blue"], "lab": OKABE_ITO["green"]}


def timeline_figure(ctx: StayContext, n_steps_hours: float, columns: int = 4) -> go.Figure:
    """One small panel per EHR feature with its observed values over the window.

    Only observed values are drawn (markers joined by lines); a feature never observed shows
    an empty panel saying so. The biosignal's recording time is a dashed line.
    """
    features = list(dict.fromkeys(ctx.timeline["feature"]))
    meta = ctx.timeline.drop_duplicates("feature").set_index("feature")
    rows = math.ceil(len(features) / columns) if features else 1
    titles = [f"{meta.loc[f, 'label']} ({meta.loc[f, 'unit']})" for f in features]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, shared_xaxes=True, vertical_spacing=0.08, horizontal_spacing=0.05)
    for i, feat in enumerate(features):
        part = ctx.timeline[ctx.timeline["feature"] == feat]
        colour = _GROUP_COLOURS.get(str(meta.loc[feat, "group"]), OKABE_ITO["black"])
        fig.add_scatter(
            x=part["hour"],
            y=part["value"],
            mode="lines+markers",
            marker=dict(size=5, color=colour),
            line=dict(width=1, color=colour),
            name=str(meta.loc[feat, "label"]),
            showlegend=False,
            hovertemplate=f"{meta.loc[feat, 'label']}: %{{y}} {meta.loc[feat, 'unit']}<br>hour %{{x}}<extra></extra>",
            row=i // columns + 1,
            col=i % columns + 1,
        )
    if ctx.signal_time_h is not None:
        fig.add_vline(x=ctx.signal_time_h, line_dash="dash", line_color=MODALITY_COLOURS["sig"])
    fig.update_xaxes(range=[-0.5, n_steps_hours], dtick=6)
    fig.update_annotations(font_size=11)
    base_layout(fig, height=max(260, 150 * rows))
    fig.update_layout(margin=dict(t=40))
    return fig


def signal_figure(ctx: StayContext, channels: list[str] | None = None, attention: tuple[list[float], list[float]] | None = None) -> go.Figure | None:
    """The biosignal strip, one row per channel; None when the stay has no biosignal.

    ``attention`` = (seconds, weight): attention the biosignal tokens receive from the EHR,
    shaded under the strip to show which part of the recording the model looked at.
    """
    if ctx.signal is None:
        return None
    channels = [c for c in (channels or ctx.signal_channels) if c in ctx.signal_channels] or ctx.signal_channels[:3]
    extra = 1 if attention is not None else 0
    heights = [1.0] * len(channels) + ([0.5] if extra else [])
    fig = make_subplots(rows=len(channels) + extra, cols=1, shared_xaxes=True, vertical_spacing=0.02, row_heights=heights)
    t = np.arange(ctx.signal.shape[1]) / ctx.signal_fs_hz
    for i, ch in enumerate(channels):
        fig.add_scatter(
            x=t,
            y=ctx.signal[ctx.signal_channels.index(ch)],
            mode="lines",
            line=dict(width=1, color=OKABE_ITO["black"]),
            name=ch,
            showlegend=False,
            hovertemplate=f"{ch}: %{{y:.2f}} {ctx.signal_unit}<br>%{{x:.3f}} s<extra></extra>",
            row=i + 1,
            col=1,
        )
        fig.update_yaxes(title_text=f"{ch} ({ctx.signal_unit})", row=i + 1, col=1, title_font_size=11)
    if attention is not None:
        seconds, weight = attention
        fig.add_scatter(
            x=seconds,
            y=weight,
            mode="lines",
            fill="tozeroy",
            line=dict(color=MODALITY_COLOURS["sig"]),
            name="attention from EHR",
            showlegend=False,
            hovertemplate="%{x:.2f} s: attention %{y:.4f}<extra></extra>",
            row=len(channels) + 1,
            col=1,
        )
        fig.update_yaxes(title_text="attention", row=len(channels) + 1, col=1, title_font_size=11)
    fig.update_xaxes(title_text="time (s)", row=len(channels) + extra, col=1)
    when = f" recorded at hour {ctx.signal_time_h:.1f}" if ctx.signal_time_h is not None else ""
    return base_layout(fig, title=f"{ctx.signal_label}{when}", height=110 * len(channels) + 80 * extra + 80)
