"""Axis scales shared by figures drawn side by side (several runs for one stay, or one stay before
and after a what-if edit), so that equal bars mean equal values in every panel."""

from __future__ import annotations

from collections.abc import Iterable

SPAN_MARGIN = 1.15  # room beyond the largest bar for its label


def shared_span(spans: Iterable[float]) -> float:
    """The half-width of a symmetric axis that holds every panel's bars (``span_of`` of each), with a margin."""
    return SPAN_MARGIN * max(spans)


def shared_range(ranges: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """The smallest interval holding every panel's (low, high) (``waterfall_range`` or ``tree_shap_range`` of each)."""
    ranges = list(ranges)
    return min(r[0] for r in ranges), max(r[1] for r in ranges)
