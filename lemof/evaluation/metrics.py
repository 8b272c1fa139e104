"""LOS metrics: MAE and RMSE in days, linear-weighted kappa over 10 buckets, AUROC/AUPRC of
LOS > 7 days scored by the predicted LOS, and interval coverage. The typed reports they fill
(``LosMetrics``, ``SplitReport``, ``RunMetrics``) are the run's ``metrics.json``
(``lemof/runs/metrics_file.py``)."""

from __future__ import annotations

import numpy as np

from lemof.runs.metrics_file import LosMetrics

# Harutyunyan et al.: <1, 1-2, ..., 7-8, 8-14, >14 days.
BUCKET_EDGES_DAYS = (1, 2, 3, 4, 5, 6, 7, 8, 14)
BUCKET_LABELS = ("<1", "1-2", "2-3", "3-4", "4-5", "5-6", "6-7", "7-8", "8-14", ">14")
LONG_STAY_DAYS = 7.0


def los_bucket(days: np.ndarray) -> np.ndarray:
    """Bucket index 0..9 of each LOS in days."""
    return np.searchsorted(np.asarray(BUCKET_EDGES_DAYS, dtype=float), np.asarray(days, dtype=float), side="right")


def linear_weighted_kappa(a: np.ndarray, b: np.ndarray, n_classes: int = len(BUCKET_LABELS)) -> float:
    """Cohen's kappa with linear weights between two integer ratings in 0..n_classes-1."""
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    observed = np.zeros((n_classes, n_classes))
    np.add.at(observed, (a, b), 1)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((n_classes, n_classes))
    weights = np.abs(i - j) / (n_classes - 1)
    denom = (weights * expected).sum()
    return float(1 - (weights * observed).sum() / denom) if denom > 0 else 0.0


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count one half); None if one class is missing."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based ranks, ties share their mean rank
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the precision-recall curve as average precision (step-wise, ties grouped)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        return None
    order = np.argsort(-s, kind="mergesort")
    y_sorted, s_sorted = y[order], s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]  # thresholds at each distinct score
    tp = np.cumsum(y_sorted)[last_of_tie]
    predicted = last_of_tie + 1
    precision, recall = tp / predicted, tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def los_metrics(
    observed_days: np.ndarray,
    predicted_days: np.ndarray,
    interval_days: np.ndarray | None = None,
) -> LosMetrics:
    """MAE/RMSE in days, MAE of log1p(days), kappa over buckets, LOS > 7 d ranking, interval coverage/width."""
    y = np.asarray(observed_days, dtype=float)
    p = np.asarray(predicted_days, dtype=float)
    err = p - y
    long_stay = y > LONG_STAY_DAYS
    out = LosMetrics(
        n=int(len(y)),
        mae_days=float(np.mean(np.abs(err))),
        rmse_days=float(np.sqrt(np.mean(err**2))),
        mae_log1p=float(np.mean(np.abs(np.log1p(p) - np.log1p(y)))),
        kappa_linear_10bucket=linear_weighted_kappa(los_bucket(y), los_bucket(p)),
        auroc_los_gt7=auroc(long_stay, p),
        auprc_los_gt7=average_precision(long_stay, p),
    )
    if interval_days is not None:
        lo, hi = np.asarray(interval_days, dtype=float).T
        out.interval_coverage = float(np.mean((y >= lo) & (y <= hi)))
        out.interval_median_width_days = float(np.median(hi - lo))
    return out
