"""One run over a whole cohort: what the Cohort page shows, aggregated before anything is drawn.

For the held-out test stays (or every stay) of a cohort and one run:

1. **Level importance with its spread.** Per level, the distribution of |φ| (the stay's exact
   level Shapley value, stored at training in ``level_shap.parquet``) over the stays where the
   level's modality is present: count, mean and the 5/25/50/75/95th percentiles. Only these
   numbers reach the figure, never the stays, so it costs the same for 600 or 100,000 stays.
2. **Calibration.** The interval's nominal against observed coverage comes from
   ``lemof.evaluation.compare.Comparison.calibration`` (the run's own split-conformal recipe). The
   probability of a long stay is derived here, from the same conformal predictive distribution:

   Training calibrates the interval on validation residuals on the log1p scale, per
   availability pattern (with / without the biosignal). Let ``r_i = y_i − f_i`` be the signed
   residuals of the validation stays of the stay's pattern, with ``y_i = log1p(observed LOS)``
   (observed LOS from the cohort bundle) and ``f_i`` the run's ``final`` prediction for that
   validation stay. Split-conformal reasoning treats a new stay's residual as exchangeable with
   them, so the predictive distribution of its outcome given its prediction ``f`` puts mass
   ``1/n`` on each ``f + r_i``, and::

       P(LOS > 7 d | f) = P(y > log1p(7) | f) = (1/n) · #{i : f + r_i > log1p(7)}
                                             = (1/n) · #{i : r_i > log1p(7) − f}

   computed for every stay at once with one sort of the residuals and a binary search
   (``n − searchsorted(sorted r, log1p(7) − f, side="right")``). A pattern with fewer than
   ``MIN_PATTERN_RESIDUALS`` validation stays borrows the residuals of all validation stays.
   For the cohort the run was trained on, the validation predictions are the stored ones
   (``predictions.parquet``, ``split == "val"``); for another cohort of the family the run
   predicts that cohort's validation stays. Notes: the meta-learner's weights were fitted on
   these validation stays, so the residuals are slightly optimistic (the interval's
   calibration cross-fits them; this probability does not need the signal-hidden predictions
   that requires); and when every stay is shown, validation stays are scored against a
   distribution that contains their own residual.

   The probabilities are checked with a reliability diagram (10 equal-width bins of predicted
   probability: count, mean predicted probability, observed share of stays > 7 days) and the
   Brier score, next to the Brier score of predicting the validation share of long stays for
   everyone.
3. **Error by subgroup.** Care unit (or ICU type), age band, sex and biosignal availability:
   MAE in days with a 95 % percentile bootstrap interval (``lemof.evaluation.stats``), and the count. A
   subgroup with fewer than ``MIN_CI_STAYS`` stays gets its MAE and count, no interval.
4. **Head contributions.** Per stay, the total contribution of each head kind (the sum of its
   heads' ``w_i · y_i``, log1p-days; a kind whose heads are all absent for a stay is absent,
   not zero), summarised like the levels, separately for stays with and without the biosignal.
5. **The stays of a subgroup** (or of a reliability bin), largest absolute error first.

No Streamlit here: ``build_view(run, bundle, split)`` returns a ``CohortView``; the pieces
work on plain arrays and DataFrames (``tests/test_cohort_page.py`` checks them on hand-made
examples).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.errors import LemofError
from lemof.evaluation.compare import Comparison, aligned_predictions
from lemof.evaluation.metrics import LONG_STAY_DAYS
from lemof.runs.run import Run
from lemof.evaluation.stats import bootstrap_indices, bootstrap_mean_ci, percentile_ci

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_COLUMNS = ("q05", "q25", "median", "q75", "q95")
MIN_CI_STAYS = 10
MIN_PATTERN_RESIDUALS = 20
RELIABILITY_BINS = 10
BOOTSTRAP_B = 400  # as the compare page's metrics
BOOTSTRAP_SEED = 20260101
_BOOTSTRAP_BUDGET = 4_000_000  # resampled values held in memory at once
log = logging.getLogger("lemof.evaluation.cohort_view")
AGE_BANDS = ((-np.inf, 40.0, "<40"), (40.0, 60.0, "40–59"), (60.0, 80.0, "60–79"), (80.0, np.inf, "≥80"))
UNIT_COLUMNS = (("first_careunit", "Care unit"), ("icu_type", "ICU type"), ("careunit", "Care unit"))
SEX_NAMES = {"F": "female", "M": "male", "f": "female", "m": "male", "0": "female", "1": "male"}
UNKNOWN = "unknown"
SIGNAL_CATEGORY = "Biosignal"
RELIABILITY_CATEGORY = "P(LOS > 7 d)"


# --- the probability of a long stay ---------------------------------------------------------
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


def bin_of(p: np.ndarray, bins: int = RELIABILITY_BINS) -> np.ndarray:
    return np.clip((np.asarray(p, dtype=float) * bins).astype(int), 0, bins - 1)


def brier_score(p: np.ndarray, outcome: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(outcome, dtype=float)) ** 2))


def bin_label(lo: float, hi: float) -> str:
    return f"{lo:.1f}–{hi:.1f}"


# --- distributions from quantiles ----------------------------------------------------------
def box_stats(values: np.ndarray) -> dict:
    """n, mean and the ``QUANTILES`` of the finite values (NaN when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"n": 0, "mean": np.nan, **{c: np.nan for c in QUANTILE_COLUMNS}}
    return {"n": int(len(v)), "mean": float(v.mean()), **dict(zip(QUANTILE_COLUMNS, np.quantile(v, QUANTILES).tolist()))}


def level_spread(level_shap: pd.DataFrame, levels: dict[str, list[str]], selected: dict[str, list[str]]) -> pd.DataFrame:
    """One row per level: modality, whether selected, and the distribution of |φ| over the stays
    of ``level_shap`` (rows = stays; NaN where the modality is absent)."""
    chosen = set(selected.get("ehr", [])) | set(selected.get("sig", []))
    rows = []
    for modality in ("ehr", "sig"):
        for level in levels[modality]:
            phi = level_shap[level].to_numpy(dtype=float) if level in level_shap else np.array([])
            rows.append({"level": level, "modality": modality, "selected": level in chosen, **box_stats(np.abs(phi))})
    return pd.DataFrame(rows)


def head_kind_totals(predictions: pd.DataFrame, head_kinds: dict[str, str]) -> pd.DataFrame:
    """Per stay (rows of ``predictions``), the summed contribution of each head kind, NaN where
    every head of that kind is absent for the stay."""
    out = {}
    for kind in dict.fromkeys(head_kinds.values()):
        cols = [f"contribution:{h}" for h, k in head_kinds.items() if k == kind and f"contribution:{h}" in predictions]
        if cols:
            out[kind] = predictions[cols].sum(axis=1, min_count=1)
    return pd.DataFrame(out, index=predictions.index)


def head_spread(totals: pd.DataFrame, sig_available: np.ndarray) -> pd.DataFrame:
    """One row per head kind and availability pattern: the distribution of its total contribution."""
    avail = np.asarray(sig_available, dtype=bool)
    rows = []
    for kind in totals.columns:
        values = totals[kind].to_numpy(dtype=float)
        for with_signal in (True, False):
            rows.append({"kind": kind, "with_signal": with_signal, **box_stats(values[avail == with_signal])})
    return pd.DataFrame(rows)


# --- error by subgroup -----------------------------------------------------------------------
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


def mean_ci(values: np.ndarray, B: int = BOOTSTRAP_B, seed: int = BOOTSTRAP_SEED) -> dict:
    """``lemof.evaluation.stats.bootstrap_mean_ci``, resampled in slices when ``B × n`` would not fit in memory."""
    v = np.asarray(values, dtype=float)
    if len(v) * B <= _BOOTSTRAP_BUDGET:
        return bootstrap_mean_ci(v, B=B, seed=seed)
    per = max(1, _BOOTSTRAP_BUDGET // len(v))
    reps = [v[bootstrap_indices(len(v), min(per, B - start), seed + k)].mean(axis=1) for k, start in enumerate(range(0, B, per))]
    lo, hi = percentile_ci(np.concatenate(reps))
    return {"estimate": float(v.mean()), "lo": lo, "hi": hi}


def subgroup_errors(abs_error_days: np.ndarray, groups: pd.DataFrame, B: int = BOOTSTRAP_B, seed: int = BOOTSTRAP_SEED, min_n: int = MIN_CI_STAYS) -> pd.DataFrame:
    """One row per category and subgroup: n, MAE (days), 95 % bootstrap interval (None below
    ``min_n`` stays, flagged ``too_small``). Each category's counts add up to all stays."""
    err = np.asarray(abs_error_days, dtype=float)
    rows = []
    for category in groups.columns:
        labels = groups[category].to_numpy()
        for value in _order(category, list(pd.unique(labels))):
            e = err[labels == value]
            small = len(e) < min_n
            ci = {"estimate": float(e.mean()), "lo": None, "hi": None} if small else mean_ci(e, B, seed)
            rows.append({"category": category, "subgroup": str(value), "n": int(len(e)), "mae_days": ci["estimate"], "lo": ci["lo"], "hi": ci["hi"], "too_small": small})
    return pd.DataFrame(rows, columns=["category", "subgroup", "n", "mae_days", "lo", "hi", "too_small"])


# --- the whole view --------------------------------------------------------------------------
@dataclass
class CohortView:
    run_id: str
    split: str  # test | all
    is_lemof: bool
    stored: bool  # the run's stored predictions (trained on this cohort) rather than its network's
    stays: pd.DataFrame  # index stay_id: observed/predicted/low/high days, final, sig_available, abs_error_days, p_long, long_stay, p_bin, one column per subgroup category
    categories: list[str]
    overall: dict  # n, mae_days, lo, hi
    subgroups: pd.DataFrame
    reliability: pd.DataFrame
    brier: float
    brier_reference: float  # predicting the validation share of long stays for everyone
    validation_share_long: float
    residual_counts: dict[str, int]  # validation residuals behind each pattern's distribution
    interval_calibration: pd.DataFrame  # nominal, observed (empty when the run cannot recompute it)
    interval_coverage: float  # of the run's own interval on these stays
    interval_level: float
    level_spread: pd.DataFrame | None = None
    head_spread: pd.DataFrame | None = None
    notes: dict[str, str] = field(default_factory=dict)  # section -> why it is not shown

    @property
    def n(self) -> int:
        return len(self.stays)

    def groups(self) -> list[tuple[str, str, int]]:
        """Every selectable group: (category, subgroup, count), subgroups then reliability bins."""
        out = [(r.category, r.subgroup, int(r.n)) for r in self.subgroups.itertuples()]
        out += [(RELIABILITY_CATEGORY, bin_label(r.lo, r.hi), int(r.n)) for r in self.reliability.itertuples() if r.n]
        return out

    def members(self, category: str, subgroup: str) -> pd.DataFrame:
        """The stays of one group (all columns)."""
        if category == RELIABILITY_CATEGORY:
            labels = self.reliability.set_index("bin").apply(lambda r: bin_label(r.lo, r.hi), axis=1)
            return self.stays[self.stays["p_bin"].map(labels) == subgroup]
        if category not in self.stays:
            raise KeyError(category)
        return self.stays[self.stays[category] == subgroup]


def stay_list(view: CohortView, category: str, subgroup: str, limit: int = 200) -> tuple[pd.DataFrame, int]:
    """The stays of a group, largest absolute error first, at most ``limit``; and how many there are."""
    part = view.members(category, subgroup)
    top = part.sort_values("abs_error_days", ascending=False, kind="mergesort").head(limit)
    table = pd.DataFrame(
        {
            "observed (days)": top["observed_days"],
            "predicted (days)": top["predicted_days"],
            "interval low (days)": top["low_days"],
            "interval high (days)": top["high_days"],
            "absolute error (days)": top["abs_error_days"],
            "P(LOS > 7 d)": top["p_long"],
        }
    )
    table.index.name = "stay_id"
    return table, len(part)


def _validation_predictions(run: Run, bundle: CohortBundle, rp) -> pd.DataFrame:
    """final and sig_available of the validation stays, with their observed LOS (days): the
    run's stored ones for the cohort it was trained on, else its network's for this cohort's
    validation stays (taken from ``rp`` when it holds them already)."""
    observed = bundle.stays.set_index("stay_id")["los_days"]
    rows = bundle.rows("val")
    ids = bundle.stays["stay_id"].to_numpy()[rows]
    if rp.pred.index.isin(ids).sum() == len(ids):
        table = rp.pred.loc[ids, ["final", "sig_available"]]
    else:
        table = aligned_predictions(run, bundle, rows).pred[["final", "sig_available"]]
    return table.assign(observed_days=observed.reindex(table.index).to_numpy())


def build_view(run: Run, bundle: CohortBundle, split: str = "test", sig_label: str = "Signal", B: int = BOOTSTRAP_B) -> CohortView:
    """Everything the Cohort page draws, for ``split`` (``test`` or ``all``) of ``bundle``.

    Raises ``LemofError`` (one readable line) when the run cannot predict this cohort."""
    rows = bundle.rows(split)
    if not len(rows):
        raise LemofError(f"cohort {bundle.name!r} has no {split} stays")
    stays = bundle.stays.iloc[rows].set_index("stay_id")
    rp = aligned_predictions(run, bundle, rows)  # stored ones for the cohort it was trained on, else its network's
    stored = rp.source == "stored"
    pred = rp.pred.reindex(stays.index)
    observed = stays["los_days"].to_numpy(dtype=float)
    avail = pred["sig_available"].to_numpy(dtype=bool)
    table = pd.DataFrame(
        {
            "observed_days": observed,
            "predicted_days": pred["los_days"].to_numpy(dtype=float),
            "low_days": pred["interval_low_days"].to_numpy(dtype=float),
            "high_days": pred["interval_high_days"].to_numpy(dtype=float),
            "final": pred["final"].to_numpy(dtype=float),
            "sig_available": avail,
        },
        index=stays.index,
    )
    table["abs_error_days"] = (table["predicted_days"] - table["observed_days"]).abs()
    groups = subgroup_columns(stays, avail, sig_label)
    categories = list(groups.columns)

    # 2. calibration: the interval (Comparison's recipe) and the probability of a long stay
    notes = {}
    try:
        interval_calibration = Comparison(bundle, split, stays, [rp]).calibration()
    except (LemofError, ValueError, KeyError) as exc:  # the rest of the view does not depend on it
        log.warning("interval calibration of run %s on %s failed", run.run_id, bundle.name, exc_info=True)
        interval_calibration = pd.DataFrame(columns=["run", "nominal", "observed"])
        notes["interval"] = f"recomputing it failed ({exc})"
    coverage = float(np.mean((observed >= table["low_days"].to_numpy()) & (observed <= table["high_days"].to_numpy())))
    val = _validation_predictions(run, bundle, rp)
    residuals = validation_residuals(val["final"].to_numpy(), val["observed_days"].to_numpy(), val["sig_available"].to_numpy())
    avail_val = val["sig_available"].to_numpy(dtype=bool)
    residual_counts = {
        "with": len(residuals[True]), "without": len(residuals[False]), "val_with": int(avail_val.sum()), "val_without": int((~avail_val).sum()),
    }
    table["p_long"] = prob_long_stay(table["final"].to_numpy(), avail, residuals)
    table["long_stay"] = table["observed_days"] > LONG_STAY_DAYS
    table["p_bin"] = bin_of(table["p_long"].to_numpy())
    val_long = float(np.nanmean(val["observed_days"].to_numpy(dtype=float) > LONG_STAY_DAYS))
    y_long = table["long_stay"].to_numpy(dtype=float)
    reliability = reliability_table(table["p_long"].to_numpy(), y_long)
    brier = brier_score(table["p_long"].to_numpy(), y_long)
    brier_reference = brier_score(np.full(len(y_long), val_long), y_long)

    # 3. error by subgroup, next to the overall MAE
    err = table["abs_error_days"].to_numpy()
    ci = mean_ci(err, B)
    overall = {"n": len(err), "mae_days": ci["estimate"], "lo": ci["lo"], "hi": ci["hi"]}
    subgroups = subgroup_errors(err, groups, B)
    table = pd.concat([table, groups], axis=1)

    view = CohortView(
        run_id=run.run_id, split=split, is_lemof=run.is_lemof, stored=stored, stays=table, categories=categories, overall=overall,
        subgroups=subgroups, reliability=reliability, brier=brier, brier_reference=brier_reference, validation_share_long=val_long,
        residual_counts=residual_counts, interval_calibration=interval_calibration, interval_coverage=coverage, interval_level=run.interval_level,
        notes=notes,
    )

    # 1 and 4: LeMoF's own explanations, stored per stay for the cohort it was trained on
    if not run.is_lemof:
        what = f"{run.run_id}, a {run.fusion!r} {run.kind} run"
        view.notes["levels"] = f"Level importance is LeMoF's (stage 2's level Shapley values); it does not apply to {what}."
        view.notes["heads"] = f"Head contributions are LeMoF's (its meta-learner over the prediction heads); they do not apply to {what}."
        return view
    if not stored:
        where = f"the cohort {run.run_id} was trained on ({run.cohort.name})"
        view.notes["levels"] = (f"Per-stay level Shapley values are stored only for {where}; enumerating them for every stay of {bundle.name} "
                                "is not done here (open a stay in case review for its own).")
        view.notes["heads"] = f"Per-stay head contributions are stored only for {where}; open a stay in case review for its own."
        return view
    if run.level_shap is not None and run.level_importance is not None:
        shap = run.level_shap.set_index("stay_id").reindex(stays.index)
        view.level_spread = level_spread(shap, run.level_importance.levels, run.level_importance.selected)
    else:
        view.notes["levels"] = f"Run {run.run_id} stores no per-stay level Shapley values."
    contributions = run.predictions.set_index("stay_id").reindex(stays.index)
    totals = head_kind_totals(contributions, run.head_kinds)
    if totals.shape[1]:
        view.head_spread = head_spread(totals, avail)
    else:
        view.notes["heads"] = f"Run {run.run_id} stores no head contributions."
    return view
