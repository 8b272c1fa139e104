"""Figures of input attributions (Integrated Gradients): EHR features x hours, static facts, the biosignal."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.explain.input_attribution import InputAttribution
from lemof.plots.style import DIVERGING, LOG1P_DAYS, MODALITY_COLOURS, base_layout, with_alt
from lemof.plots.text import literal


def ehr_attribution_figure(attr: InputAttribution, labels: dict[str, str] | None = None) -> go.Figure:
    """Heatmap of each EHR feature's attribution at each hour (signed, centred at zero)."""
    z = np.asarray(attr.ehr)
    names = [literal((labels or {}).get(f, f)) for f in attr.ehr_features]
    span = float(np.abs(z).max()) or 1e-9
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=attr.ehr_hours,
            y=names,
            zmin=-span,
            zmax=span,
            colorscale=DIVERGING,
            colorbar=dict(title=dict(text=f"attribution ({LOG1P_DAYS})", side="right"), tickvals=[-span, 0, span], ticktext=[f"{-span:.3f} shortens", "0", f"{span:+.3f} lengthens"]),
            hovertemplate="%{y} at hour %{x:.1f}<br>attribution %{z:+.4f} " + LOG1P_DAYS + "<extra></extra>",
        )
    )
    fig.update_xaxes(title="hours since ICU admission")
    fig.update_yaxes(autorange="reversed", automargin=True)
    base_layout(fig, title="EHR: which feature at which hour moved the prediction (red lengthens, blue shortens)", height=max(320, 22 * len(names) + 130))
    f, t = np.unravel_index(int(np.argmax(np.abs(z))), z.shape)
    return with_alt(fig, f"Integrated Gradients over EHR features and hours; the largest is {names[f]} at hour {attr.ehr_hours[t]:.1f} ({z[f, t]:+.3f} log1p-days).")


def signal_attribution_figure(attr: InputAttribution, sig_label: str = "ECG") -> go.Figure | None:
    """Attribution of each biosignal channel over time; None when the stay has no biosignal."""
    if attr.sig is None:
        return None
    values = np.asarray(attr.sig)
    seconds = np.asarray(attr.sig_seconds)
    in_hours = seconds.max() > 3600
    x = seconds / 3600 if in_hours else seconds
    fig = make_subplots(rows=len(attr.sig_channels), cols=1, shared_xaxes=True, vertical_spacing=0.03)
    span = float(np.abs(values).max()) or 1e-9
    unit = "h" if in_hours else "s"
    sig_label = literal(sig_label)
    for i, (name, row) in enumerate(zip(map(literal, attr.sig_channels), values)):
        fig.add_scatter(x=x, y=row, mode="lines", fill="tozeroy", line=dict(color=MODALITY_COLOURS["sig"], width=1), name=name, showlegend=False, row=i + 1, col=1,
                        hovertemplate=f"{name} at %{{x:.2f}} {unit}<br>%{{y:+.4f}} {LOG1P_DAYS}<extra></extra>")
        fig.update_yaxes(title_text=f"{name}", row=i + 1, col=1, title_font_size=11, range=[-1.1 * span, 1.1 * span], zeroline=True, zerolinecolor="#444", nticks=3)
    fig.update_xaxes(title_text="hours since ICU admission" if in_hours else f"{sig_label} time (s)", row=len(attr.sig_channels), col=1)
    fig.add_annotation(text=f"attribution of each channel over time ({LOG1P_DAYS}); above 0 lengthens, below shortens", xref="paper", yref="paper", x=0, y=1.0, yanchor="bottom", showarrow=False, font=dict(size=11))
    base_layout(fig, title=f"{sig_label}: which part of the recording moved the prediction", height=90 * len(attr.sig_channels) + 140)
    fig.update_layout(margin=dict(t=75))
    c, t = np.unravel_index(int(np.argmax(np.abs(values))), values.shape)
    return with_alt(fig, f"Integrated Gradients over the {sig_label}; the largest is channel {literal(attr.sig_channels[c])} at {x[t]:.2f} {'h' if in_hours else 's'} ({values[c, t]:+.4f} log1p-days).")


def static_attribution_figure(attr: InputAttribution) -> go.Figure:
    raw = list(attr.static)
    vals = [attr.static[n] for n in raw]
    names = [literal(n) for n in raw]
    span = max([abs(v) for v in vals] + [1e-9])
    fig = go.Figure(go.Bar(x=vals, y=[n.replace("_", " ") for n in names], orientation="h", marker_color=MODALITY_COLOURS["ehr"],
                           hovertemplate="%{y}: %{x:+.4f} " + LOG1P_DAYS + "<extra></extra>"))
    fig.update_xaxes(title=f"attribution ({LOG1P_DAYS}): ← shortens · lengthens →", zeroline=True, zerolinecolor="#444", range=[-1.15 * span, 1.15 * span])
    fig.update_yaxes(automargin=True)
    base_layout(fig, title="Static facts", height=60 + 28 * max(len(names), 3) + 80)
    text = ", ".join(f"{n.replace('_', ' ')} {v:+.3f}" for n, v in sorted(zip(names, vals), key=lambda p: -abs(p[1])))
    return with_alt(fig, f"Attribution of the static facts (log1p-days): {text}.")
