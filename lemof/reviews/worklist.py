"""The worklist: the stays of a cohort to review under one model, with the model's prediction and
each stay's review status for one reviewer.

``stays_to_review`` is the part that depends on the run and cohort only (built once per run,
cohort and scope, shared by every reviewer); ``worklist`` joins it with one reviewer's status
from the review database (``ReviewStore.status``) and orders it as a reviewer works through it:
the stays assigned to them first, then the ones they have not reviewed, then by stay id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.display import fact_text
from lemof.evaluation.predictions import run_predictions
from lemof.runs.run import Run

SCOPES = {"test": "Held-out test stays", "all": "All stays"}
STATUS_NOT = "not reviewed"
STATUS_MINE = "reviewed by me"
STATUS_OTHERS = "reviewed by others"
STATUSES = (STATUS_NOT, STATUS_MINE, STATUS_OTHERS)
COLUMNS = ("stay_id", "unit", "signal", "predicted_los_days", "interval_low_days", "interval_high_days",
           "status", "my_verdict", "others", "other_models", "assigned_to_me", "assignees")


def scope_rows(bundle: CohortBundle, scope: str) -> np.ndarray:
    """Row indices of ``scope`` ("test": the held-out test stays; "all")."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if scope == "all":
        return np.arange(len(bundle))
    return np.flatnonzero((bundle.stays["split"].astype(str) == "test").to_numpy())


def stays_to_review(run: Run, bundle: CohortBundle, scope: str = "test") -> pd.DataFrame:
    """One row per stay of ``scope``: stay_id, unit (its clinical name), signal (recorded or not) and
    the run's predicted LOS with its interval (stored for the run's own cohort, else computed)."""
    rows = scope_rows(bundle, scope)
    stays = bundle.stays.iloc[rows]
    pred = run_predictions(run, bundle, rows).arrays
    if "first_careunit" in stays:
        codes = stays["first_careunit"].astype(str)
        names = {u: (fact_text(bundle.source, "first_careunit", u) or ("", u))[1] for u in codes.unique()}  # once per unit
        unit = codes.map(names).to_numpy()
    else:
        unit = np.full(len(stays), "")
    return pd.DataFrame({
        "stay_id": stays["stay_id"].to_numpy(dtype=np.int64),
        "unit": unit,
        "signal": stays["has_signal"].to_numpy(dtype=bool),
        "predicted_los_days": np.asarray(pred["los_days"], dtype=float),
        "interval_low_days": np.asarray(pred["interval_days"], dtype=float)[:, 0],
        "interval_high_days": np.asarray(pred["interval_days"], dtype=float)[:, 1],
    })


def worklist(base: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    """``base`` (``stays_to_review``) with one reviewer's status (``ReviewStore.status``), in the order
    they work through it. Stays the status names that are not in ``base`` (another scope) are left out."""
    status = status.set_index("stay_id") if len(status) else pd.DataFrame(index=pd.Index([], dtype=np.int64, name="stay_id"))
    s = status.reindex(base["stay_id"].to_numpy())
    out = base.copy()
    mine = s["mine"].fillna(False).to_numpy(dtype=bool) if "mine" in s else np.zeros(len(out), dtype=bool)
    others = s["others"].fillna(0).to_numpy(dtype=np.int64) if "others" in s else np.zeros(len(out), dtype=np.int64)
    out["my_verdict"] = s["my_verdict"].to_numpy(dtype=object) if "my_verdict" in s else None
    out["others"] = others
    out["other_models"] = s["other_models"].fillna(0).to_numpy(dtype=np.int64) if "other_models" in s else 0
    out["assigned_to_me"] = s["assigned_to_me"].fillna(False).to_numpy(dtype=bool) if "assigned_to_me" in s else False
    out["assignees"] = s["assignees"].fillna("").to_numpy(dtype=object) if "assignees" in s else ""
    out["status"] = np.where(mine, STATUS_MINE, np.where(others > 0, STATUS_OTHERS, STATUS_NOT))
    order = np.lexsort((out["stay_id"].to_numpy(), mine, ~out["assigned_to_me"].to_numpy(dtype=bool)))
    return out.iloc[order].reset_index(drop=True)[list(COLUMNS)]


def next_unreviewed(table: pd.DataFrame, after: int | None = None) -> int | None:
    """The first stay of the worklist ``table`` (in its order) that this reviewer has not reviewed,
    after ``after`` (wrapping round, ``after`` itself left out); None when every stay is reviewed."""
    ids = table["stay_id"].to_numpy()
    todo = (table["status"] != STATUS_MINE).to_numpy() & (ids != after)
    where = np.flatnonzero(ids == after) if after is not None else []
    order = np.roll(np.arange(len(ids)), -(int(where[0]) + 1) if len(where) else 0)  # the stays after ``after``, then round
    found = order[todo[order]]
    return int(ids[found[0]]) if len(found) else None
