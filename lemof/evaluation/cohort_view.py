"""One run over a whole cohort: what the Cohort page shows, aggregated before anything is drawn.

For the held-out test stays (or every stay) of a cohort and one run, ``build_view`` puts together:

1. **Level importance with its spread** (``lemof.evaluation.spread``), from the per-stay level
   Shapley values stored at training in ``level_shap.parquet``.
2. **Calibration.** The interval's nominal against observed coverage comes from
   ``lemof.evaluation.compare.Comparison.calibration`` (the run's own split-conformal recipe); the
   probability of a long stay from the same conformal predictive distribution
   (``lemof.evaluation.long_stay``), checked with a reliability diagram and the Brier score
   (``lemof.evaluation.reliability``), next to the Brier score of predicting the validation share
   of long stays for everyone.
3. **Error by subgroup** (``lemof.evaluation.subgroups``), next to the overall MAE with the same
   bootstrap interval as the Compare page's.
4. **Head contributions** (``lemof.evaluation.spread``): per stay, the total contribution of each
   head kind (a kind whose heads are all absent for a stay is absent, not zero), separately for
   stays with and without the biosignal.
5. **The stays of a subgroup** (or of a reliability bin), largest absolute error first.

No Streamlit here: ``build_view(run, bundle, split)`` returns a ``CohortView``; the pieces
work on plain arrays and DataFrames (``tests/unit/test_cohort_page.py`` checks them on hand-made
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
from lemof.evaluation.long_stay import prob_long_stay, validation_residuals
from lemof.evaluation.metrics import LONG_STAY_DAYS
from lemof.evaluation.reliability import bin_label, bin_of, brier_score, reliability_table
from lemof.evaluation.spread import head_kind_totals, head_spread, level_spread
from lemof.evaluation.stats import PAGE_B, bootstrap_mean_ci
from lemof.evaluation.subgroups import subgroup_columns, subgroup_errors
from lemof.runs.run import Run

log = logging.getLogger("lemof.evaluation.cohort_view")
RELIABILITY_CATEGORY = f"P(LOS > {LONG_STAY_DAYS:g} d)"


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
            RELIABILITY_CATEGORY: top["p_long"],
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


def build_view(run: Run, bundle: CohortBundle, split: str = "test", sig_label: str = "Signal", B: int = PAGE_B) -> CohortView:
    """Everything the Cohort page draws, for ``split`` (``test`` or ``all``) of ``bundle``.

    Raises ``LemofError`` (one readable line) when the run cannot predict this cohort."""
    rows = bundle.rows(split)
    if not len(rows):
        raise LemofError(f"cohort {bundle.name!r} has no {split} stays")
    stays = bundle.stays.iloc[rows].set_index("stay_id")
    rp = aligned_predictions(run, bundle, rows)  # stored ones for the cohort it was trained on, else its network's
    stored = rp.origin == "stored"
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
    ci = bootstrap_mean_ci(err, B)  # the same draws as Comparison.metrics: the same MAE interval as the Compare page
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
    contributions = run.stored_rows(stays.index.to_numpy())
    totals = head_kind_totals(contributions, run.head_kinds)
    if totals.shape[1]:
        view.head_spread = head_spread(totals, avail)
    else:
        view.notes["heads"] = f"Run {run.run_id} stores no head contributions."
    return view
