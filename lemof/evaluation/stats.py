"""Bootstrap statistics over stays: confidence intervals of metrics and paired differences.

Used by the compare page and the benchmark grid alike. Intervals are percentile intervals of
B resamples of the stays (with replacement), reproducible from a seed; a paired comparison
resamples the same stays for both models.
"""

from __future__ import annotations

import numpy as np
from lemof.evaluation.metrics import los_metrics

B_DEFAULT = 2000
SEED_DEFAULT = 20260101
LEVEL = 0.95
METRICS = ("mae_days", "rmse_days", "kappa_linear_10bucket", "auroc_los_gt7", "auprc_los_gt7", "interval_coverage")


def bootstrap_indices(n: int, B: int = B_DEFAULT, seed: int = SEED_DEFAULT) -> np.ndarray:
    """(B, n) indices: B resamples of n items with replacement, reproducible from ``seed``."""
    return np.random.default_rng(seed).integers(0, n, size=(B, n))


def percentile_ci(replicates, level: float = LEVEL) -> tuple[float | None, float | None]:
    """Percentile interval of bootstrap replicates (non-finite replicates ignored)."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if not len(r):
        return None, None
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(r, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_mean_ci(values, B: int = B_DEFAULT, seed: int = SEED_DEFAULT, level: float = LEVEL, idx: np.ndarray | None = None) -> dict:
    """Mean of ``values`` with a percentile bootstrap interval: {estimate, lo, hi}."""
    v = np.asarray(values, dtype=float)
    idx = bootstrap_indices(len(v), B, seed) if idx is None else idx
    lo, hi = percentile_ci(v[idx].mean(axis=1), level)
    return {"estimate": float(v.mean()), "lo": lo, "hi": hi}


def paired_bootstrap(err_a, err_b, B: int = B_DEFAULT, seed: int = SEED_DEFAULT, level: float = LEVEL, idx: np.ndarray | None = None) -> dict:
    """Mean of ``err_a - err_b`` (same stays, same order) with a paired bootstrap interval, and
    whether that interval excludes 0."""
    d = np.asarray(err_a, dtype=float) - np.asarray(err_b, dtype=float)
    out = bootstrap_mean_ci(d, B, seed, level, idx)
    out["excludes_zero"] = out["lo"] is not None and (out["lo"] > 0 or out["hi"] < 0)
    return out


def metric_replicates(observed, predicted, interval, idx: np.ndarray, metrics: tuple[str, ...] = METRICS) -> dict[str, np.ndarray]:
    """Each of ``metrics`` (fields of ``LosMetrics``) on each resample (NaN where undefined)."""
    out = {m: np.full(len(idx), np.nan) for m in metrics}
    for b, rows in enumerate(idx):
        d = los_metrics(observed[rows], predicted[rows], None if interval is None else interval[rows]).to_dict()
        for m in metrics:
            out[m][b] = np.nan if d[m] is None else d[m]
    return out
