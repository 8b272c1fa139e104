"""The concepts of a synthetic cohort: the latent causes the generator stored
(``latent_causes.parquet``), which the model never reads. Registered with ``lemof.data.sources``."""

from __future__ import annotations

import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.concepts import Concept, ConceptSet
from lemof.data.sources import register_source
from lemof.errors import CohortError

SOURCE = "synthetic"
CONCEPTS = (
    Concept("AF", "atrial fibrillation (latent cause af): irregular RR intervals, no P waves on the ECG", "binary"),
    Concept("ischaemia", "myocardial ischaemia (latent cause ischaemia): ST deviation on the ECG, troponin rise", "binary"),
    Concept("wide QRS", "wide QRS complex (latent cause wide_qrs): conduction delay on the ECG", "binary"),
    Concept("severity", "physiological severity (latent cause severity, continuous): lactate, MAP, heart rate", "continuous"),
    Concept("renal", "renal dysfunction (latent cause renal, continuous): creatinine, BUN, urine", "continuous"),
    Concept("infection", "infection (latent cause infection): temperature, WBC", "binary"),
    Concept("trajectory", "trajectory over the window (latent cause trajectory, continuous): improving or worsening", "continuous"),
    Concept("elective", "elective admission (latent cause elective)", "binary"),
)
_COLUMNS = {"AF": "af", "ischaemia": "ischaemia", "wide QRS": "wide_qrs", "severity": "severity", "renal": "renal",
            "infection": "infection", "trajectory": "trajectory", "elective": "elective"}


def concept_values(bundle: CohortBundle) -> tuple[tuple[Concept, ...], pd.DataFrame]:
    latent = bundle.latent_causes()
    if latent is None:
        raise CohortError(f"synthetic cohort {bundle.name} has no latent_causes.parquet: there is nothing to probe the levels for")
    latent = latent.set_index("stay_id").reindex(bundle.stays["stay_id"].to_numpy())
    return CONCEPTS, pd.DataFrame({c.name: latent[_COLUMNS[c.name]].to_numpy(dtype=float) for c in CONCEPTS})


def has_concepts(bundle: CohortBundle) -> bool:
    """A synthetic cohort has concepts if it kept its latent causes."""
    return (bundle.path / "latent_causes.parquet").exists()


register_source(SOURCE, concepts=ConceptSet(values=concept_values, available=has_concepts))
