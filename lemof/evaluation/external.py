"""Is scoring a run on this cohort an external validation? Which of its stays did the run see?

A run is *external* to a cohort when none of the cohort's stays was used to fit, calibrate or
choose it: another PhysioNet 2012 set, another MIMIC-IV extract with other stays, another draw of
the synthetic generator. It is the run's *own* cohort when the fingerprints agree (then only its
held-out test split is honest). Anything else *overlaps*: some stays were in the run's training or
validation split (e.g. a set-a run scored on the a+b cohort), and those scores are not external.

Which stays a run saw is read from its stored ``predictions.parquet`` (every stay of its own cohort
with its split). Stay ids identify real stays (PhysioNet record ids, MIMIC-IV stay ids); the
synthetic generator numbers the stays of every draw alike, so two synthetic cohorts share stays
only when they were drawn with the same seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lemof.data.sources import source_info
from lemof.data.bundle import CohortBundle
from lemof.runs.run import Run

OWN, EXTERNAL, OVERLAPPING, UNKNOWN = "own", "external", "overlapping", "unknown"
_SEED = re.compile(r"-seed(\d+)(?:-|$)")


@dataclass(frozen=True)
class CohortRelation:
    kind: str  # own | external | overlapping | unknown
    n_stays: int  # stays of the cohort
    n_seen: int  # of them, stays the run was fitted or calibrated on (its train and val splits)
    run_cohort: str  # the name of the cohort the run was trained on

    @property
    def external(self) -> bool:
        return self.kind == EXTERNAL

    def sentence(self, run_id: str, cohort_name: str) -> str:
        """What a reader must know before trusting a score of ``run_id`` on ``cohort_name``."""
        if self.kind == OWN:
            return (f"{run_id} was trained on this cohort: only its held-out test stays are an honest score; "
                    "its training and validation stays were used to fit and calibrate it.")
        if self.kind == EXTERNAL:
            return (f"External validation: {run_id} was trained on {self.run_cohort}; none of the {self.n_stays:,} stays of "
                    f"{cohort_name} was used to fit, calibrate or choose it.")
        if self.kind == OVERLAPPING:
            return (f"Not external: {self.n_seen:,} of the {self.n_stays:,} stays of {cohort_name} were in the training or validation "
                    f"split of {run_id} (trained on {self.run_cohort}); scores over them are optimistic.")
        return (f"{run_id} was trained on {self.run_cohort}; whether it saw stays of {cohort_name} cannot be told "
                "(the run stores no per-stay splits).")


def _draw_seed(name: str, provenance: dict | None = None) -> int | None:
    if provenance and provenance.get("seed") is not None:
        return int(provenance["seed"])
    m = _SEED.search(name)
    return int(m.group(1)) if m else None


def relation(run: Run, bundle: CohortBundle) -> CohortRelation:
    """How ``bundle`` relates to the cohort ``run`` was trained on (see the module docstring)."""
    n = len(bundle)
    if run.cohort.fingerprint == bundle.fingerprint:
        seen = int((bundle.stays["split"].astype(str) != "test").sum())
        return CohortRelation(OWN, n, seen, run.cohort.name)
    if run.cohort.source == bundle.source and source_info(bundle.source).seeded_draws:
        a, b = _draw_seed(run.cohort.name), _draw_seed(bundle.name, bundle.provenance)
        if a is not None and b is not None and a != b:
            return CohortRelation(EXTERNAL, n, 0, run.cohort.name)  # another draw: the same ids are other stays
    stored = run.stored_rows() if run.stores_predictions else None
    if stored is None or "split" not in stored:
        return CohortRelation(UNKNOWN, n, 0, run.cohort.name)
    fitted = stored.index.to_numpy()[stored["split"].astype(str).isin(["train", "val"]).to_numpy()]
    seen = int(np.isin(bundle.stays["stay_id"].to_numpy(), fitted).sum())
    return CohortRelation(OVERLAPPING if seen else EXTERNAL, n, seen, run.cohort.name)
