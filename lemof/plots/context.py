"""Figures of a stay's patient context: the EHR timeline and the biosignal strip."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.data.bundle import feature_title
from lemof.data.display import fmt_value
from lemof.data.patient import StayContext
from lemof.explain.signal_where import attention_peak
from lemof.explain.views import SignalAttention
from lemof.plots.style import MODALITY_COLOURS, OKABE_ITO, base_layout, with_alt
from lemof.plots.text import literal

_STRIP_PX, _TITLE_PX, _TOP_PX, _BOTTOM_PX = 56, 22, 40, 64  # a strip, the title above it, legend, hours
_REFERENCE_FILL = "#E6E6E6"  # the adult reference range: a light grey band
_OUTSIDE = "#003A5D"  # a value outside it: a darker EHR blue, and a larger diamond (not colour alone)


def panel_range(meta: dict, values: np.ndarray) -> tuple[float, float]:
    """The y-span of a feature's timeline panel, in display units, that does not exaggerate: it
    holds every value and at least the feature's ``axis_range``, else its adult reference range
    padded by half its width on each side (potassium 3.5–5.0 -> 2.75–5.75 mmol/L), so 12.1 -> 12.0
    g/dL haemoglobin is a small step; a feature with neither spans at least ±10 % of its level.
    Never below zero for a quantity that is never negative."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    normal, axis = meta.get("normal_range"), meta.get("axis_range")
    if axis:
        lo, hi = float(axis[0]), float(axis[1])
    elif normal:
        pad = (float(normal[1]) - float(normal[0])) / 2
        lo, hi = float(normal[0]) - pad, float(normal[1]) + pad
    else:
        lo = hi = None
    if len(v):
        lo = float(v.min()) if lo is None else min(lo, float(v.min()))
        hi = float(v.max()) if hi is None else max(hi, float(v.max()))
    if lo is None or hi is None:
        return 0.0, 1.0
    mid = (lo + hi) / 2
    half = max((hi - lo) / 2, 0.1 * abs(mid), 1e-6)
    lo, hi = mid - half, mid + half
    margin = 0.06 * (hi - lo)  # a marker at the edge is drawn whole
    floor = min([0.0, *v.tolist(), *([float(normal[0])] if normal else []), *([float(axis[0])] if axis else [])])
    return max(lo - margin, floor - margin), hi + margin


def timeline_figure(ctx: StayContext, n_steps_hours: float, columns: int = 3) -> go.Figure:
    """The EHR values *measured* in this stay's window as one flowsheet: a strip per feature,
    vitals first, then labs, in ``columns`` columns that share the hours across.

    Each strip spans at least the feature's adult reference range, padded (``panel_range``), shaded
    light grey, its bounds the strip's two ticks (a feature without one: its lowest and highest
    value); values outside it are larger dark-blue diamonds, inside it blue dots. Units are in the
    strip titles; values are hovered as charted (``lemof.data.display``). Only observed values are
    drawn, joined by lines; features never measured are left out here (``StayContext.unmeasured``
    lists them). The biosignal's recording time is a dashed orange line across each column.

    One subplot per column, not per feature: Plotly's cost in page elements grows with the square
    of the number of subplots (19 panels drew about 2,500 elements; this draws a few hundred plus
    one per value). One trace per feature, no per-point annotation.
    """
    by_feature = {name: part for name, part in ctx.timeline.groupby("feature", sort=False)}
    order = {"vital": 0, "lab": 1}
    features = sorted((f for f in ctx.ehr_features if f["name"] in by_feature), key=lambda f: order.get(str(f.get("group", "")), 2))
    columns = max(1, min(columns, len(features) or 1))
    rows = max(math.ceil(len(features) / columns), 1)
    step = 1 + _TITLE_PX / _STRIP_PX  # a strip is 1 y-unit high, its title above it
    height = _TOP_PX + rows * (_STRIP_PX + _TITLE_PX) + _BOTTOM_PX
    h_gap = 0.1
    width = (1 - h_gap * (columns - 1)) / columns
    tick = 6 if n_steps_hours <= 24 else 12
    layout: dict = {"annotations": [], "shapes": []}
    data = []
    ticks: dict[int, tuple[list[float], list[str]]] = {c: ([], []) for c in range(columns)}
    outside_names: list[str] = []
    for i, f in enumerate(features):
        c, r = divmod(i, rows)  # down each column first, so vitals read down the first column
        k = "" if c == 0 else str(c + 1)
        base = (rows - 1 - r) * step
        part = by_feature[f["name"]]
        values = part["value"].to_numpy(dtype=float) * float(f.get("factor", 1.0))  # display unit
        lo, hi = panel_range(f, values)

        def at(v, lo=lo, hi=hi, base=base):  # a display value -> its height in the column
            return base + (np.asarray(v, dtype=float) - lo) / (hi - lo)

        normal = f.get("normal_range")
        outside = (values < normal[0]) | (values > normal[1]) if normal else np.zeros(len(values), dtype=bool)
        if outside.any():
            outside_names.append(f"{feature_title(f)} ({int(outside.sum())} of {len(values)})")
        marks = [float(normal[0]), float(normal[1])] if normal else sorted({float(values.min()), float(values.max())})
        if len(marks) == 2 and float(at(marks[1]) - at(marks[0])) < 0.3:  # two labels would overlap: one, for the span
            ticks[c][0].append(float(at(sum(marks) / 2)))
            ticks[c][1].append(f"{fmt_value(f, marks[0], unit=False)}–{fmt_value(f, marks[1], unit=False)}")
        else:
            ticks[c][0].extend(float(at(m)) for m in marks)
            ticks[c][1].extend(fmt_value(f, m, unit=False) for m in marks)
        title = feature_title(f)
        layout["annotations"].append(
            {"text": literal(title if len(title) <= 38 else title[:37] + "…"), "x": 0, "y": base + 1, "xref": f"x{k} domain", "yref": f"y{k}",
             "showarrow": False, "xanchor": "left", "yanchor": "bottom", "font": {"size": 12}}
        )
        if normal:
            layout["shapes"].append(
                {"type": "rect", "x0": 0, "x1": 1, "xref": f"x{k} domain", "y0": float(at(normal[0])), "y1": float(at(normal[1])), "yref": f"y{k}",
                 "fillcolor": _REFERENCE_FILL, "line": {"width": 0}, "layer": "below"}
            )
        decimals = f.get("decimals")
        y_format = f":.{int(decimals)}f" if decimals is not None and f.get("kind", "number") != "flag" else ""
        unit = str(f.get("unit", "") or "")
        ref = f" (reference {fmt_value(f, normal[0], unit=False)}–{fmt_value(f, normal[1])})" if normal else ""
        data.append(
            {
                "type": "scatter",
                "x": part["hour"].tolist(),
                "y": at(values).tolist(),
                "customdata": values.tolist(),
                "xaxis": f"x{k}",
                "yaxis": f"y{k}",
                "mode": "lines+markers",
                "marker": {"size": np.where(outside, 8, 5).tolist(), "color": np.where(outside, _OUTSIDE, MODALITY_COLOURS["ehr"]).tolist(),
                           "symbol": np.where(outside, "diamond", "circle").tolist()},
                "line": {"width": 1, "color": MODALITY_COLOURS["ehr"]},
                "showlegend": False,
                "name": literal(f.get("label", f["name"])),
                "hovertemplate": f"{literal(f.get('label', f['name']))}: %{{customdata{y_format}}} {literal(unit)}{literal(ref)}<br>hour %{{x}}<extra></extra>",
            }
        )
    for c in range(columns):
        k = "" if c == 0 else str(c + 1)
        x0 = c * (width + h_gap)
        layout[f"xaxis{k}"] = {"domain": [x0, x0 + width], "anchor": f"y{k}", "range": [-0.5, n_steps_hours + 0.5], "dtick": tick, "tickangle": 0,
                               "tickfont": {"size": 10}, "showgrid": True, "gridcolor": "#F0F0F0", "zeroline": False, "fixedrange": True}
        layout[f"yaxis{k}"] = {"domain": [0, 1], "anchor": f"x{k}", "range": [-0.05, rows * step - (step - 1) + _TITLE_PX / _STRIP_PX], "tickmode": "array",
                               "tickvals": ticks[c][0], "ticktext": ticks[c][1], "tickfont": {"size": 10}, "showgrid": True, "gridcolor": "#F0F0F0",
                               "zeroline": False, "fixedrange": True}
        if ctx.signal_time_h is not None:
            layout["shapes"].append(
                {"type": "line", "x0": ctx.signal_time_h, "x1": ctx.signal_time_h, "y0": 0, "y1": 1, "xref": f"x{k}", "yref": f"y{k} domain",
                 "line": {"dash": "dash", "color": MODALITY_COLOURS["sig"], "width": 1.5}}
            )
    layout["annotations"].append(
        {"text": "hours since ICU admission", "x": 0.5, "y": 0, "xref": "paper", "yref": "paper", "yshift": -26, "showarrow": False, "yanchor": "top", "font": {"size": 12}}
    )
    # the legend: what the band and the diamonds mean (a blue dot is a value: no entry, so the legend stays one row)
    if any(f.get("normal_range") for f in features):
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "marker": {"color": _REFERENCE_FILL, "size": 12, "symbol": "square"},
                     "name": "adult reference range"})
    if outside_names:
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "marker": {"color": _OUTSIDE, "size": 8, "symbol": "diamond"},
                     "name": "outside the range"})
    if ctx.signal_time_h is not None:
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines", "line": {"dash": "dash", "color": MODALITY_COLOURS["sig"]},
                     "name": f"{literal(ctx.signal_short_label)} recorded (hour {ctx.signal_time_h:.1f})"})
    fig = go.Figure(data=data, layout=layout)
    base_layout(fig, height=height, legend_below=False)
    plot_h = height - _TOP_PX - _BOTTOM_PX
    fig.update_layout(margin=dict(t=_TOP_PX, b=_BOTTOM_PX, l=10, r=10), legend=dict(y=1 + 12 / plot_h, yanchor="bottom"))
    measured = ", ".join(literal(feature_title(f)) for f in features[:6]) + ("…" if len(features) > 6 else ".")
    text = f"EHR values observed in the first {n_steps_hours:g} h ({len(features)} features measured): {measured}"
    if outside_names:
        text += f" Outside the adult reference range: {literal(', '.join(outside_names))}."
    return with_alt(fig, text)


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
        fig.update_yaxes(title_text=f"{literal(ctx.signal_channel_labels[k])}<br>({literal(ctx.signal_units[k])})", row=i + 1, col=1, title_font_size=10)
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
    labels = [ctx.signal_channel_labels[ctx.signal_channels.index(c)] for c in channels]
    text = f"{literal(ctx.signal_label)}{when}: {literal(', '.join(labels))}"
    peak = attention_peak(attention.weights, attention.seconds) if attention is not None else None  # edges left out (lemof.explain.signal_where)
    if peak is not None:
        text += f"; the EHR attends most to {peak * scale:.1f} {unit}"
    return with_alt(fig, text + ".")
