"""Several runs of one cohort side by side: aligned predictions, metrics with bootstrap CIs,
interval calibration, where they disagree. What the compare page and its report read.

Predictions come from each run's stored ``predictions.parquet`` when it was trained on this very
cohort, else from its model (a run trained on another draw of the same family: its network, or
the gbm peer's trees); a run that cannot predict the cohort (a ``LemofError``: e.g. the cohort
lacks a variable the run reads) is reported as unavailable, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.errors import LemofError
from lemof.evaluation.evaluate import train_median_days, train_median_metrics
from lemof.evaluation.metrics import los_metrics
from lemof.models.conformal import conformal_quantile, cross_fit_residuals
from lemof.runs.metrics_file import LosMetrics
from lemof.runs.run import Run
from lemof.evaluation.stats import PAGE_B, SEED_DEFAULT, bootstrap_indices, bootstrap_mean_ci, metric_replicates, percentile_ci
from lemof.evaluation.predictions import run_predictions

COMPARE_METRICS = ("mae_days", "kappa_linear_10bucket", "auroc_los_gt7")
NOMINAL_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass
class RunPredictions:
    run: Run
    pred: pd.DataFrame  # index stay_id: final (log1p), los_days, interval_low_days, interval_high_days, sig_available
    origin: str  # stored | computed


@dataclass
class Comparison:
    bundle: CohortBundle
    split: str
    stays: pd.DataFrame  # index stay_id (the split's stays): observed los_days, has_signal, first_careunit…
    runs: list[RunPredictions]
    unavailable: dict[str, str] = field(default_factory=dict)  # run id -> why it cannot be compared

    @property
    def ids(self) -> list[str]:
        return [r.run.run_id for r in self.runs]

    def predicted(self, run_id: str) -> pd.Series:
        """Predicted LOS (days) of ``run_id`` on the split's stays."""
        return self.get(run_id).pred["los_days"].reindex(self.stays.index)

    def get(self, run_id: str) -> RunPredictions:
        for r in self.runs:
            if r.run.run_id == run_id:
                return r
        raise KeyError(run_id)

    def metrics(self, B: int = PAGE_B, seed: int = SEED_DEFAULT) -> pd.DataFrame:
        """One row per run and metric: estimate and 95 % bootstrap CI over the split's stays
        (the same resamples for every run, so the intervals are comparable). The MAE's interval is
        ``bootstrap_mean_ci`` of the absolute errors on those resamples: what the Cohort page
        reports for the same run and split."""
        observed = self.stays["los_days"].to_numpy()
        idx = bootstrap_indices(len(observed), B, seed)
        others = tuple(m for m in COMPARE_METRICS if m != "mae_days")
        rows = []
        for r in self.runs:
            p = r.pred.reindex(self.stays.index)
            predicted = p["los_days"].to_numpy()
            interval = p[["interval_low_days", "interval_high_days"]].to_numpy()
            reps = metric_replicates(observed, predicted, interval, idx, others)
            point = los_metrics(observed, predicted, interval).to_dict()
            cis = {m: percentile_ci(reps[m]) for m in others}
            mae = bootstrap_mean_ci(np.abs(predicted - observed), idx=idx)
            cis["mae_days"] = (mae["lo"], mae["hi"])
            for m in COMPARE_METRICS:
                lo, hi = cis[m]
                rows.append({"run": r.run.run_id, "metric": m, "estimate": point[m], "lo": lo, "hi": hi})
        return pd.DataFrame(rows)

    def train_median_metrics(self) -> LosMetrics:
        """The metrics of predicting the cohort's training median for every stay of the split: the
        reference each run's metrics are drawn against."""
        return train_median_metrics(self.stays["los_days"].to_numpy(), train_median_days(self.bundle))

    def disagreements(self, a: str, b: str, n: int = 10) -> pd.DataFrame:
        """The ``n`` stays where runs ``a`` and ``b`` differ most, with both predictions and the observed LOS."""
        pa, pb = self.predicted(a), self.predicted(b)
        table = pd.DataFrame({f"{a} (days)": pa, f"{b} (days)": pb, "observed (days)": self.stays["los_days"]})
        table["difference (days)"] = (pa - pb).abs()
        return table.sort_values("difference (days)", ascending=False).head(n)

    def calibration(self, levels: tuple[float, ...] = NOMINAL_LEVELS) -> pd.DataFrame:
        """Observed coverage of each run's split-conformal interval at several nominal levels.

        The half-width at each level is recomputed the way the run calibrated its 90 % interval:
        from validation residuals per availability pattern — cross-fitted over the meta-learner
        for LeMoF runs (its weights were fitted on those stays), plain residuals for the others.
        """
        rows = []
        val = self.bundle.stays.set_index("stay_id")
        val = val[val["split"] == "val"]
        y_val = np.log1p(val["los_days"].to_numpy())
        y_test = np.log1p(self.stays["los_days"].to_numpy())
        for r in self.runs:
            residuals = _validation_residuals(r, val.index.to_numpy(), y_val)
            if residuals is None:
                continue
            p = r.pred.reindex(self.stays.index)
            final, avail = p["final"].to_numpy(), p["sig_available"].to_numpy(dtype=bool)
            for level in levels:
                half = np.where(avail, conformal_quantile(residuals["ehr+sig"], 1 - level), conformal_quantile(residuals["ehr"], 1 - level))
                covered = np.abs(y_test - final) <= half
                rows.append({"run": r.run.run_id, "nominal": level, "observed": float(covered.mean())})
        return pd.DataFrame(rows)


def _validation_residuals(r: RunPredictions, val_ids: np.ndarray, y_val: np.ndarray) -> dict[str, np.ndarray] | None:
    """|log1p residuals| on validation stays per availability pattern, as the run's training
    calibrated its interval (None without stored validation predictions with the signal hidden)."""
    run = r.run
    if r.origin != "stored":
        return None
    table = run.stored_rows(val_ids)  # its own cohort (stored): every validation stay is there
    if run.fusion == "gbm":  # one model for both patterns (biosignal summaries missing when absent): one pool, as trained
        residuals = np.abs(y_val - table["final"].to_numpy())
        return {"ehr+sig": residuals, "ehr": residuals}
    if "final_without_signal" not in table:
        return None
    avail = table["sig_available"].to_numpy(dtype=bool)
    cfg = run.train_config
    heads = run.heads
    if run.meta_weights and run.fusion != "no_meta":
        # The meta-learner was fitted on these stays: its residuals are cross-fitted, as in training.
        sig = np.array([h.needs_signal for h in heads])
        x = np.stack([table[f"head:{h.name}"].to_numpy() for h in heads], axis=1)
        x_hidden = np.stack([table[f"head_without_signal:{h.name}"].to_numpy() for h in heads], axis=1)
        return {
            "ehr+sig": cross_fit_residuals(x[avail], y_val[avail], cfg.conformal_folds, cfg.seed),
            "ehr": cross_fit_residuals(x_hidden[:, ~sig], y_val, cfg.conformal_folds, cfg.seed),
        }
    return {
        "ehr+sig": np.abs(y_val[avail] - table["final"].to_numpy()[avail]),
        "ehr": np.abs(y_val - table["final_without_signal"].to_numpy()),
    }


def aligned_predictions(run: Run, bundle: CohortBundle, rows: np.ndarray) -> RunPredictions:
    """The predictions of ``run`` for ``rows`` of ``bundle`` as one table indexed by stay id
    (``lemof.evaluation.predictions`` decides whether they are read or computed)."""
    found = run_predictions(run, bundle, rows)
    pred = found.arrays
    table = pd.DataFrame(
        {
            "final": pred["final"],
            "los_days": pred["los_days"],
            "interval_low_days": pred["interval_days"][:, 0],
            "interval_high_days": pred["interval_days"][:, 1],
            "sig_available": pred["sig_available"],
        },
        index=pd.Index(bundle.stays["stay_id"].to_numpy()[rows], name="stay_id"),
    )
    return RunPredictions(run, table, found.origin)


def compare_runs(runs: list[Run], bundle: CohortBundle, split: str = "test") -> Comparison:
    """Align the runs' predictions on the stays of ``split`` (``all`` for every stay)."""
    rows = bundle.rows(split)
    stays = bundle.stays.iloc[rows].set_index("stay_id")
    out = Comparison(bundle, split, stays, [])
    for run in runs:
        try:
            out.runs.append(aligned_predictions(run, bundle, rows))
        except LemofError as exc:
            out.unavailable[run.run_id] = str(exc)
    return out
