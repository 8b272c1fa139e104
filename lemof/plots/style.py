"""Shared look of every figure: one colour-blind-safe palette (Okabe & Ito 2008), each colour with
one meaning everywhere, display names, and the one-line text alternative every figure carries.

Meanings (one colour, one meaning, on every page):
- EHR: blue; biosignal (ECG or bedside series): orange; both together (the cross-modal / fused
  part of the model): reddish purple — wherever a modality is drawn, a head included;
- head kinds, where a chart compares kinds rather than modalities: modality-level vermillion,
  cross-modal reddish purple (the fused colour), level-specific bluish green; starting values
  (bias) and totals black;
- absent / not measured / reference lines: grey;
- signed attributions in heatmaps: one diverging scale, teal shortens ↔ red lengthens (its
  colour bar says so; no blue, so it never reads as EHR); bar charts show the sign by
  direction, not by colour;
- attention weights: Viridis (sequential).

Layout (``base_layout(..., legend_above=True)``, every figure of a stay's explanation): the title
(and its subtitle) at the top left, the legend, horizontal, under it and above the plot area, axes
with ``automargin`` so tick labels and axis titles push the margins instead of being cut; nothing
is drawn over an axis title. Figures are sized for a column of about 650 px (a 1440 px page in
two columns; 1280 px still fits). ``text_px`` is the rough text width the titles are checked with.

Text: every figure function takes plain text (cohort and run text included) and escapes what it
puts into the figure with ``lemof.plots.text.literal`` (Plotly reads markup in figure text); the
text alternative is stored in the same form and ``alt_text`` returns it as plain text.
"""

from __future__ import annotations

import plotly.graph_objects as go

from lemof.models.spec import TABULAR_HEAD, TABULAR_HEAD_LABEL
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
FUSED_COLOUR = OKABE_ITO["purple"]  # the cross-modal (fused) part of the model: both modalities together
MODALITY_COLOURS = {"ehr": OKABE_ITO["blue"], "sig": OKABE_ITO["orange"], "fused": FUSED_COLOUR}
HEAD_KIND_COLOURS = {"modality-level": OKABE_ITO["vermillion"], "cross-modal": FUSED_COLOUR, "level-specific": OKABE_ITO["green"]}
TOTAL_COLOUR = OKABE_ITO["black"]
ABSENT = "#D0D0D0"
REFERENCE = OKABE_ITO["grey"]
# Diverging scale for signed attributions: teal shortens, red lengthens (the teal end of ColorBrewer
# BrBG, the red end of RdBu; both ends differ in lightness and on the blue-yellow axis, so they stay
# apart for red-green colour-blind readers). No blue: blue means EHR.
DIVERGING = [[0.0, "#01665E"], [0.25, "#80CDC1"], [0.5, "#F7F7F7"], [0.75, "#F4A582"], [1.0, "#B2182B"]]
SHORTENS, LENGTHENS = "teal", "red"  # the words for DIVERGING's two ends
SEQUENTIAL = "Viridis"
LOG1P_DAYS = "log1p-days"  # the unit's technical name (exports, tables for engineers)
LOG_SCALE = "log scale"  # what a figure calls it: log1p(days), where the parts of an explanation add up
COLUMN_PX = 650  # the width a figure must fit: a column of a 1440 px page (1280 px: 570 px, see base_layout)
SMALL = 11  # font size of second lines in tick labels and of notes


def modality_label(modality: str, sig_label: str = "ECG") -> str:
    return "EHR" if modality == "ehr" else sig_label


def level_label(key: str, sig_label: str = "ECG") -> str:
    """``ehr.L2`` -> ``EHR level 2``."""
    modality, level = key.split(".", 1)
    return f"{modality_label(modality, sig_label)} level {level.lstrip('L')}"


def head_modality(key: str) -> str:
    """The modality a head reads, as ``MODALITY_COLOURS`` keys it: ``fused`` for the cross-modal head,
    ``ehr`` for the tabular head (EHR-side summaries), else the head's own prefix."""
    if key == "fusion":
        return "fused"
    return "ehr" if key == TABULAR_HEAD else key.split(".", 1)[0]


def head_label(key: str, sig_label: str = "ECG") -> str:
    """Display name of a meta-learner input head."""
    if key == "fusion":
        return "Cross-modal fusion head"
    if key == TABULAR_HEAD:
        return TABULAR_HEAD_LABEL
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


TITLE_PX, SUBTITLE_PX, FONT_PX = 15, 12, 13


def text_px(text: str, size: float) -> float:
    """Rough width in pixels of one line of figure text (markup removed) in Plotly's default font:
    0.6 em per character, an upper bound for Open Sans / Arial text without wide capitals runs."""
    import re

    return 0.6 * size * len(plain(re.sub(r"<[^>]+>", "", text)))


def _legend_rows(fig: go.Figure, width: float) -> int:
    """How many rows a horizontal legend of ``fig`` takes in ``width`` pixels (0 without a legend)."""
    entries = [t for t in fig.data if t.name and t.showlegend is not False]
    if not entries or fig.layout.showlegend is False:
        return 0
    rows, used = 1, 0.0
    for t in entries:
        w = 45 + text_px(t.name, FONT_PX)  # symbol + gap + text
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def base_layout(fig: go.Figure, *, title: str | None = None, height: int = 360, legend_below: bool = True, subtitle: str | None = None,
                legend_above: bool = False) -> go.Figure:
    """The shared layout.

    ``legend_above=True`` (every figure of a stay's explanation): title (``<br>`` for more lines)
    and ``subtitle`` at the top left, the legend horizontal under them and above the plot area,
    axes with automargin so tick labels and axis titles push the margins; the top margin is
    computed in pixels from the lines of text it holds. A legend below the plot (``legend_below``)
    is placed in the plot's coordinates and can fall over the x-axis title; the older layout
    (``legend_above=False``) is kept for the figures that set their own margins and legend."""
    if not legend_above:
        if subtitle:
            title = f"{title or ''}<br><sup>{subtitle}</sup>"
        fig.update_layout(
            title=dict(text=title, x=0, xanchor="left") if title else None,
            height=height,
            margin=dict(l=10, r=10, t=70 if title and "<br>" in title else (50 if title else 20), b=10),
            template="plotly_white",
            font=dict(size=FONT_PX),
            title_font=dict(size=TITLE_PX),
            legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0) if legend_below else dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
        )
        return fig
    title_lines = (title.count("<br>") + 1) if title else 0
    sub_lines = (subtitle.count("<br>") + 1) if subtitle else 0
    top = 8 + 20 * title_lines + 17 * sub_lines + (6 if title_lines else 0)
    rows = _legend_rows(fig, COLUMN_PX // 2)  # Plotly wraps a horizontal legend at about the plot area's width
    legend_top = top
    top += 24 * rows
    if any(a.yref == "paper" and (a.y or 0) >= 1 for a in fig.layout.annotations):  # subplot titles sit just above the plot area
        top += 22
    t = dict(text=title, x=0, xanchor="left", xref="container", pad=dict(l=10), y=1 - 8 / height, yanchor="top", yref="container")
    if subtitle:
        t["subtitle"] = dict(text=subtitle, font=dict(size=SUBTITLE_PX, color="#444"))
    fig.update_layout(
        title=t if title else None,
        height=height,
        margin=dict(l=10, r=10, t=max(top + 6, 20), b=10),
        template="plotly_white",
        font=dict(size=FONT_PX),
        title_font=dict(size=TITLE_PX),
        legend=dict(orientation="h", yref="container", y=1 - legend_top / height, yanchor="top", xref="container", xanchor="left", x=0, font=dict(size=FONT_PX)),
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def days_ticks(lo_log1p: float, hi_log1p: float, max_ticks: int = 7) -> tuple[list[float], list[str]]:
    """Tick positions on a log1p-days axis with their labels in days, at most ``max_ticks`` (every
    other candidate dropped until they fit, so labels never collide in a 650 px column)."""
    import math

    candidates = [0, 0.5, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365]
    vals = [(math.log1p(d), d) for d in candidates if lo_log1p - 1e-9 <= math.log1p(d) <= hi_log1p + 1e-9]
    while len(vals) > max_ticks:
        vals = vals[::2]
    return [v for v, _ in vals], [f"{d:g} d" for _, d in vals]


def days(log1p_days: float) -> str:
    """A log1p-days value as days for a reader: ``1.68`` -> ``4.4 d`` (two decimals under 1 d)."""
    import math

    d = math.expm1(log1p_days)
    return f"{d:.2f} d" if abs(d) < 1 else f"{d:.1f} d"


def second_line(text: str) -> str:
    """A smaller second line under a tick label (figure text, already escaped)."""
    return f"<br><span style=\"font-size:{SMALL}px;color:#555\">{text}</span>"
