"""Two attributions of the same kind drawn on one scale (a stay before and after a what-if edit)."""

from __future__ import annotations

import plotly.graph_objects as go

from lemof.explain.attribution import Attribution
from lemof.plots.scales import shared_range, shared_span
from lemof.plots.explanation import contributions_figure, level_shap_figure, span_of, waterfall_range
from lemof.plots.tabular import tree_shap_figure, tree_shap_range


def paired_figures(before: Attribution, after: Attribution, los_before: float, los_after: float, sig_label: str = "ECG") -> tuple[go.Figure, go.Figure]:
    """The figures of ``before`` and ``after`` (one explainer's attributions, ``method`` names it)
    with a shared axis, so a change reads as a change of length."""
    if before.method != after.method:
        raise ValueError(f"cannot pair {before.method} with {after.method}")
    if before.method == "level_shap":
        span = shared_span([span_of(before), span_of(after)])
        return (level_shap_figure(before, sig_label, span=span, prediction_days=los_before),
                level_shap_figure(after, sig_label, span=span, prediction_days=los_after))
    if before.method == "heads":
        value_range = shared_range([waterfall_range(before), waterfall_range(after)])
        return (contributions_figure(before, los_before, sig_label, value_range=value_range),
                contributions_figure(after, los_after, sig_label, value_range=value_range))
    if before.method == "tree_shap":
        value_range = shared_range([tree_shap_range(before), tree_shap_range(after)])
        return (tree_shap_figure(before, los_before, value_range=value_range, sig_label=sig_label),
                tree_shap_figure(after, los_after, value_range=value_range, sig_label=sig_label))
    raise ValueError(f"no paired figure for {before.method}")
