"""Evaluate a trained run on a split of a cohort: LeMoF next to the training-median baseline."""

from __future__ import annotations

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.explain.explanation import check_run_fits_cohort
from lemof.inference import predict_rows
from lemof.metrics import los_metrics
from lemof.runs import Run


def evaluation_report(
    bundle: CohortBundle, pred: dict[str, np.ndarray], rows: np.ndarray, train_median_days: float, head_names: list[str]
) -> dict:
    """Metrics of LeMoF on ``rows`` next to the training-median baseline, per head and per availability.

    ``pred`` holds predictions for exactly ``rows`` (as from ``predict_rows``).
    """
    y = bundle.stays["los_days"].to_numpy(dtype=float)[rows]
    report = {
        "lemof": los_metrics(y, pred["los_days"], pred["interval_days"]),
        "baseline_train_median": los_metrics(y, np.full(len(y), train_median_days)),
    }
    base_mae = report["baseline_train_median"]["mae_days"]
    report["mae_reduction_vs_baseline"] = 1 - report["lemof"]["mae_days"] / base_mae if base_mae > 0 else 0.0
    avail = pred["sig_available"]
    report["heads_alone"] = {}
    for j, name in enumerate(head_names):
        keep = avail if name.startswith("sig.") else np.ones(len(y), dtype=bool)
        if keep.any():
            report["heads_alone"][name] = los_metrics(y[keep], np.expm1(pred["heads"][keep, j]).clip(min=0))
    report["by_signal"] = {}
    for label, keep in (("with_signal", avail), ("without_signal", ~avail)):
        if keep.any():
            report["by_signal"][label] = los_metrics(y[keep], pred["los_days"][keep], pred["interval_days"][keep])
    return report


def evaluate_run(run: Run, bundle: CohortBundle, split: str = "test") -> dict:
    """Evaluate ``run`` on ``split`` (train, val, test, or all for external validation)."""
    check_run_fits_cohort(run, bundle)
    rows = bundle.rows(split)
    if len(rows) == 0:
        from lemof.errors import CohortError

        raise CohortError(f"cohort {bundle.name!r} has no {split} stays")
    pred = predict_rows(run.model, run.preprocessor, bundle, rows)
    report = evaluation_report(bundle, pred, rows, float(run.config["train_median_los_days"]), run.model.head_names)
    return {"run": run.run_id, "cohort": {"name": bundle.name, "fingerprint": bundle.fingerprint}, "split": split, **report}
