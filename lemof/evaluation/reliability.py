"""Checking predicted probabilities against outcomes: the reliability table and the Brier score.

A reliability table puts every stay in one of ``RELIABILITY_BINS`` equal-width bins of predicted
probability and gives, per bin, the count, the mean predicted probability and the observed share
of the outcome; the Brier score is the mean squared difference of probability and outcome.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RELIABILITY_BINS = 10


def bin_of(p: np.ndarray, bins: int = RELIABILITY_BINS) -> np.ndarray:
    """The bin of each probability (1.0 falls in the last)."""
    return np.clip((np.asarray(p, dtype=float) * bins).astype(int), 0, bins - 1)


def bin_label(lo: float, hi: float) -> str:
    return f"{lo:.1f}–{hi:.1f}"


def reliability_table(p: np.ndarray, outcome: np.ndarray, bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Equal-width bins of predicted probability: lo, hi, count, mean predicted, observed share
    (NaN for an empty bin; every stay falls in exactly one bin, 1.0 in the last)."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(outcome, dtype=float)
    b = bin_of(p, bins)
    count = np.bincount(b, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(b, weights=p, minlength=bins) / count
        share = np.bincount(b, weights=y, minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)
    return pd.DataFrame({"bin": np.arange(bins), "lo": edges[:-1], "hi": edges[1:], "n": count, "mean_predicted": mean_p, "observed": share})


def brier_score(p: np.ndarray, outcome: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(outcome, dtype=float)) ** 2))
