"""Levels named by what they encode: per-level concept probes.

For every level of a LeMoF run (``ehr.L1`` ... ``sig.L4``) a linear probe on the level's pooled
representation (the projected level tokens ``proj_l(H_m^l)``, mean-pooled over time) predicts
each *concept* of the cohort: the stored latent causes of a synthetic cohort, clinical concepts
derived from the data (and the outcome file's SAPS-I and SOFA) for PhysioNet 2012, and for
MIMIC-IV from the data plus the ICD diagnoses of the bundle's ``outcomes.parquet``. The probe is
cross-validated on held-out stays only (validation + test; ``FOLDS``-fold, stratified for binary
concepts), so it measures what the frozen encoder holds, not what the probe memorised:

* binary concepts: logistic regression (standardised inputs, C = 1), out-of-fold AUROC;
* continuous concepts: ridge regression (standardised inputs, alpha = 10), out-of-fold R².

The CI is a percentile bootstrap over stays of the out-of-fold predictions (``N_BOOT``
resamples). Biosignal levels are probed on the held-out stays that have a biosignal.

The result is ``level_concepts.json`` in the run directory (written at training, or by
``python -m lemof concepts --run R --data D`` for a run trained before)::

    {"concepts": {name: {"definition": str, "kind": "binary" | "continuous"}},
     "levels": {"ehr.L1": {name: {"score": float, "lo": float, "hi": float, "n": int}}}, ...}

A concept that cannot be probed on a level (fewer than ``MIN_PER_CLASS`` stays of a class, or
no variance) is left out of that level. ``level_labels`` turns it into the chart labels
("ECG level 1 · wide QRS, ischaemia"): the concepts that clear ``THRESHOLDS``, at most two.

Reading the file needs neither torch nor scikit-learn; computing it needs both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.mimic import SOURCE as MIMIC_SOURCE
from lemof.data.mimic_schema import DIAGNOSES
from lemof.errors import CohortError, RunError

CONCEPTS_FILE = "level_concepts.json"
FOLDS = 5
N_BOOT = 200
MIN_PER_CLASS = 8
THRESHOLDS = {"binary": 0.8, "continuous": 0.3}  # AUROC, R²: a level is labelled with a concept that clears it
MAX_LABEL_CONCEPTS = 2
KINDS = ("binary", "continuous")
METHOD = (
    f"linear probe on each level's mean-pooled projected tokens; {FOLDS}-fold cross-validation over held-out "
    "(validation + test) stays, stratified for binary concepts; logistic regression (C = 1) -> AUROC, "
    f"ridge (alpha = 10) -> R², on standardised inputs; 95 % CI: percentile bootstrap ({N_BOOT}) over stays "
    "of the out-of-fold predictions; biosignal levels on the held-out stays with a biosignal"
)


@dataclass(frozen=True)
class Concept:
    name: str  # short, shown in labels
    definition: str
    kind: str  # "binary" | "continuous"


# --- concepts of a cohort ---------------------------------------------------------------------
SYNTHETIC = (
    Concept("AF", "atrial fibrillation (latent cause af): irregular RR intervals, no P waves on the ECG", "binary"),
    Concept("ischaemia", "myocardial ischaemia (latent cause ischaemia): ST deviation on the ECG, troponin rise", "binary"),
    Concept("wide QRS", "wide QRS complex (latent cause wide_qrs): conduction delay on the ECG", "binary"),
    Concept("severity", "physiological severity (latent cause severity, continuous): lactate, MAP, heart rate", "continuous"),
    Concept("renal", "renal dysfunction (latent cause renal, continuous): creatinine, BUN, urine", "continuous"),
    Concept("infection", "infection (latent cause infection): temperature, WBC", "binary"),
    Concept("trajectory", "trajectory over the window (latent cause trajectory, continuous): improving or worsening", "continuous"),
    Concept("elective", "elective admission (latent cause elective)", "binary"),
)
_SYNTHETIC_COLUMNS = {"AF": "af", "ischaemia": "ischaemia", "wide QRS": "wide_qrs", "severity": "severity", "renal": "renal",
                      "infection": "infection", "trajectory": "trajectory", "elective": "elective"}

# data-derived concepts that PhysioNet 2012 and MIMIC-IV define alike
LACTATE_ABOVE_2 = Concept("lactate > 2", "lactate > 2 mmol/L at any time in the window", "binary")
AKI_BY_CREATININE = Concept("AKI", "acute kidney injury by creatinine (KDIGO-like): max >= 1.5 x min or a rise >= 0.3 mg/dL over the window", "binary")
PHYSIONET2012 = (
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


def _synthetic(bundle: CohortBundle) -> pd.DataFrame:
    latent = bundle.latent_causes()
    if latent is None:
        raise CohortError(f"synthetic cohort {bundle.name} has no latent_causes.parquet: there is nothing to probe the levels for")
    latent = latent.set_index("stay_id").reindex(bundle.stays["stay_id"].to_numpy())
    return pd.DataFrame({c.name: latent[_SYNTHETIC_COLUMNS[c.name]].to_numpy(dtype=float) for c in SYNTHETIC})


def _ehr_feature(bundle: CohortBundle, name: str) -> np.ndarray:
    """(N, T) values of one EHR feature, NaN where unobserved."""
    j = bundle.ehr_feature_names.index(name)
    values = np.asarray(bundle.ehr_values[:, :, j], dtype=np.float64)
    return np.where(np.asarray(bundle.ehr_mask[:, :, j]).astype(bool), values, np.nan)


def _any(values: np.ndarray, test) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(values), False, test(values)).any(axis=1).astype(float)


def _physionet2012(bundle: CohortBundle) -> pd.DataFrame:
    from lemof.data.physionet2012_source import VENDORED_DIR  # lazy: only PhysioNet cohorts need the outcome file

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
    out["ventilated"] = _any(_ehr_feature(bundle, "MechVent"), lambda v: v >= 0.5)
    out["surgical ICU"] = bundle.stays["first_careunit"].isin(["CSRU", "SICU"]).to_numpy(dtype=float)
    channels = bundle.signal_channels
    sig = np.asarray(bundle.signal, dtype=np.float64) * bundle.signal_scale
    if bundle.signal_mask is not None:
        sig = np.where(np.asarray(bundle.signal_mask).astype(bool), sig, np.nan)
    mean_bp = sig[:, channels.index("MAP")]
    mean_bp = np.where(np.isnan(mean_bp), sig[:, channels.index("NIMAP")], mean_bp)
    with np.errstate(invalid="ignore"):
        low = np.where(np.isnan(mean_bp), False, (mean_bp < 65) & (mean_bp > 0))
    out["shock"] = _sustained(low, 2)
    out["lactate > 2"] = _any(_ehr_feature(bundle, "Lactate"), lambda v: v > 2)
    out["AKI"] = _aki(_ehr_feature(bundle, "Creatinine"))
    out["GCS <= 8"] = _any(_ehr_feature(bundle, "GCS"), lambda v: v <= 8)
    return pd.DataFrame({c.name: out[c.name] for c in PHYSIONET2012})


def _sustained(flag: np.ndarray, bins: int) -> np.ndarray:
    """(N,) 1.0 where ``flag`` (N, T) holds in ``bins`` consecutive bins."""
    run = flag[:, : flag.shape[1] - bins + 1].copy()
    for k in range(1, bins):
        run &= flag[:, k : flag.shape[1] - bins + 1 + k]
    return run.any(axis=1).astype(float)


def _aki(creat: np.ndarray) -> np.ndarray:
    """KDIGO-like AKI from (N, T) creatinine (mg/dL, NaN unobserved): max >= 1.5 x min or a rise
    >= 0.3 over the first value; fewer than two values: 0 (no evidence)."""
    seen = (~np.isnan(creat)).sum(axis=1) >= 2
    with np.errstate(invalid="ignore", all="ignore"):
        first = np.array([row[~np.isnan(row)][0] if s else np.nan for row, s in zip(creat, seen)])
        cmax, cmin = np.nanmax(np.where(seen[:, None], creat, 0.0), axis=1), np.nanmin(np.where(seen[:, None], creat, 0.0), axis=1)
        aki = (cmax >= 1.5 * cmin) | (cmax - first >= 0.3)
    return np.where(seen, aki.astype(float), 0.0)


# MIMIC-IV: from the EHR features the bundle has (hourly, the observation window), the first care
# unit, and the ICD diagnoses of outcomes.parquet (hosp/diagnoses_icd; not model inputs).
MIMIC_SURGICAL_UNITS = (
    "Surgical Intensive Care Unit (SICU)", "Cardiac Vascular Intensive Care Unit (CVICU)", "Trauma SICU (TSICU)",
    "Neuro Surgical Intensive Care Unit (Neuro SICU)",
)
MIMIC_MEDICAL_UNITS = ("Medical Intensive Care Unit (MICU)", "Coronary Care Unit (CCU)")
_ICD_NOTE = "administrative ICD code of the whole hospital admission (may postdate the window; outcomes.parquet, not a model input)"
MIMIC = (
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
_MIMIC_EHR_INPUTS = {"shock": "mbp", "lactate > 2": "lactate", "AKI": "creatinine", "GCS <= 8": "gcs"}
_MIMIC_DIAGNOSES = {name: col for col, (name, _) in DIAGNOSES.items()}  # concept -> outcomes.parquet column


def _mimic_available(bundle: CohortBundle, outcomes: pd.DataFrame | None) -> tuple[Concept, ...]:
    """The MIMIC concepts whose inputs this bundle has (EHR feature, care unit, diagnosis column)."""
    features = set(bundle.ehr_feature_names)
    ok = []
    for c in MIMIC:
        if c.name in _MIMIC_EHR_INPUTS:
            ok.append(_MIMIC_EHR_INPUTS[c.name] in features)
        elif c.name in _MIMIC_DIAGNOSES:
            ok.append(outcomes is not None and _MIMIC_DIAGNOSES[c.name] in outcomes.columns)
        else:
            ok.append("first_careunit" in bundle.stays.columns)
    return tuple(c for c, keep in zip(MIMIC, ok) if keep)


def _mimic(bundle: CohortBundle) -> tuple[tuple[Concept, ...], pd.DataFrame]:
    outcomes = bundle.outcomes()
    concepts = _mimic_available(bundle, outcomes)
    out: dict[str, np.ndarray] = {}
    for c in concepts:
        if c.name == "surgical ICU":
            unit = bundle.stays["first_careunit"].astype(str)
            out[c.name] = np.where(unit.isin(MIMIC_SURGICAL_UNITS), 1.0, np.where(unit.isin(MIMIC_MEDICAL_UNITS), 0.0, np.nan))
        elif c.name == "shock":
            mbp = _ehr_feature(bundle, "mbp")
            with np.errstate(invalid="ignore"):
                out[c.name] = _sustained(np.where(np.isnan(mbp), False, (mbp < 65) & (mbp > 0)), 1)
        elif c.name == "lactate > 2":
            out[c.name] = _any(_ehr_feature(bundle, "lactate"), lambda v: v > 2)
        elif c.name == "AKI":
            out[c.name] = _aki(_ehr_feature(bundle, "creatinine"))
        elif c.name == "GCS <= 8":
            out[c.name] = _any(_ehr_feature(bundle, "gcs"), lambda v: v <= 8)
        else:  # a diagnosis: unknown where the admission has no diagnoses_icd row
            flag = outcomes[_MIMIC_DIAGNOSES[c.name]].to_numpy(dtype=float)
            listed = outcomes["has_diagnoses"].to_numpy(dtype=bool) if "has_diagnoses" in outcomes.columns else np.isfinite(flag)
            out[c.name] = np.where(listed, flag, np.nan)
    return concepts, pd.DataFrame({c.name: out[c.name] for c in concepts}, index=pd.RangeIndex(len(bundle)))


def cohort_concepts(bundle: CohortBundle) -> tuple[tuple[Concept, ...], pd.DataFrame]:
    """The concepts of ``bundle``'s family and their value for every stay (row order of the
    bundle; NaN where unknown). ``CohortError`` for a family without any. A MIMIC-IV cohort gets
    the concepts whose inputs it has (the diagnoses only with ``outcomes.parquet``)."""
    if bundle.source == "synthetic":
        return SYNTHETIC, _synthetic(bundle)
    if bundle.source == "physionet2012":
        return PHYSIONET2012, _physionet2012(bundle)
    if bundle.source == MIMIC_SOURCE:
        concepts, values = _mimic(bundle)
        if not concepts:
            raise CohortError(f"MIMIC-IV cohort {bundle.name} has none of the inputs of its concepts (see docs/CONCEPTS.md)")
        return concepts, values
    raise CohortError(f"no concepts are defined for {bundle.source!r} cohorts (synthetic, physionet2012 and mimic-iv have them; see docs/CONCEPTS.md)")


# --- probes -----------------------------------------------------------------------------------
def _score(kind: str, y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score, roc_auc_score  # lazy: reading a run's concepts needs no scikit-learn

    return float(roc_auc_score(y, pred)) if kind == "binary" else float(r2_score(y, pred))


def probe(x: np.ndarray, y: np.ndarray, kind: str, *, folds: int = FOLDS, n_boot: int = N_BOOT, seed: int = 0) -> dict | None:
    """Out-of-fold score of a linear probe of ``y`` from ``x`` (rows where ``y`` is known), with
    a bootstrap CI: ``{"score", "lo", "hi", "n"}``; None if it cannot be probed."""
    from sklearn.linear_model import LogisticRegression, Ridge  # lazy: reading a run's concepts needs no scikit-learn
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict  # lazy: as above
    from sklearn.pipeline import make_pipeline  # lazy: as above
    from sklearn.preprocessing import StandardScaler  # lazy: as above

    if kind not in KINDS:
        raise ValueError(f"unknown concept kind {kind!r}")
    known = np.isfinite(y)
    x, y = np.asarray(x, dtype=np.float64)[known], np.asarray(y, dtype=np.float64)[known]
    if kind == "binary":
        y = (y > 0.5).astype(int)
        if min(int(y.sum()), int(len(y) - y.sum())) < max(MIN_PER_CLASS, folds):
            return None
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        pred = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    else:
        if len(y) < 2 * MIN_PER_CLASS or float(np.std(y)) == 0.0:
            return None
        model = make_pipeline(StandardScaler(), Ridge(alpha=10.0))
        pred = cross_val_predict(model, x, y, cv=KFold(folds, shuffle=True, random_state=seed))
    score = _score(kind, y, pred)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if kind == "binary" and y[i].min() == y[i].max():
            continue
        boots.append(_score(kind, y[i], pred[i]))
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if boots else (score, score))
    return {"score": round(score, 4), "lo": round(float(lo), 4), "hi": round(float(hi), 4), "n": int(len(y))}


def level_representations(model, pre, bundle: CohortBundle, rows: np.ndarray, *, device="cpu", batch_size: int = 256) -> dict[str, np.ndarray]:
    """``{level name: (n, d)}``: every level's projected tokens of ``rows``, mean-pooled over time."""
    import torch  # lazy: only computing the probes runs the network

    from lemof.models.inference import in_batches  # lazy: imports torch

    rows = np.asarray(rows)
    ehr_x = pre.ehr(bundle, rows)
    sig_x, _ = pre.signal(bundle, rows)

    def step(sl: slice):
        e = model.ehr(torch.as_tensor(ehr_x[sl], device=device))
        s = model.sig(torch.as_tensor(sig_x[sl], device=device))
        return tuple(t.mean(dim=1).float().cpu().numpy() for t in list(e.tokens) + list(s.tokens))

    pooled = in_batches(model, len(rows), step, batch_size)
    names = model.level_names["ehr"] + model.level_names["sig"]
    return dict(zip(names, pooled))


def compute_level_concepts(model, pre, bundle: CohortBundle, *, device="cpu", seed: int = 0, n_boot: int = N_BOOT, progress=None) -> dict:
    """The content of ``level_concepts.json`` for a LeMoF network on the cohort it was trained on."""
    concepts, values = cohort_concepts(bundle)
    split = bundle.stays["split"].to_numpy()
    rows = np.flatnonzero(np.isin(split, ["val", "test"]))
    reps = level_representations(model, pre, bundle, rows, device=device)
    has_sig = bundle.stays["has_signal"].to_numpy(dtype=bool)[rows]
    levels: dict[str, dict] = {}
    for k, (level, x) in enumerate(reps.items()):
        keep = has_sig if level.startswith("sig.") else np.ones(len(rows), dtype=bool)
        scores = {}
        for c in concepts:
            result = probe(x[keep], values[c.name].to_numpy()[rows][keep], c.kind, n_boot=n_boot, seed=seed)
            if result is not None:
                scores[c.name] = result
        levels[level] = scores
        if progress is not None:
            progress("concept probes", k + 1, len(reps), level)
    return {
        "concepts": {c.name: {"definition": c.definition, "kind": c.kind} for c in concepts},
        "levels": levels,
        "thresholds": dict(THRESHOLDS),
        "stays": {"rows": "val+test", "n": int(len(rows)), "n_with_signal": int(has_sig.sum())},
        "cohort_fingerprint": bundle.fingerprint,
        "method": METHOD,
    }


# --- reading and labels ----------------------------------------------------------------------
def check_level_concepts(obj, where: str) -> dict:
    """``obj`` if it is a well-formed ``level_concepts.json``, else a one-line ``RunError``."""
    try:
        concepts, levels = obj["concepts"], obj["levels"]
        for name, c in concepts.items():
            if c["kind"] not in KINDS or not isinstance(c["definition"], str):
                raise ValueError(f"concept {name!r}")
        for level, scores in levels.items():
            for name, s in scores.items():
                if name not in concepts:
                    raise ValueError(f"level {level} scores unknown concept {name!r}")
                for key in ("score", "lo", "hi"):
                    float(s[key])
                int(s["n"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"{where} is malformed ({type(exc).__name__}: {exc}); python -m lemof concepts rewrites it") from None
    return obj


def read_level_concepts(path: Path) -> dict | None:
    """The concepts stored at ``path`` (None if there is no file)."""
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc})") from None
    return check_level_concepts(obj, str(path))


def _strength(kind: str, score: float, thresholds: dict) -> float:
    """How far above its threshold a score lies, on a 0..1 scale common to AUROC and R²."""
    t = thresholds[kind]
    return (score - t) / (1.0 - t)


def level_concepts_of(level_concepts: dict | None, level: str, thresholds: dict | None = None, top: int = MAX_LABEL_CONCEPTS) -> list[str]:
    """The concepts ``level`` encodes: those whose score clears its kind's threshold, strongest first, at most ``top``."""
    if not level_concepts:
        return []
    thresholds = thresholds or level_concepts.get("thresholds") or THRESHOLDS
    kinds = {n: c["kind"] for n, c in level_concepts["concepts"].items()}
    scores = level_concepts["levels"].get(level, {})
    passing = [(n, _strength(kinds[n], s["score"], thresholds)) for n, s in scores.items() if s["score"] >= thresholds[kinds[n]]]
    return [n for n, _ in sorted(passing, key=lambda p: -p[1])][:top]


def level_labels(level_concepts: dict | None, levels: list[str]) -> dict[str, str]:
    """``{level: "wide QRS, ischaemia"}`` for every level in ``levels`` ("" where none clears the threshold)."""
    return {level: ", ".join(level_concepts_of(level_concepts, level)) for level in levels}


def cohort_has_concepts(bundle: CohortBundle) -> bool:
    """Whether ``cohort_concepts`` defines concepts for this cohort (a synthetic one needs its latent causes)."""
    if bundle.source == "synthetic":
        return (bundle.path / "latent_causes.parquet").exists()
    if bundle.source == MIMIC_SOURCE:
        return bool(_mimic_available(bundle, bundle.outcomes()))
    return bundle.source == "physionet2012"
