"""Figures of a stay's patient context: the EHR timeline and the biosignal strip."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.patient import StayContext
from lemof.plots.style import MODALITY_COLOURS, OKABE_ITO, base_layout

_GROUP_COLOURS = {"vital": OKABE_ITO["blue"], "lab": OKABE_ITO["green"]}


def _grid_axes(n: int, columns: int, titles: list[str], h_gap: float = 0.05, v_gap: float = 0.09) -> dict:
    """Layout of ``n`` small panels in a grid, built directly (make_subplots takes ~1 s for 20)."""
    rows = max(1, math.ceil(n / columns))
    width = (1 - h_gap * (columns - 1)) / columns
    height = (1 - v_gap * (rows - 1)) / rows
    layout: dict = {"annotations": []}
    for i in range(n):
        r, c = divmod(i, columns)
        k = "" if i == 0 else str(i + 1)
        x0, y1 = c * (width + h_gap), 1 - r * (height + v_gap)
        layout[f"xaxis{k}"] = {"domain": [x0, x0 + width], "anchor": f"y{k}", "showticklabels": r == rows - 1 or i + columns >= n}
        layout[f"yaxis{k}"] = {"domain": [y1 - height, y1], "anchor": f"x{k}"}
        layout["annotations"].append(
            {"text": titles[i], "x": x0 + width / 2, "y": y1, "xref": "paper", "yref": "paper", "showarrow": False, "yanchor": "bottom", "font": {"size": 11}}
        )
    return layout


def timeline_figure(ctx: StayContext, n_steps_hours: float, columns: int = 4) -> go.Figure:
    """One small panel per EHR feature with its observed values over the window.

    Only observed values are drawn (markers joined by lines); a feature never observed keeps
    an empty panel marked "not measured". The biosignal's recording time is a dashed line.
    """
    features = ctx.ehr_features
    titles = [f"{f.get('label', f['name'])} ({f.get('unit', '')})" for f in features]
    layout = _grid_axes(len(features), columns, titles)
    by_feature = {name: part for name, part in ctx.timeline.groupby("feature", sort=False)}
    data = []
    for i, f in enumerate(features):
        k = "" if i == 0 else str(i + 1)
        colour = _GROUP_COLOURS.get(str(f.get("group", "")), OKABE_ITO["black"])
        part = by_feature.get(f["name"])
        layout[f"xaxis{k}"].update(range=[-0.5, n_steps_hours], dtick=6)
        if part is None:
            layout["annotations"].append({"text": "not measured", "x": n_steps_hours / 2, "y": 0.5, "xref": f"x{k}", "yref": f"y{k} domain", "showarrow": False, "font": {"color": OKABE_ITO["grey"]}})
            continue
        data.append(
            {
                "type": "scatter",
                "x": part["hour"].tolist(),
                "y": part["value"].tolist(),
                "xaxis": f"x{k}",
                "yaxis": f"y{k}",
                "mode": "lines+markers",
                "marker": {"size": 5, "color": colour},
                "line": {"width": 1, "color": colour},
                "showlegend": False,
                "hovertemplate": f"{f.get('label', f['name'])}: %{{y}} {f.get('unit', '')}<br>hour %{{x}}<extra></extra>",
            }
        )
    if ctx.signal_time_h is not None:
        layout["shapes"] = [
            {"type": "line", "x0": ctx.signal_time_h, "x1": ctx.signal_time_h, "y0": 0, "y1": 1, "xref": f"x{'' if i == 0 else i + 1}", "yref": f"y{'' if i == 0 else i + 1} domain", "line": {"dash": "dash", "color": MODALITY_COLOURS["sig"], "width": 1}}
            for i in range(len(features))
        ]
    fig = go.Figure(data=data, layout=layout)
    base_layout(fig, height=max(260, 140 * math.ceil(len(features) / columns)))
    fig.update_layout(margin=dict(t=30))
    return fig


def signal_figure(ctx: StayContext, channels: list[str] | None = None, attention: tuple[list[float], list[float]] | None = None) -> go.Figure | None:
    """The biosignal strip, one row per channel; None when the stay has no biosignal.

    A recording longer than an hour (bedside series) is drawn against hours with its observed
    points marked; an ECG against seconds. ``attention`` = (seconds, weight): attention the
    biosignal tokens receive from the EHR, shaded under the strip.
    """
    if ctx.signal is None:
        return None
    channels = [c for c in (channels or ctx.signal_channels) if c in ctx.signal_channels] or ctx.signal_channels[:3]
    extra = 1 if attention is not None else 0
    heights = [1.0] * len(channels) + ([0.5] if extra else [])
    fig = make_subplots(rows=len(channels) + extra, cols=1, shared_xaxes=True, vertical_spacing=0.02, row_heights=heights)
    duration_s = ctx.signal.shape[1] / ctx.signal_fs_hz
    in_hours = duration_s > 3600
    scale, unit = (1 / 3600, "h") if in_hours else (1.0, "s")
    t = (np.arange(ctx.signal.shape[1]) + (0.5 if in_hours else 0.0)) / ctx.signal_fs_hz * scale
    for i, ch in enumerate(channels):
        k = ctx.signal_channels.index(ch)
        y = ctx.signal[k]
        fig.add_scatter(
            x=t,
            y=y,
            mode="lines+markers" if in_hours else "lines",
            connectgaps=True,
            marker=dict(size=4),
            line=dict(width=1, color=OKABE_ITO["black"]),
            name=ch,
            showlegend=False,
            hovertemplate=f"{ctx.signal_channel_labels[k]}: %{{y:.2f}} {ctx.signal_units[k]}<br>%{{x:.2f}} {unit}<extra></extra>",
            row=i + 1,
            col=1,
        )
        fig.update_yaxes(title_text=f"{ch} ({ctx.signal_units[k]})", row=i + 1, col=1, title_font_size=11)
    if attention is not None:
        seconds, weight = attention
        fig.add_scatter(
            x=[s * scale for s in seconds],
            y=weight,
            mode="lines",
            fill="tozeroy",
            line=dict(color=MODALITY_COLOURS["sig"]),
            name="attention from EHR",
            showlegend=False,
            hovertemplate=f"%{{x:.2f}} {unit}: attention %{{y:.4f}}<extra></extra>",
            row=len(channels) + 1,
            col=1,
        )
        fig.update_yaxes(title_text="attention", row=len(channels) + 1, col=1, title_font_size=11)
    fig.update_xaxes(title_text=f"time ({unit}{' since admission' if in_hours else ''})", row=len(channels) + extra, col=1)
    when = f" recorded at hour {ctx.signal_time_h:.1f}" if ctx.signal_time_h is not None else ""
    return base_layout(fig, title=f"{ctx.signal_label}{when}", height=110 * len(channels) + 80 * extra + 80)
