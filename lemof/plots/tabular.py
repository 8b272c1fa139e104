"""The tabular peer's explanation of one stay: its TreeSHAP values as a waterfall."""

from __future__ import annotations

import plotly.graph_objects as go

from lemof.explain.attribution import Attribution
from lemof.plots.style import FONT_PX, LOG_SCALE, MODALITY_COLOURS, REFERENCE, TOTAL_COLOUR, base_layout, days, days_ticks, text_px, with_alt
from lemof.plots.text import literal

TOP_FEATURES = 12


def _value_text(value: float | None, name: str = "") -> str:
    """The stay's value of summary column ``name`` as shown: yes/no for a one-hot fact or whether
    a biosignal was recorded, 'never observed' for a missing summary, else 3 significant digits."""
    if value is None:
        return "never observed"
    if name == "sig:available" or (name.startswith("static:") and "=" in name):
        return "yes" if value == 1 else "no"
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.4g}"


def _bar_label(expl: Attribution, i: int) -> str:
    """``Heart rate (bpm): mean = 92.1``; a yes/no fact in brackets: ``first careunit = SICU (yes)``."""
    text = _value_text(expl.detail["inputs"][i], expl.detail["features"][i])
    return f"{expl.names[i]} ({text})" if text in ("yes", "no") else f"{expl.names[i]} = {text}"


def tree_shap_rows(expl: Attribution, k: int = TOP_FEATURES) -> list[dict]:
    """The ``k`` largest contributions as table rows (feature, the stay's value, contribution)."""
    order, _ = expl.top(k)
    return [{"feature": expl.names[i], "this stay": _value_text(expl.detail["inputs"][i], expl.detail["features"][i]), "contribution (log1p-days)": round(expl.values[i], 4)} for i in order]


def tree_shap_range(expl: Attribution, k: int = TOP_FEATURES) -> tuple[float, float]:
    """(low, high) on log1p-days that the waterfall of ``expl`` spans (to share a scale)."""
    order, rest = expl.top(k)
    running, points = expl.base, [0.0, expl.base, expl.output]
    for phi in [expl.values[i] for i in order] + [rest]:
        running += phi
        points.append(running)
    return min(points), max(points)


def tree_shap_figure(expl: Attribution, los_days: float, k: int = TOP_FEATURES, value_range: tuple[float, float] | None = None, sig_label: str = "ECG") -> go.Figure:
    """Horizontal waterfall from the trees' base value through the ``k`` largest TreeSHAP
    contributions and all other features together to the prediction, on the log scale (log1p of
    days) where they add up exactly, the axis labelled in days; each bar's text is the running
    estimate after it, in days. EHR and static facts blue, biosignal orange; the direction
    is the sign (right lengthens the predicted stay). ``expl`` is the ``tree_shap`` attribution,
    ``los_days`` the prediction in days."""
    order, rest = expl.top(k)
    n_rest = len(expl.values) - len(order)
    labels, bases, widths, colours, texts = ["base value (average stay)"], [0.0], [expl.base], [TOTAL_COLOUR], [days(expl.base)]
    running = expl.base
    for i in order:
        labels.append(literal(_bar_label(expl, i)))
        bases.append(running)
        widths.append(expl.values[i])
        colours.append(MODALITY_COLOURS[expl.groups[i]])
        running += expl.values[i]
        texts.append(f"→ {days(running)}")
    labels.append(f"{n_rest} other features")
    bases.append(running)
    widths.append(rest)
    colours.append(REFERENCE)
    texts.append(f"→ {days(running + rest)}")
    labels.append("prediction")
    bases.append(0.0)
    widths.append(expl.output)
    colours.append(TOTAL_COLOUR)
    texts.append(f"{los_days:.1f} d")
    lo, hi = value_range if value_range is not None else tree_shap_range(expl, k)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.08 * (hi - lo) + 0.02  # the bar texts spill into the right margin (below)
    x_range = [lo - (pad if lo < 0 else 0.05), hi + pad]
    fig = go.Figure(
        go.Bar(
            y=labels, x=widths, base=bases, orientation="h", marker_color=colours, text=texts, textposition="outside",
            cliponaxis=False, hovertemplate="%{y}<br>%{text}<extra></extra>", showlegend=False,
        )
    )
    fig.add_bar(x=[None], y=[None], marker_color=MODALITY_COLOURS["ehr"], name="EHR summary or static fact")
    fig.add_bar(x=[None], y=[None], marker_color=MODALITY_COLOURS["sig"], name=f"{literal(sig_label)} summary")
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], automargin=True)
    tickvals, ticktext = days_ticks(x_range[0], x_range[1])
    fig.update_xaxes(title=f"days ({LOG_SCALE}: the parts add up)", range=x_range, tickvals=tickvals, ticktext=ticktext, zeroline=True, zerolinecolor="#444")
    base_layout(fig, title="TreeSHAP: base value + Σ contributions = prediction", subtitle=f"the {len(order)} largest of {len(expl.values)} summary features; bars end at the running estimate",
                height=max(360, 30 * len(labels) + 200), legend_above=True)
    fig.update_layout(margin=dict(r=16 + int(max(text_px(t, FONT_PX) for t in texts))))  # room for the bar texts
    top = "; ".join(f"{literal(expl.names[i])} {expl.values[i]:+.3f}" for i in order[:5])
    return with_alt(
        fig,
        f"Waterfall on the {LOG_SCALE} (log1p of days): base value {expl.base:.3f}; largest contributions {top}; {n_rest} other features {rest:+.3f}; "
        f"prediction {expl.output:.3f} on the {LOG_SCALE} = {los_days:.2f} days.",
    )
