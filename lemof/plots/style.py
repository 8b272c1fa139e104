"""Shared look of every figure: a colour-blind-safe palette (Okabe-Ito) and display names."""

from __future__ import annotations

import plotly.graph_objects as go

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
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
POSITIVE, NEGATIVE = OKABE_ITO["vermillion"], OKABE_ITO["blue"]  # longer / shorter stay
HEAD_GROUP_COLOURS = {"modality": OKABE_ITO["purple"], "level": OKABE_ITO["green"], "total": OKABE_ITO["black"]}
ABSENT = "#D0D0D0"


def modality_label(modality: str, sig_label: str = "ECG") -> str:
    return "EHR" if modality == "ehr" else sig_label


def level_label(key: str, sig_label: str = "ECG") -> str:
    """``ehr.L2`` -> ``EHR level 2``."""
    modality, level = key.split(".", 1)
    return f"{modality_label(modality, sig_label)} level {level.lstrip('L')}"


def head_label(key: str, sig_label: str = "ECG") -> str:
    """Display name of a meta-learner input head."""
    if key == "fusion":
        return "Cross-modal fusion"
    modality, rest = key.split(".", 1)
    if rest == "global":
        return f"{modality_label(modality, sig_label)} modality head"
    return f"{level_label(key, sig_label)} head"


def head_group(key: str) -> str:
    """``modality`` for the global (modality-level) heads, ``level`` for the level-specific ones."""
    return "modality" if key.endswith(".global") else "level"


def base_layout(fig: go.Figure, *, title: str | None = None, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=60 if title else 20, b=10),
        template="plotly_white",
        font=dict(size=13),
        title_font=dict(size=15),
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0),
    )
    return fig
