"""The numpy side of the meta-learner: its non-negative least-squares fit and the split-conformal
interval it is calibrated with, and the interval in days of any prediction (no torch, so
evaluation, the pages and the tabular peer use them without it)."""

from __future__ import annotations

import numpy as np


def fit_nonnegative(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares y ~ b + x @ w with w >= 0 and a free bias; x (n, H), y (n,)."""
    from scipy.optimize import nnls  # imported here: scipy.optimize costs ~1 s, only fitting needs it

    x_mean, y_mean = x.mean(axis=0), y.mean()
    w, _ = nnls(x - x_mean, y - y_mean)
    return w, float(y_mean - x_mean @ w)


def conformal_quantile(abs_residuals: np.ndarray, alpha: float) -> float:
    """Split-conformal quantile: the ceil((n+1)(1-alpha))-th smallest |residual|."""
    r = np.sort(np.asarray(abs_residuals, dtype=float))
    k = int(np.ceil((len(r) + 1) * (1 - alpha)))
    return float(r[min(k, len(r)) - 1])


def cross_fit_residuals(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold |y - prediction| of the non-negative stacker (cross-conformal calibration)."""
    order = np.random.default_rng(seed).permutation(len(y))
    fold_of = np.empty(len(y), dtype=int)
    fold_of[order] = np.arange(len(y)) % folds
    res = np.empty(len(y))
    for k in range(folds):
        held = fold_of == k
        w, b = fit_nonnegative(x[~held], y[~held])
        res[held] = np.abs(y[held] - (b + x[held] @ w))
    return res


def interval_days(final_log1p: np.ndarray, halfwidth: np.ndarray) -> np.ndarray:
    """Conformal interval in days, (n, 2), from the log1p-scale prediction and half-width."""
    lo = np.expm1(np.asarray(final_log1p) - halfwidth).clip(min=0.0)
    hi = np.expm1(np.asarray(final_log1p) + halfwidth)
    return np.stack([lo, hi], axis=1)


def prediction_arrays(stay_id: np.ndarray, sig_available: np.ndarray, final: np.ndarray, halfwidth: np.ndarray) -> dict[str, np.ndarray]:
    """``predict_rows``-like output from a prediction on log1p(days) and its interval half-width."""
    final = np.asarray(final, dtype=np.float64)
    halfwidth = np.asarray(halfwidth, dtype=np.float64)
    return {
        "stay_id": np.asarray(stay_id),
        "sig_available": np.asarray(sig_available, dtype=bool),
        "final": final,
        "halfwidth": halfwidth,
        "los_days": np.expm1(final).clip(min=0.0),
        "interval_days": interval_days(final, halfwidth),
    }
