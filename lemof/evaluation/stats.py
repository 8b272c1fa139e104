"""Bootstrap statistics over stays: confidence intervals of metrics and paired differences.

Used by the Compare and Cohort pages and the benchmark grid alike (the pages with the same
``PAGE_B`` resamples and ``SEED_DEFAULT``, so one run's MAE interval is the same on both). Intervals are percentile intervals of
B resamples of the stays (with replacement), reproducible from a seed; a paired comparison
resamples the same stays for both models. Over several training seeds the hierarchical bootstrap
resamples seeds, then stays, so its interval covers the seed-to-seed variation too.
"""

from __future__ import annotations

import numpy as np
from lemof.evaluation.metrics import los_metrics

B_DEFAULT = 2000
SEED_DEFAULT = 20260101
PAGE_B = 400  # resamples behind the pages' intervals (Compare, Cohort): fewer than the grid's, drawn while a page waits
BUDGET = 4_000_000  # resampled values held in memory at once
LEVEL = 0.95
METRICS = ("mae_days", "rmse_days", "kappa_linear_10bucket", "auroc_los_gt7", "auprc_los_gt7", "interval_coverage")


def bootstrap_indices(n: int, B: int = B_DEFAULT, seed: int = SEED_DEFAULT) -> np.ndarray:
    """(B, n) indices: B resamples of n items with replacement, reproducible from ``seed``."""
    return np.random.default_rng(seed).integers(0, n, size=(B, n))


def bootstrap_index_slices(n: int, B: int = B_DEFAULT, seed: int = SEED_DEFAULT, budget: int = BUDGET):
    """``bootstrap_indices(n, B, seed)`` in consecutive slices of rows, each at most ``budget``
    values (at least one row): one generator drawn in order, so the concatenated slices are exactly
    the unsliced draws, in bounded memory."""
    rng = np.random.default_rng(seed)
    per = max(1, budget // max(n, 1))
    for start in range(0, B, per):
        yield rng.integers(0, n, size=(min(per, B - start), n))


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
    """Mean of ``values`` with a percentile bootstrap interval: {estimate, lo, hi}.

    Resamples ``idx`` when given, else ``bootstrap_indices(len(values), B, seed)`` drawn in slices
    (``bootstrap_index_slices``: the same draws, so the same interval, at any cohort size)."""
    v = np.asarray(values, dtype=float)
    slices = [idx] if idx is not None else bootstrap_index_slices(len(v), B, seed)
    lo, hi = percentile_ci(np.concatenate([v[rows].mean(axis=1) for rows in slices]), level)
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


def hierarchical_indices(n_seeds: int, n: int, B: int = B_DEFAULT, seed: int = SEED_DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """(B, n_seeds) seed draws and (B, n) stay draws, both with replacement, reproducible from ``seed``:
    one replicate of a two-level bootstrap resamples the training seeds, then the stays."""
    rng = np.random.default_rng([seed, n_seeds])
    return rng.integers(0, n_seeds, size=(B, n_seeds)), rng.integers(0, n, size=(B, n))


def _hierarchical_replicates(values: np.ndarray, seed_idx: np.ndarray, stay_idx: np.ndarray) -> np.ndarray:
    """Replicate means of ``values`` (n_seeds, n) under the draws of ``hierarchical_indices``."""
    B = len(stay_idx)
    per_seed = np.stack([values[s][stay_idx].mean(axis=1) for s in range(len(values))])  # (n_seeds, B): each seed on each stay draw
    return per_seed[seed_idx, np.arange(B)[:, None]].mean(axis=1)


def hierarchical_bootstrap(values, B: int = B_DEFAULT, seed: int = SEED_DEFAULT, level: float = LEVEL) -> dict:
    """Mean of ``values`` (n_seeds, n): one row per training seed, one column per stay (the same stays
    in every row), with an interval covering both the seed-to-seed and the stay-to-stay variation:
    each replicate draws the seeds with replacement, then the stays, and averages. With one seed it
    is the stay bootstrap. Returns {estimate, lo, hi, n_seeds}."""
    v = np.atleast_2d(np.asarray(values, dtype=float))
    seed_idx, stay_idx = hierarchical_indices(len(v), v.shape[1], B, seed)
    lo, hi = percentile_ci(_hierarchical_replicates(v, seed_idx, stay_idx), level)
    return {"estimate": float(v.mean()), "lo": lo, "hi": hi, "n_seeds": len(v)}


def hierarchical_bootstrap_diff(err_a, err_b, B: int = B_DEFAULT, seed: int = SEED_DEFAULT, level: float = LEVEL) -> dict:
    """Mean of ``err_a - err_b``, both (n_seeds, n) for the same seeds (row k of each trained with seed k)
    and the same stays, paired through both levels (the same seed and stay draws for both), with
    whether the interval excludes 0."""
    a, b = np.atleast_2d(np.asarray(err_a, dtype=float)), np.atleast_2d(np.asarray(err_b, dtype=float))
    if a.shape != b.shape:
        raise ValueError(f"paired errors must have the same shape (seeds, stays), got {a.shape} and {b.shape}")
    out = hierarchical_bootstrap(a - b, B, seed, level)
    out["excludes_zero"] = out["lo"] is not None and (out["lo"] > 0 or out["hi"] < 0)
    return out
