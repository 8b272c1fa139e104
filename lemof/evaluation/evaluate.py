"""Evaluate a trained run on a split of a cohort: the model next to predicting the training median."""

from __future__ import annotations

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.evaluation.metrics import los_metrics
from lemof.runs.metrics_file import LosMetrics, SplitReport
from lemof.errors import CohortError
from lemof.evaluation.external import relation
from lemof.evaluation.predictions import run_predictions
from lemof.models.spec import Head
from lemof.runs.run import check_run_fits_cohort


def train_median_days(bundle: CohortBundle) -> float:
    """Median observed LOS (days) of the cohort's training stays: the reference prediction a model must beat."""
    return float(np.median(bundle.stays["los_days"].to_numpy()[bundle.rows("train")]))


def train_median_metrics(observed_days: np.ndarray, median_days: float) -> LosMetrics:
    """The metrics of predicting ``median_days`` (the training median) for every stay."""
    y = np.asarray(observed_days, dtype=float)
    return los_metrics(y, np.full(len(y), median_days))


def evaluation_report(
    bundle: CohortBundle, pred: dict[str, np.ndarray], rows: np.ndarray, median_days: float, heads: list[Head]
) -> SplitReport:
    """Metrics of the model on ``rows`` next to predicting the training median, per head and per availability.

    ``pred`` holds predictions for exactly ``rows`` (as from ``predict_rows``); ``heads`` are the
    meta-learner's inputs, in the column order of ``pred["heads"]`` (none for a model without heads).
    """
    y = bundle.stays["los_days"].to_numpy(dtype=float)[rows]
    avail = pred["sig_available"]
    report = SplitReport(
        model=los_metrics(y, pred["los_days"], pred.get("interval_days")),
        train_median=train_median_metrics(y, median_days),
    )
    for j, head in enumerate(heads):
        keep = avail if head.needs_signal else np.ones(len(y), dtype=bool)
        if keep.any():
            report.heads_alone[head.name] = los_metrics(y[keep], np.expm1(pred["heads"][keep, j]).clip(min=0))
    for label, keep in (("with_signal", avail), ("without_signal", ~avail)):
        if keep.any():
            interval = pred["interval_days"][keep] if "interval_days" in pred else None
            report.by_signal[label] = los_metrics(y[keep], pred["los_days"][keep], interval)
    return report


def evaluate_run(run, bundle: CohortBundle, split: str = "test", *, use_stored: bool = False) -> dict:
    """Evaluate ``run`` on ``split`` (train, val, test, or all for external validation); JSON-ready.

    The model is run on the stays (the network, or the tabular peer's trees on their summaries),
    unless ``use_stored``, when its stored predictions for the cohort it was trained on are scored."""
    check_run_fits_cohort(run, bundle)
    rows = bundle.rows(split)
    if len(rows) == 0:
        raise CohortError(f"cohort {bundle.name!r} has no {split} stays")
    pred = run_predictions(run, bundle, rows, mode="stored" if use_stored else "network").arrays
    report = evaluation_report(bundle, pred, rows, run.metrics.train_median_los_days, run.heads)
    rel = relation(run, bundle)
    scored = {"kind": rel.kind, "external": rel.external, "n_stays_seen_in_training": rel.n_seen,
              "note": rel.sentence(run.run_id, bundle.name)}
    return {"run": run.run_id, "cohort": {"name": bundle.name, "fingerprint": bundle.fingerprint}, "split": split, "relation": scored,
            **report.to_dict()}
