"""Error by subgroup: care unit (or ICU type), age band, sex and biosignal availability.

Each stay's subgroup per category comes from the columns the cohort has (missing values are
``unknown``); per subgroup, the MAE in days with a 95 % percentile bootstrap interval
(``lemof.evaluation.stats``) and the count. A subgroup with fewer than ``MIN_CI_STAYS`` stays gets
its MAE and count, no interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lemof.evaluation.stats import PAGE_B, SEED_DEFAULT, bootstrap_mean_ci

MIN_CI_STAYS = 10
AGE_BANDS = ((-np.inf, 40.0, "<40"), (40.0, 60.0, "40–59"), (60.0, 80.0, "60–79"), (80.0, np.inf, "≥80"))
UNIT_COLUMNS = (("first_careunit", "Care unit"), ("icu_type", "ICU type"), ("careunit", "Care unit"))
SEX_NAMES = {"F": "female", "M": "male", "f": "female", "m": "male", "0": "female", "1": "male"}
UNKNOWN = "unknown"
SIGNAL_CATEGORY = "Biosignal"


def age_band(age: pd.Series) -> pd.Series:
    a = pd.to_numeric(age, errors="coerce").to_numpy(dtype=float)
    out = np.full(len(a), UNKNOWN, dtype=object)
    for lo, hi, label in AGE_BANDS:
        out[(a >= lo) & (a < hi)] = label
    return pd.Series(out, index=age.index)


def _labels(values: pd.Series, names: dict[str, str] | None = None) -> pd.Series:
    """Display labels of a categorical column (``unknown`` where missing), one lookup per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = [str(u) for u in uniques]
    lookup = np.array([(names or {}).get(t, t) for t in text] + [UNKNOWN], dtype=object)
    return pd.Series(lookup[codes], index=values.index)  # code -1 (missing) picks the last entry


def subgroup_columns(stays: pd.DataFrame, sig_available: np.ndarray, sig_label: str = "Signal") -> pd.DataFrame:
    """The subgroup of each stay per category (columns: "Care unit" or "ICU type", "Age band",
    "Sex", "Biosignal"), from the columns the cohort has; missing values are ``unknown``."""
    out = {}
    unit = next(((c, label) for c, label in UNIT_COLUMNS if c in stays), None)
    if unit is not None:
        out[unit[1]] = _labels(stays[unit[0]])
    if "age" in stays:
        out["Age band"] = age_band(stays["age"])
    if "sex" in stays:
        out["Sex"] = _labels(stays["sex"], SEX_NAMES)
    avail = np.asarray(sig_available, dtype=bool)
    out[SIGNAL_CATEGORY] = pd.Series(np.where(avail, f"with {sig_label}", f"without {sig_label}"), index=stays.index, dtype=object)
    return pd.DataFrame(out, index=stays.index)


def _order(category: str, values: list[str]) -> list[str]:
    if category == "Age band":
        known = [label for _, _, label in AGE_BANDS]
        return [v for v in known if v in values] + [v for v in values if v not in known]
    return sorted(values, key=lambda v: (v == UNKNOWN, v))


def subgroup_errors(abs_error_days: np.ndarray, groups: pd.DataFrame, B: int = PAGE_B, seed: int = SEED_DEFAULT, min_n: int = MIN_CI_STAYS) -> pd.DataFrame:
    """One row per category and subgroup: n, MAE (days), 95 % bootstrap interval (None below
    ``min_n`` stays, flagged ``too_small``). Each category's counts add up to all stays."""
    err = np.asarray(abs_error_days, dtype=float)
    rows = []
    for category in groups.columns:
        labels = groups[category].to_numpy()
        for value in _order(category, list(pd.unique(labels))):
            e = err[labels == value]
            small = len(e) < min_n
            ci = {"estimate": float(e.mean()), "lo": None, "hi": None} if small else bootstrap_mean_ci(e, B, seed)
            rows.append({"category": category, "subgroup": str(value), "n": int(len(e)), "mae_days": ci["estimate"], "lo": ci["lo"], "hi": ci["hi"], "too_small": small})
    return pd.DataFrame(rows, columns=["category", "subgroup", "n", "mae_days", "lo", "hi", "too_small"])
