"""Figures of input attributions (Integrated Gradients): EHR features x hours, biosignal over time."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.explain.input_attribution import InputAttribution
from lemof.plots.style import NEGATIVE, OKABE_ITO, POSITIVE, base_layout

_DIVERGING = [[0.0, NEGATIVE], [0.5, "#FFFFFF"], [1.0, POSITIVE]]  # blue shortens, vermillion lengthens


def ehr_attribution_figure(attr: InputAttribution, labels: dict[str, str] | None = None) -> go.Figure:
    """Heatmap of each EHR feature's attribution at each hour (signed, centred at zero)."""
    z = np.asarray(attr.ehr)
    names = [(labels or {}).get(f, f) for f in attr.ehr_features]
    span = float(np.abs(z).max()) or 1e-9
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=attr.ehr_hours,
            y=names,
            zmin=-span,
            zmax=span,
            colorscale=_DIVERGING,
            colorbar=dict(title="log1p-days"),
            hovertemplate="%{y} at hour %{x:.1f}<br>attribution %{z:+.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="hours since admission")
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, title="EHR: which feature at which hour moved the prediction (red lengthens)", height=max(320, 22 * len(names) + 120))


def signal_attribution_figure(attr: InputAttribution, sig_label: str = "ECG") -> go.Figure | None:
    """Attribution of each biosignal channel over time; None when the stay has no biosignal."""
    if attr.sig is None:
        return None
    values = np.asarray(attr.sig)
    seconds = np.asarray(attr.sig_seconds)
    in_hours = seconds.max() > 3600
    x = seconds / 3600 if in_hours else seconds
    fig = make_subplots(rows=len(attr.sig_channels), cols=1, shared_xaxes=True, vertical_spacing=0.03)
    for i, (name, row) in enumerate(zip(attr.sig_channels, values)):
        fig.add_bar(x=x, y=row, marker_color=np.where(row > 0, POSITIVE, NEGATIVE), name=name, showlegend=False, row=i + 1, col=1)
        fig.update_yaxes(title_text=name, row=i + 1, col=1, title_font_size=11)
    fig.update_xaxes(title_text=f"time ({'h since admission' if in_hours else 's'})", row=len(attr.sig_channels), col=1)
    fig.update_layout(bargap=0)
    return base_layout(fig, title=f"{sig_label}: which part of the recording moved the prediction", height=90 * len(attr.sig_channels) + 110)


def static_attribution_figure(attr: InputAttribution) -> go.Figure:
    names = list(attr.static)
    vals = [attr.static[n] for n in names]
    fig = go.Figure(go.Bar(x=vals, y=[n.replace("_", " ") for n in names], orientation="h", marker_color=[POSITIVE if v > 0 else NEGATIVE for v in vals]))
    fig.update_xaxes(title="attribution (log1p-days)", zeroline=True, zerolinecolor=OKABE_ITO["black"])
    return base_layout(fig, title="Static facts", height=220)
