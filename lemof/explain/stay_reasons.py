"""What the case review's first screen says about a stay beyond its prediction, computed ahead
for a run's own cohort (``stay_reasons.json.gz``, ``lemof.runs.stay_reasons_file``): the input
drivers in days and the ECG's measurements. The app reads them without running the network; a
stay not stored (another split, another cohort) is computed after the first paint instead, the
same way (``StayResults``), so stored and computed reasons are the same numbers.

    python -m lemof precompute --run R --data D --reasons test
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lemof.progress import Progress

REASON_SPLITS = ("test", "val", "train", "all")


def _plain(obj: Any) -> Any:
    """JSON-ready copy (numpy scalars to Python numbers)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if isinstance(o, np.generic) else str(o), allow_nan=False))


def compute_stay_reasons(cohort, split: str = "test", *, stay_ids: list[int] | None = None, progress: Progress | None = None) -> dict[int, dict[str, Any]]:
    """``{stay_id: {"drivers": Attribution dict | None, "ecg": measurements | None}}`` for the stays
    of ``split`` ("all" for every stay) of ``cohort`` (a ``CohortResults`` of a run on the cohort
    it was trained on), or of ``stay_ids`` when given. One stay at a time through the same
    ``StayResults`` path the page uses."""
    bundle = cohort.bundle
    cohort.reads_stored_reasons = False  # computed afresh: never copied from a file being replaced
    ids = bundle.stays["stay_id"].to_numpy()[bundle.rows(split)] if stay_ids is None else [bundle.stays["stay_id"].iloc[bundle.row_of(s)] for s in stay_ids]
    out: dict[int, dict[str, Any]] = {}
    for i, sid in enumerate(ids, 1):
        cohort.forget(int(sid))  # a fresh results object: nothing kept from before reads the stored file
        stay = cohort.stay(int(sid))
        names = {e.name for e in stay.explainers}
        drivers = stay.attribute("drivers").to_dict() if "drivers" in names else None
        ecg = stay.ecg
        out[int(sid)] = _plain({"drivers": drivers, "ecg": None if ecg is None else ecg.to_store()})
        cohort.forget(int(sid))  # the stay's network parts are not kept: thousands of stays would hold gigabytes
        if progress is not None:
            progress("reasons", i, len(ids), f"drivers and ECG measurements of the {split} stays")
    return out
