"""Shared look of every figure: one colour-blind-safe palette (Okabe & Ito 2008), each colour with
one meaning everywhere, display names, and the one-line text alternative every figure carries.

Meanings:
- EHR: blue; biosignal (ECG or bedside series): orange — wherever a modality is drawn;
- prediction heads: modality-level reddish purple, cross-modal sky blue, level-specific bluish
  green; bias and totals black;
- absent / not measured / reference lines: grey;
- signed attributions in heatmaps: one diverging scale, blue shortens ↔ red lengthens (its
  colour bar says so); bar charts show the sign by direction, not by colour;
- attention weights: Viridis (sequential).

Text: every figure function takes plain text (cohort and run text included) and escapes what it
puts into the figure with ``lemof.plots.text.literal`` (Plotly reads markup in figure text); the
text alternative is stored in the same form and ``alt_text`` returns it as plain text.
"""

from __future__ import annotations

import plotly.graph_objects as go

from lemof.plots.text import plain

OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
    "grey": "#999999",
}
MODALITY_COLOURS = {"ehr": OKABE_ITO["blue"], "sig": OKABE_ITO["orange"]}
HEAD_KIND_COLOURS = {"modality-level": OKABE_ITO["purple"], "cross-modal": OKABE_ITO["sky"], "level-specific": OKABE_ITO["green"]}
TOTAL_COLOUR = OKABE_ITO["black"]
ABSENT = "#D0D0D0"
REFERENCE = OKABE_ITO["grey"]
# Diverging scale for signed attributions (ColorBrewer RdBu, colour-blind safe): blue shortens, red lengthens.
DIVERGING = [[0.0, "#2166AC"], [0.25, "#92C5DE"], [0.5, "#F7F7F7"], [0.75, "#F4A582"], [1.0, "#B2182B"]]
SEQUENTIAL = "Viridis"
LOG1P_DAYS = "log1p-days"


def modality_label(modality: str, sig_label: str = "ECG") -> str:
    return "EHR" if modality == "ehr" else sig_label


def level_label(key: str, sig_label: str = "ECG") -> str:
    """``ehr.L2`` -> ``EHR level 2``."""
    modality, level = key.split(".", 1)
    return f"{modality_label(modality, sig_label)} level {level.lstrip('L')}"


def head_label(key: str, sig_label: str = "ECG") -> str:
    """Display name of a meta-learner input head."""
    if key == "fusion":
        return "Cross-modal fusion head"
    modality, rest = key.split(".", 1)
    if rest == "global":
        return f"{modality_label(modality, sig_label)} modality head"
    return f"{level_label(key, sig_label)} head"


def with_alt(fig: go.Figure, text: str) -> go.Figure:
    """Attach the one-line text alternative of a figure (shown under it for screen readers);
    ``text`` is figure text (its cohort parts escaped with ``literal``, like the figure's own)."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    meta["alt"] = text
    fig.update_layout(meta=meta)
    return fig


def alt_text(fig: go.Figure) -> str:
    """The figure's one-line text alternative, as plain text."""
    meta = fig.layout.meta
    return plain(str(meta.get("alt", ""))) if isinstance(meta, dict) else ""


def base_layout(fig: go.Figure, *, title: str | None = None, height: int = 360, legend_below: bool = True) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left") if title else None,
        height=height,
        margin=dict(l=10, r=10, t=70 if title and "<br>" in title else (50 if title else 20), b=10),
        template="plotly_white",
        font=dict(size=13),
        title_font=dict(size=15),
        legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0) if legend_below else dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
    )
    return fig


def days_ticks(lo_log1p: float, hi_log1p: float) -> tuple[list[float], list[str]]:
    """Tick positions on a log1p-days axis with their labels in days."""
    import math

    candidates = [0, 0.5, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180]
    vals = [(math.log1p(d), d) for d in candidates if lo_log1p - 1e-9 <= math.log1p(d) <= hi_log1p + 1e-9]
    return [v for v, _ in vals], [f"{d:g} d" for _, d in vals]
