"""Figures of input attributions (Integrated Gradients): EHR features x hours, static facts, the biosignal."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.explain.input_attribution import InputAttribution
from lemof.plots.style import DIVERGING, LENGTHENS, LOG_SCALE, MODALITY_COLOURS, SHORTENS, base_layout, text_px, with_alt
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
            colorbar=dict(title=dict(text=f"effect ({LOG_SCALE})", side="right"), tickvals=[-span, 0, span], ticktext=["shortens", "0", "lengthens"]),
            hovertemplate="%{y} at hour %{x:.1f}<br>%{z:+.4f} on the " + LOG_SCALE + "<extra></extra>",
        )
    )
    fig.update_xaxes(title="hours since ICU admission")
    fig.update_yaxes(autorange="reversed", automargin=True)
    base_layout(fig, title="EHR: which value at which hour moved the prediction", subtitle=f"{LENGTHENS.capitalize()} lengthens, {SHORTENS} shortens; up to {span:.3f} on the {LOG_SCALE}",
                height=max(340, 22 * len(names) + 150), legend_above=True)
    f, t = np.unravel_index(int(np.argmax(np.abs(z))), z.shape)
    return with_alt(fig, f"Integrated Gradients over EHR features and hours; the largest is {names[f]} at hour {attr.ehr_hours[t]:.1f} ({z[f, t]:+.3f} on the {LOG_SCALE}, log1p of days).")


def signal_attribution_figure(attr: InputAttribution, sig_label: str = "ECG") -> go.Figure | None:
    """Attribution of each biosignal channel over time; None when the stay has no biosignal."""
    if attr.sig is None:
        return None
    values = np.asarray(attr.sig)
    seconds = np.asarray(attr.sig_seconds)
    in_hours = seconds.max() > 3600
    x = seconds / 3600 if in_hours else seconds
    fig = make_subplots(rows=len(attr.sig_channels), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    span = float(np.abs(values).max()) or 1e-9
    unit = "h" if in_hours else "s"
    sig_label = literal(sig_label)
    names = [literal(c) for c in attr.sig_channels]
    for i, (name, row) in enumerate(zip(names, values)):
        fig.add_scatter(x=x, y=row, mode="lines", fill="tozeroy", line=dict(color=MODALITY_COLOURS["sig"], width=1), name=name, showlegend=False, row=i + 1, col=1,
                        hovertemplate=f"{name} at %{{x:.2f}} {unit}<br>%{{y:+.4f}} on the {LOG_SCALE}<extra></extra>")
        # one tick (0) per row: the rows share one scale, given in the subtitle, and ±ticks of neighbouring rows collided
        fig.update_yaxes(range=[-1.1 * span, 1.1 * span], zeroline=True, zerolinecolor="#444", tickvals=[0], row=i + 1, col=1)
        # the channel's name, horizontal: as a rotated axis title "I" and "II" read as "—" and "="
        fig.add_annotation(text=name, xref="paper", x=0, xanchor="right", xshift=-22, yref=f"y{'' if i == 0 else i + 1} domain", y=0.5, yanchor="middle",
                           showarrow=False, font=dict(size=12))
    fig.update_xaxes(title_text="hours since ICU admission" if in_hours else f"{sig_label} time (s)", row=len(attr.sig_channels), col=1)
    base_layout(fig, title=f"{sig_label}: which part of the recording moved the prediction",
                subtitle=f"Above 0 lengthens, below shortens; each row ±{span:.3f} on the {LOG_SCALE}", height=90 * len(attr.sig_channels) + 150, legend_above=True)
    fig.update_layout(margin=dict(l=30 + int(max(text_px(n, 12) for n in names))))
    c, t = np.unravel_index(int(np.argmax(np.abs(values))), values.shape)
    return with_alt(fig, f"Integrated Gradients over the {sig_label}; the largest is channel {literal(attr.sig_channels[c])} at {x[t]:.2f} {'h' if in_hours else 's'} ({values[c, t]:+.4f} on the {LOG_SCALE}, log1p of days).")


def static_attribution_figure(attr: InputAttribution) -> go.Figure:
    """The static facts' attributions as horizontal bars (EHR blue; the direction is the sign)."""
    raw = list(attr.static)
    vals = [attr.static[n] for n in raw]
    names = [literal(n) for n in raw]
    span = max([abs(v) for v in vals] + [1e-9])
    fig = go.Figure(go.Bar(x=vals, y=[n.replace("_", " ") for n in names], orientation="h", marker_color=MODALITY_COLOURS["ehr"],
                           hovertemplate="%{y}: %{x:+.4f} on the " + LOG_SCALE + "<extra></extra>"))
    fig.update_xaxes(title=f"{LOG_SCALE}: ← shortens · lengthens →", zeroline=True, zerolinecolor="#444", range=[-1.15 * span, 1.15 * span])
    fig.update_yaxes(automargin=True)
    base_layout(fig, title="Static facts: how each moved the prediction", subtitle=f"On the {LOG_SCALE} (log of days), where the effects add up", height=60 + 28 * max(len(names), 3) + 100, legend_above=True)
    text = ", ".join(f"{n.replace('_', ' ')} {v:+.3f}" for n, v in sorted(zip(names, vals), key=lambda p: -abs(p[1])))
    return with_alt(fig, f"Attribution of the static facts ({LOG_SCALE}, log1p of days): {text}.")
