"""Figures of a stay's patient context: the EHR timeline and the biosignal strip."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.data.bundle import feature_title
from lemof.data.patient import StayContext
from lemof.explain.views import SignalAttention
from lemof.plots.style import MODALITY_COLOURS, OKABE_ITO, base_layout, with_alt
from lemof.plots.text import literal

_PANEL_PX, _GAP_PX, _TOP_PX, _BOTTOM_PX = 92, 58, 60, 64


def timeline_figure(ctx: StayContext, n_steps_hours: float, columns: int = 3) -> go.Figure:
    """One small panel per EHR feature *measured* in this stay's window, vitals first, then labs.

    Only observed values are drawn (markers joined by lines); features never measured are left
    out here (``StayContext.unmeasured`` lists them). The biosignal's recording time is a dashed
    orange line. Panels are laid out in pixels, so titles never run into each other.
    """
    by_feature = {name: part for name, part in ctx.timeline.groupby("feature", sort=False)}
    order = {"vital": 0, "lab": 1}
    features = sorted((f for f in ctx.ehr_features if f["name"] in by_feature), key=lambda f: order.get(str(f.get("group", "")), 2))
    n = max(len(features), 1)
    rows = math.ceil(n / columns)
    height = _TOP_PX + rows * _PANEL_PX + (rows - 1) * _GAP_PX + _BOTTOM_PX + 30
    plot_h = height - _TOP_PX - _BOTTOM_PX
    h_gap = 0.07
    width = (1 - h_gap * (columns - 1)) / columns
    tick = 6 if n_steps_hours <= 24 else 12
    layout: dict = {"annotations": [], "shapes": []}
    data = []
    for i, f in enumerate(features):
        r, c = divmod(i, columns)
        k = "" if i == 0 else str(i + 1)
        x0 = c * (width + h_gap)
        top_px = r * (_PANEL_PX + _GAP_PX)
        y1 = 1 - top_px / plot_h
        y0 = 1 - (top_px + _PANEL_PX) / plot_h
        layout[f"xaxis{k}"] = {"domain": [x0, x0 + width], "anchor": f"y{k}", "range": [-0.5, n_steps_hours + 0.5], "dtick": tick, "tickangle": 0, "tickfont": {"size": 10}}
        layout[f"yaxis{k}"] = {"domain": [y0, y1], "anchor": f"x{k}", "tickfont": {"size": 10}, "nticks": 4}
        title = feature_title(f)
        layout["annotations"].append(
            {"text": literal(title if len(title) <= 38 else title[:37] + "…"), "x": x0, "y": y1, "xref": "paper", "yref": "paper", "showarrow": False,
             "xanchor": "left", "yanchor": "bottom", "font": {"size": 12}}
        )
        part = by_feature[f["name"]]
        data.append(
            {
                "type": "scatter",
                "x": part["hour"].tolist(),
                "y": part["value"].tolist(),
                "xaxis": f"x{k}",
                "yaxis": f"y{k}",
                "mode": "lines+markers",
                "marker": {"size": 5, "color": MODALITY_COLOURS["ehr"]},
                "line": {"width": 1, "color": MODALITY_COLOURS["ehr"]},
                "showlegend": False,
                "hovertemplate": f"{literal(feature_title(f))}: %{{y}}<br>hour %{{x}}<extra></extra>",
            }
        )
        if ctx.signal_time_h is not None:
            layout["shapes"].append(
                {"type": "line", "x0": ctx.signal_time_h, "x1": ctx.signal_time_h, "y0": 0, "y1": 1, "xref": f"x{k}", "yref": f"y{k} domain",
                 "line": {"dash": "dash", "color": MODALITY_COLOURS["sig"], "width": 1.5}}
            )
    layout["annotations"].append(
        {"text": "hours since ICU admission", "x": 0.5, "y": 0, "xref": "paper", "yref": "paper", "yshift": -26, "showarrow": False, "yanchor": "top", "font": {"size": 12}}
    )
    data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines+markers", "marker": {"color": MODALITY_COLOURS["ehr"], "size": 5},
                 "line": {"color": MODALITY_COLOURS["ehr"]}, "name": "observed value (EHR)"})
    if ctx.signal_time_h is not None:
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines", "line": {"dash": "dash", "color": MODALITY_COLOURS["sig"]},
                     "name": f"{literal(ctx.signal_short_label)} recorded (hour {ctx.signal_time_h:.1f})"})
    fig = go.Figure(data=data, layout=layout)
    base_layout(fig, height=height, legend_below=False)
    fig.update_layout(margin=dict(t=_TOP_PX, b=_BOTTOM_PX, l=10, r=10), legend=dict(y=1 + 28 / plot_h, yanchor="bottom"))
    measured = ", ".join(literal(feature_title(f)) for f in features[:6]) + ("…" if len(features) > 6 else "")
    return with_alt(fig, f"EHR values observed in the first {n_steps_hours:g} h ({len(features)} features measured): {measured}.")


def envelope(t: np.ndarray, y: np.ndarray, buckets: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """At most ``2 * buckets`` points that draw like the full trace: each bucket's minimum and
    maximum, in time order, so every peak (a QRS, an artefact) stays visible on screen."""
    n = len(y)
    if n <= 2 * buckets or not np.isfinite(y).all():
        return t, y
    edges = np.linspace(0, n, buckets + 1).astype(int)
    idx = []
    for a, b in zip(edges[:-1], edges[1:]):
        seg = y[a:b]
        i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        idx += [min(i, j), max(i, j)]
    idx = np.asarray(idx)
    return t[idx], y[idx]


def signal_figure(ctx: StayContext, channels: list[str] | None = None, attention: SignalAttention | None = None) -> go.Figure | None:
    """The biosignal strip, one row per channel; None when the stay has no biosignal.

    A recording longer than an hour (bedside series) is drawn against hours with its observed
    points marked; an ECG against seconds. ``attention``: the attention the
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
        x, y = envelope(t, ctx.signal[k])
        fig.add_scatter(
            x=x,
            y=y,
            mode="lines+markers" if in_hours else "lines",
            connectgaps=True,
            marker=dict(size=4),
            line=dict(width=1, color=OKABE_ITO["black"]),
            name=literal(ch),
            showlegend=False,
            hovertemplate=f"{literal(ctx.signal_channel_labels[k])}: %{{y:.2f}} {literal(ctx.signal_units[k])}<br>%{{x:.2f}} {unit}<extra></extra>",
            row=i + 1,
            col=1,
        )
        fig.update_yaxes(title_text=f"{literal(ch)} ({literal(ctx.signal_units[k])})", row=i + 1, col=1, title_font_size=11)
    if attention is not None:
        seconds, weight = attention.seconds, attention.weights
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
    fig.update_xaxes(title_text="hours since ICU admission" if in_hours else f"{literal(ctx.signal_short_label)} time (s)", row=len(channels) + extra, col=1)
    if attention is not None:
        fig.update_yaxes(title_text="attention<br>from EHR", row=len(channels) + 1, col=1, title_font_size=11)
    when = f" recorded at hour {ctx.signal_time_h:.1f}" if ctx.signal_time_h is not None else ""
    base_layout(fig, title=f"{literal(ctx.signal_label)}{when}", height=110 * len(channels) + 80 * extra + 90)
    text = f"{literal(ctx.signal_label)}{when}: channels {literal(', '.join(channels))}"
    if attention is not None:
        peak = int(np.argmax(attention.weights))
        text += f"; the EHR attends most to {attention.seconds[peak] * scale:.2f} {unit}"
    return with_alt(fig, text + ".")
