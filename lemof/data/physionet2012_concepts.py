"""The concepts of a PhysioNet 2012 cohort: derived from the data, plus SAPS-I, SOFA and in-hospital
death from the challenge's outcome file (not model inputs). Registered with ``lemof.data.sources``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.concepts import AKI_BY_CREATININE, LACTATE_ABOVE_2, Concept, ConceptSet, aki, at_any_time, ehr_feature, sustained
from lemof.data.physionet2012 import SOURCE
from lemof.data.physionet2012_source import VENDORED_DIR
from lemof.data.sources import register_source

CONCEPTS = (
    Concept("SAPS-I", "SAPS-I score (outcome file; not a model input), continuous", "continuous"),
    Concept("SOFA", "SOFA score (outcome file; not a model input), continuous", "continuous"),
    Concept("ventilated", "mechanical ventilation: MechVent recorded as 1 at any time in the 48 h window", "binary"),
    Concept("surgical ICU", "surgical ICU: first care unit CSRU (cardiac surgery recovery) or SICU, vs CCU / MICU", "binary"),
    Concept("shock", "hypotension: mean arterial pressure (invasive MAP, else NIMAP) < 65 mmHg in two consecutive "
                     "30-min bins (>= 1 h) of the 48 h window", "binary"),
    LACTATE_ABOVE_2,
    AKI_BY_CREATININE,
    Concept("GCS <= 8", "Glasgow Coma Scale <= 8 at any time in the window", "binary"),
    Concept("in-hospital death", "died in hospital (outcome file; not a model input)", "binary"),
)


def concept_values(bundle: CohortBundle) -> tuple[tuple[Concept, ...], pd.DataFrame]:
    n = len(bundle)
    out: dict[str, np.ndarray] = {}
    path = VENDORED_DIR / "outcomes.parquet"
    ids = bundle.stays["stay_id"].to_numpy()
    if path.exists():
        outcomes = pd.read_parquet(path).drop_duplicates("record_id").set_index("record_id").reindex(ids)
        for col in ("SAPS-I", "SOFA"):
            v = outcomes[col].to_numpy(dtype=float)
            out[col] = np.where(v < 0, np.nan, v)  # -1: not recorded
        death = outcomes["In-hospital_death"].to_numpy(dtype=float)
        out["in-hospital death"] = np.where(death < 0, np.nan, death)
    else:
        for col in ("SAPS-I", "SOFA", "in-hospital death"):
            out[col] = np.full(n, np.nan)
    out["ventilated"] = at_any_time(ehr_feature(bundle, "MechVent"), lambda v: v >= 0.5)
    out["surgical ICU"] = bundle.stays["first_careunit"].isin(["CSRU", "SICU"]).to_numpy(dtype=float)
    channels = bundle.signal_channels
    sig = np.asarray(bundle.signal, dtype=np.float64) * bundle.signal_scale
    if bundle.signal_mask is not None:
        sig = np.where(np.asarray(bundle.signal_mask).astype(bool), sig, np.nan)
    mean_bp = sig[:, channels.index("MAP")]
    mean_bp = np.where(np.isnan(mean_bp), sig[:, channels.index("NIMAP")], mean_bp)
    with np.errstate(invalid="ignore"):
        low = np.where(np.isnan(mean_bp), False, (mean_bp < 65) & (mean_bp > 0))
    out["shock"] = sustained(low, 2)
    out["lactate > 2"] = at_any_time(ehr_feature(bundle, "Lactate"), lambda v: v > 2)
    out["AKI"] = aki(ehr_feature(bundle, "Creatinine"))
    out["GCS <= 8"] = at_any_time(ehr_feature(bundle, "GCS"), lambda v: v <= 8)
    return CONCEPTS, pd.DataFrame({c.name: out[c.name] for c in CONCEPTS})


register_source(SOURCE, concepts=ConceptSet(values=concept_values, available=lambda bundle: True))
