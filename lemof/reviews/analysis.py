"""What the reviews of one model on one cohort say: how often reviewers agreed, by predicted-LOS
band and by care unit, and — where the stay's outcome is known — whether the reviewers' own
estimates were closer to it than the model's prediction.

Input: ``ReviewStore.reviews(cohort_fingerprint=…, weights_sha256=…)`` (one row per reviewer and
stay: each review is bound to one model, so another model's verdicts never count here) and the
cohort (for the care unit and the observed LOS). The model's prediction compared is the one the
reviewer saw (``predicted_los_days``, stored with the review).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.display import fact_text
from lemof.evaluation.stats import paired_bootstrap

BANDS = (0.0, 2.0, 4.0, 7.0, 14.0, np.inf)
BAND_LABELS = ("under 2 d", "2–4 d", "4–7 d", "7–14 d", "14 d or more")
VERDICT_ORDER = ("agree", "partly", "disagree")


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (95 %)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _with_cohort(reviews: pd.DataFrame, bundle: CohortBundle) -> pd.DataFrame:
    stays = bundle.stays.set_index("stay_id")
    out = reviews.copy()
    ids = out["stay_id"].astype(np.int64)
    known = ids.isin(stays.index)
    out = out[known.to_numpy()]
    ids = ids[known]
    if "first_careunit" in stays:
        codes = stays.loc[ids, "first_careunit"].astype(str)
        names = {u: (fact_text(bundle.source, "first_careunit", u) or ("", u))[1] for u in codes.unique()}
        out["unit"] = codes.map(names).to_numpy()
    else:
        out["unit"] = "all units"
    out["observed_los_days"] = stays.loc[ids, "los_days"].to_numpy(dtype=float)
    pred = out["predicted_los_days"].astype(float)
    out["band"] = pd.cut(pred, BANDS, right=False, labels=BAND_LABELS)
    return out


def agreement(reviews: pd.DataFrame, bundle: CohortBundle, by: str) -> pd.DataFrame:
    """Reviews per ``by`` group ("band": the model's predicted LOS; "unit": the care unit): their
    number, each verdict's count, and the share that agreed fully with its 95 % Wilson interval.
    Reviews without the prediction they were about (``predicted_los_days`` missing) have no band."""
    if by not in ("band", "unit"):
        raise ValueError(f"by must be 'band' or 'unit', got {by!r}")
    table = _with_cohort(reviews, bundle)
    rows = []
    groups = BAND_LABELS if by == "band" else sorted(table["unit"].dropna().unique())
    for g in groups:
        part = table[table[by] == g]
        if part.empty:
            continue
        counts = part["verdict"].value_counts()
        n, k = len(part), int(counts.get("agree", 0))
        lo, hi = wilson(k, n)
        rows.append({"group": g, "reviews": n, **{v: int(counts.get(v, 0)) for v in VERDICT_ORDER},
                     "agree_share": k / n, "agree_lo": lo, "agree_hi": hi})
    return pd.DataFrame(rows, columns=["group", "reviews", *VERDICT_ORDER, "agree_share", "agree_lo", "agree_hi"])


@dataclass(frozen=True)
class EstimateComparison:
    n: int                   # reviews with an estimate, the model's prediction and a known outcome
    stays: int
    reviewers: int
    reviewer_mae_days: float
    model_mae_days: float
    difference: dict         # reviewer − model MAE (days): estimate, lo, hi, excludes_zero; < 0: reviewers closer
    interval_note: str


def estimates_vs_model(reviews: pd.DataFrame, bundle: CohortBundle, *, B: int = 2000, seed: int = 0) -> EstimateComparison | None:
    """The reviewers' own estimates against the model's predictions, on the reviews that have an
    estimate and whose stay's outcome is known; None when there are none. The interval is a paired
    percentile bootstrap over reviews (the same review's two errors stay together)."""
    table = _with_cohort(reviews, bundle)
    table = table[table["estimate_days"].notna() & table["predicted_los_days"].notna() & np.isfinite(table["observed_los_days"])]
    if table.empty:
        return None
    obs = table["observed_los_days"].to_numpy(dtype=float)
    err_r = np.abs(table["estimate_days"].to_numpy(dtype=float) - obs)
    err_m = np.abs(table["predicted_los_days"].to_numpy(dtype=float) - obs)
    diff = paired_bootstrap(err_r, err_m, B=B, seed=seed)
    return EstimateComparison(len(table), int(table["stay_id"].nunique()), int(table["user"].nunique()), float(err_r.mean()), float(err_m.mean()), diff,
                              f"95 % paired percentile bootstrap over the {len(table)} reviews ({B} resamples)")
