"""``metrics.json``: what a run measured, as typed reports — per split the model next to the
training-median baseline, per head and per biosignal availability (``LosMetrics`` each).

The metrics are computed by ``lemof/evaluation/metrics.py``; this module is only their format,
so that loading a run needs nothing from evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

METRICS_FILE = "metrics.json"


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
    train_median: LosMetrics  # predicting the training median for every stay (JSON: baseline_train_median)
    heads_alone: dict[str, LosMetrics] = field(default_factory=dict)
    by_signal: dict[str, LosMetrics] = field(default_factory=dict)  # with_signal / without_signal

    @property
    def mae_reduction_vs_train_median(self) -> float:
        base = self.train_median.mae_days
        return 1 - self.model.mae_days / base if base > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "baseline_train_median": self.train_median.to_dict(),
            "mae_reduction_vs_baseline": self.mae_reduction_vs_train_median,
            "heads_alone": {k: v.to_dict() for k, v in self.heads_alone.items()},
            "by_signal": {k: v.to_dict() for k, v in self.by_signal.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SplitReport":
        return cls(
            model=LosMetrics.from_dict(data["model"]),
            train_median=LosMetrics.from_dict(data["baseline_train_median"]),
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
