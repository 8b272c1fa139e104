"""The probability of a long stay, P(LOS > 7 d), from the run's conformal predictive distribution.

Training calibrates the interval on validation residuals on the log1p scale, per availability
pattern (with / without the biosignal). Let ``r_i = y_i − f_i`` be the signed residuals of the
validation stays of the stay's pattern, with ``y_i = log1p(observed LOS)`` (observed LOS from the
cohort bundle) and ``f_i`` the run's ``final`` prediction for that validation stay. Split-conformal
reasoning treats a new stay's residual as exchangeable with them, so the predictive distribution of
its outcome given its prediction ``f`` puts mass ``1/n`` on each ``f + r_i``, and::

    P(LOS > 7 d | f) = P(y > log1p(7) | f) = (1/n) · #{i : f + r_i > log1p(7)}
                                          = (1/n) · #{i : r_i > log1p(7) − f}

computed for every stay at once with one sort of the residuals and a binary search
(``n − searchsorted(sorted r, log1p(7) − f, side="right")``). A pattern with fewer than
``MIN_PATTERN_RESIDUALS`` validation stays borrows the residuals of all validation stays.
For the cohort the run was trained on, the validation predictions are the stored ones
(``predictions.parquet``, ``split == "val"``); for another cohort of the family the run predicts
that cohort's validation stays (``lemof.evaluation.cohort_view``). Notes: the meta-learner's
weights were fitted on these validation stays, so the residuals are slightly optimistic (the
interval's calibration cross-fits them; this probability does not need the signal-hidden
predictions that requires); and when every stay is shown, validation stays are scored against a
distribution that contains their own residual. ``lemof.evaluation.reliability`` checks the
probabilities.
"""

from __future__ import annotations

import numpy as np

from lemof.errors import LemofError
from lemof.evaluation.metrics import LONG_STAY_DAYS

MIN_PATTERN_RESIDUALS = 20


def validation_residuals(final: np.ndarray, observed_days: np.ndarray, sig_available: np.ndarray, min_n: int = MIN_PATTERN_RESIDUALS) -> dict[bool, np.ndarray]:
    """Sorted signed log1p residuals ``y − f`` of validation stays per availability pattern
    (``True``: with the biosignal); a pattern with fewer than ``min_n`` stays gets all of them."""
    f = np.asarray(final, dtype=float)
    y = np.log1p(np.asarray(observed_days, dtype=float))
    avail = np.asarray(sig_available, dtype=bool)
    keep = np.isfinite(f) & np.isfinite(y)
    r, avail = (y - f)[keep], avail[keep]
    if not len(r):
        raise LemofError("no validation stays with a prediction and an observed LOS: the probability of a long stay cannot be derived")
    out = {}
    for pattern in (True, False):
        part = r[avail == pattern]
        out[pattern] = np.sort(part if len(part) >= min_n else r)
    return out


def prob_long_stay(final: np.ndarray, sig_available: np.ndarray, residuals: dict[bool, np.ndarray], threshold_days: float = LONG_STAY_DAYS) -> np.ndarray:
    """P(LOS > ``threshold_days`` | f) = share of the pattern's residuals r with f + r > log1p(threshold).

    ``residuals`` as from ``validation_residuals`` (sorted per pattern)."""
    f = np.asarray(final, dtype=float)
    avail = np.asarray(sig_available, dtype=bool)
    cut = np.log1p(threshold_days) - f
    p = np.full(len(f), np.nan)
    for pattern, r in residuals.items():
        rows = avail == pattern
        r = np.sort(np.asarray(r, dtype=float))
        p[rows] = (len(r) - np.searchsorted(r, cut[rows], side="right")) / len(r)
    return p
