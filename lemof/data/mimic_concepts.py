"""The concepts of a MIMIC-IV cohort: from the EHR features the bundle has (hourly, the observation
window), the first care unit, and the ICD diagnoses of ``outcomes.parquet`` (hosp/diagnoses_icd;
not model inputs). A cohort gets the concepts whose inputs it has. Registered with
``lemof.data.sources``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.concepts import AKI_BY_CREATININE, LACTATE_ABOVE_2, Concept, ConceptSet, aki, at_any_time, ehr_feature, sustained
from lemof.data.mimic import SOURCE
from lemof.data.mimic_schema import DIAGNOSES
from lemof.data.sources import register_source
from lemof.errors import CohortError

SURGICAL_UNITS = (
    "Surgical Intensive Care Unit (SICU)", "Cardiac Vascular Intensive Care Unit (CVICU)", "Trauma SICU (TSICU)",
    "Neuro Surgical Intensive Care Unit (Neuro SICU)",
)
MEDICAL_UNITS = ("Medical Intensive Care Unit (MICU)", "Coronary Care Unit (CCU)")
_ICD_NOTE = "administrative ICD code of the whole hospital admission (may postdate the window; outcomes.parquet, not a model input)"
CONCEPTS = (
    Concept("surgical ICU", "surgical ICU: first care unit SICU, CVICU, TSICU or Neuro SICU, vs MICU / CCU "
                            "(MICU/SICU and other units: unknown)", "binary"),
    Concept("shock", "hypotension: hourly mean arterial pressure (mbp) < 65 mmHg in at least one hour (>= 1 h) of the window", "binary"),
    LACTATE_ABOVE_2,
    AKI_BY_CREATININE,
    Concept("GCS <= 8", "Glasgow Coma Scale total <= 8 at any time in the window", "binary"),
    Concept("sepsis (ICD)", f"sepsis: ICD-10 A40, A41, R65.2 / ICD-9 038, 995.91, 995.92; {_ICD_NOTE}", "binary"),
    Concept("AKI (ICD)", f"acute kidney failure: ICD-10 N17 / ICD-9 584; {_ICD_NOTE}", "binary"),
    Concept("heart failure (ICD)", f"heart failure: ICD-10 I50 / ICD-9 428; {_ICD_NOTE}", "binary"),
    Concept("MI (ICD)", f"myocardial infarction: ICD-10 I21, I22 / ICD-9 410; {_ICD_NOTE}", "binary"),
    Concept("AF (ICD)", f"atrial fibrillation or flutter: ICD-10 I48 / ICD-9 427.3; {_ICD_NOTE}", "binary"),
)
_EHR_INPUTS = {"shock": "mbp", "lactate > 2": "lactate", "AKI": "creatinine", "GCS <= 8": "gcs"}
_DIAGNOSES = {name: col for col, (name, _) in DIAGNOSES.items()}  # concept -> outcomes.parquet column


def available_concepts(bundle: CohortBundle, outcomes: pd.DataFrame | None) -> tuple[Concept, ...]:
    """The concepts whose inputs this bundle has (EHR feature, care unit, diagnosis column)."""
    features = set(bundle.ehr_feature_names)
    ok = []
    for c in CONCEPTS:
        if c.name in _EHR_INPUTS:
            ok.append(_EHR_INPUTS[c.name] in features)
        elif c.name in _DIAGNOSES:
            ok.append(outcomes is not None and _DIAGNOSES[c.name] in outcomes.columns)
        else:
            ok.append("first_careunit" in bundle.stays.columns)
    return tuple(c for c, keep in zip(CONCEPTS, ok) if keep)


def concept_values(bundle: CohortBundle) -> tuple[tuple[Concept, ...], pd.DataFrame]:
    outcomes = bundle.outcomes()
    concepts = available_concepts(bundle, outcomes)
    if not concepts:
        raise CohortError(f"MIMIC-IV cohort {bundle.name} has none of the inputs of its concepts (see docs/CONCEPTS.md)")
    out: dict[str, np.ndarray] = {}
    for c in concepts:
        if c.name == "surgical ICU":
            unit = bundle.stays["first_careunit"].astype(str)
            out[c.name] = np.where(unit.isin(SURGICAL_UNITS), 1.0, np.where(unit.isin(MEDICAL_UNITS), 0.0, np.nan))
        elif c.name == "shock":
            mbp = ehr_feature(bundle, "mbp")
            with np.errstate(invalid="ignore"):
                out[c.name] = sustained(np.where(np.isnan(mbp), False, (mbp < 65) & (mbp > 0)), 1)
        elif c.name == "lactate > 2":
            out[c.name] = at_any_time(ehr_feature(bundle, "lactate"), lambda v: v > 2)
        elif c.name == "AKI":
            out[c.name] = aki(ehr_feature(bundle, "creatinine"))
        elif c.name == "GCS <= 8":
            out[c.name] = at_any_time(ehr_feature(bundle, "gcs"), lambda v: v <= 8)
        else:  # a diagnosis: unknown where the admission has no diagnoses_icd row
            flag = outcomes[_DIAGNOSES[c.name]].to_numpy(dtype=float)
            listed = outcomes["has_diagnoses"].to_numpy(dtype=bool) if "has_diagnoses" in outcomes.columns else np.isfinite(flag)
            out[c.name] = np.where(listed, flag, np.nan)
    return concepts, pd.DataFrame({c.name: out[c.name] for c in concepts}, index=pd.RangeIndex(len(bundle)))


def has_concepts(bundle: CohortBundle) -> bool:
    return bool(available_concepts(bundle, bundle.outcomes()))


register_source(SOURCE, los_definition="ICU length of stay: from ICU admission to ICU discharge (MIMIC-IV icustays.los)", concepts=ConceptSet(values=concept_values, available=has_concepts))
