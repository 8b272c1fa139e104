"""This run's predictions on this cohort: read from the run or computed by its network, decided
here and only here.

A run stores the predictions of every stay of the cohort it was trained on
(``predictions.parquet``). For that very cohort (same fingerprint) they are read; for any other
cohort of the family its model runs: the network, or the tabular peer's trees on the bundle's
per-stay summaries (``lemof.models.gbm``). Every consumer — the per-stay results object,
evaluation, the Compare and Cohort pages — goes through ``reads_stored`` and ``run_predictions``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.errors import RunError
from lemof.runs.run import Run, check_run_fits_cohort

MODES = ("auto", "stored", "network")  # how run_predictions gets them


def reads_stored(run: Run, bundle: CohortBundle) -> bool:
    """Whether ``run``'s predictions for ``bundle`` are read from the run (its own cohort)."""
    return run.stores_predictions and run.cohort.fingerprint == bundle.fingerprint


def stored_table(run: Run, bundle: CohortBundle, rows: np.ndarray) -> pd.DataFrame:
    """The stored rows of ``predictions.parquet`` for ``rows`` of the cohort the run was trained on,
    in the order of ``rows`` (indexed by stay id; every column as stored, nothing recomputed)."""
    if not reads_stored(run, bundle):
        raise RunError(f"run {run.run_id} stores predictions only for the cohort it was trained on ({run.cohort.name})")
    return run.stored_rows(bundle.stays["stay_id"].to_numpy()[np.asarray(rows)])


def _arrays(table: pd.DataFrame, run: Run) -> dict[str, np.ndarray]:
    """``predict_rows`` layout from stored rows."""
    pred = {
        "stay_id": table.index.to_numpy(),
        "sig_available": table["sig_available"].to_numpy(dtype=bool),
        "final": table["final"].to_numpy(dtype=np.float64),
        "halfwidth": table["halfwidth"].to_numpy(dtype=np.float64),
        "los_days": table["los_days"].to_numpy(dtype=np.float64),
        "interval_days": table[["interval_low_days", "interval_high_days"]].to_numpy(dtype=np.float64),
    }
    if run.heads:
        pred["heads"] = np.stack([table[f"head:{h.name}"].to_numpy() for h in run.heads], axis=1)
    return pred


@dataclass
class Predictions:
    """Predictions of one run for some stays of a cohort (``predict_rows`` layout) and where they
    came from (``origin``): ``stored`` (read from the run) or ``computed`` (its network, now)."""

    arrays: dict[str, np.ndarray]
    origin: str


def run_predictions(run: Run, bundle: CohortBundle, rows: np.ndarray, *, mode: str = "auto") -> Predictions:
    """``run``'s predictions for ``rows`` of ``bundle``.

    ``mode``: ``auto`` reads them for the run's own cohort and runs the model otherwise;
    ``stored`` insists on reading (``RunError`` for another cohort); ``network`` runs the model
    (the network, or the tabular peer's trees) even where they are stored (to check them)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    check_run_fits_cohort(run, bundle)
    rows = np.asarray(rows)
    if mode == "stored" or (mode == "auto" and reads_stored(run, bundle)):
        return Predictions(_arrays(stored_table(run, bundle, rows), run), "stored")
    if run.kind == "tabular":
        return Predictions(run.model.predict(bundle, rows), "computed")
    from lemof.models.inference import predict_rows  # lazy: imports torch (stored predictions are read without it)

    return Predictions(predict_rows(run.model, run.preprocessor, bundle, rows), "computed")
