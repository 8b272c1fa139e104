"""LOS metrics: MAE and RMSE in days, linear-weighted kappa over 10 buckets, AUROC/AUPRC of
LOS > 7 days scored by the predicted LOS, and interval coverage; typed reports of a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

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
) -> "LosMetrics":
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


def _from_dict(cls, data: dict[str, Any]):
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LosMetrics:
    """Metrics of one set of predictions on one set of stays (days unless stated)."""

    n: int
    mae_days: float
    rmse_days: float
    mae_log1p: float
    kappa_linear_10bucket: float
    auroc_los_gt7: float | None = None  # LOS > 7 d scored by the predicted LOS; None if one class is missing
    auprc_los_gt7: float | None = None
    interval_coverage: float | None = None  # share of stays whose observed LOS lies in the interval
    interval_median_width_days: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LosMetrics":
        return _from_dict(cls, data)


@dataclass
class SplitReport:
    """A model on one split, next to the training-median baseline, per head and per availability."""

    model: LosMetrics
    baseline_train_median: LosMetrics
    heads_alone: dict[str, LosMetrics] = field(default_factory=dict)
    by_signal: dict[str, LosMetrics] = field(default_factory=dict)  # with_signal / without_signal

    @property
    def mae_reduction_vs_baseline(self) -> float:
        base = self.baseline_train_median.mae_days
        return 1 - self.model.mae_days / base if base > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "baseline_train_median": self.baseline_train_median.to_dict(),
            "mae_reduction_vs_baseline": self.mae_reduction_vs_baseline,
            "heads_alone": {k: v.to_dict() for k, v in self.heads_alone.items()},
            "by_signal": {k: v.to_dict() for k, v in self.by_signal.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SplitReport":
        return cls(
            model=LosMetrics.from_dict(data["model"]),
            baseline_train_median=LosMetrics.from_dict(data["baseline_train_median"]),
            heads_alone={k: LosMetrics.from_dict(v) for k, v in data.get("heads_alone", {}).items()},
            by_signal={k: LosMetrics.from_dict(v) for k, v in data.get("by_signal", {}).items()},
        )


@dataclass
class RunMetrics:
    """What ``metrics.json`` holds: the validation and test reports of a run."""

    train_median_los_days: float
    test: SplitReport | None = None
    val: SplitReport | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"train_median_los_days": self.train_median_los_days}
        for split in ("test", "val"):
            report = getattr(self, split)
            if report is not None:
                out[split] = report.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunMetrics":
        return cls(
            train_median_los_days=float(data["train_median_los_days"]),
            test=SplitReport.from_dict(data["test"]) if "test" in data else None,
            val=SplitReport.from_dict(data["val"]) if "val" in data else None,
        )
