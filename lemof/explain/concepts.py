"""Levels named by what they encode: per-level concept probes.

For every level of a LeMoF run (``ehr.L1`` ... ``sig.L4``) a linear probe on the level's pooled
representation (the projected level tokens ``proj_l(H_m^l)``, mean-pooled over time) predicts
each *concept* of the cohort, as its family defines them (``lemof.data.concepts``, registered by
the family with ``lemof.data.sources``): the stored latent causes of a synthetic cohort, clinical
concepts derived from the data (and the outcome file's SAPS-I and SOFA) for PhysioNet 2012, and
for MIMIC-IV from the data plus the ICD diagnoses of the bundle's ``outcomes.parquet``. The probe is
cross-validated on held-out stays only (validation + test; ``FOLDS``-fold, stratified for binary
concepts), so it measures what the frozen encoder holds, not what the probe memorised:

* binary concepts: logistic regression (standardised inputs, C = 1), out-of-fold AUROC;
* continuous concepts: ridge regression (standardised inputs, alpha = 10), out-of-fold R².

The CI is a percentile bootstrap over stays of the out-of-fold predictions (``N_BOOT``
resamples). Biosignal levels are probed on the held-out stays that have a biosignal.

The result is ``level_concepts.json`` in the run directory (written at training, or by
``python -m lemof concepts --run R --data D`` for a run trained before; its format and reader are
``lemof/runs/concepts_file.py``).

A concept that cannot be probed on a level (fewer than ``MIN_PER_CLASS`` stays of a class, or
no variance) is left out of that level. ``level_labels`` turns it into the charts' level labels:
"best probe: AF, AUROC 0.89", the concept a level's probe detects best among those that clear
``THRESHOLDS``. It is a property of the level across the held-out cohort, never a statement about
one patient, and is left out where every level of a modality has the same best probe (it would
tell the levels apart by nothing).

Computing it needs torch and scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.concepts import KINDS, Concept
from lemof.data.sources import families_with_concepts, source_info
from lemof.errors import CohortError

FOLDS = 5
N_BOOT = 200
MIN_PER_CLASS = 8
THRESHOLDS = {"binary": 0.8, "continuous": 0.3}  # AUROC, R²: a level is labelled with a concept that clears it
MAX_LABEL_CONCEPTS = 2
METHOD = (
    f"linear probe on each level's mean-pooled projected tokens; {FOLDS}-fold cross-validation over held-out "
    "(validation + test) stays, stratified for binary concepts; logistic regression (C = 1) -> AUROC, "
    f"ridge (alpha = 10) -> R², on standardised inputs; 95 % CI: percentile bootstrap ({N_BOOT}) over stays "
    "of the out-of-fold predictions; biosignal levels on the held-out stays with a biosignal"
)


# --- concepts of a cohort ---------------------------------------------------------------------
def cohort_concepts(bundle: CohortBundle) -> tuple[tuple[Concept, ...], pd.DataFrame]:
    """The concepts of ``bundle``'s family and their value for every stay (row order of the
    bundle; NaN where unknown). ``CohortError`` for a family without any. A MIMIC-IV cohort gets
    the concepts whose inputs it has (the diagnoses only with ``outcomes.parquet``)."""
    concepts = source_info(bundle.source).concepts
    if concepts is None:
        have = ", ".join(families_with_concepts())
        raise CohortError(f"no concepts are defined for {bundle.source!r} cohorts ({have} have them; see docs/CONCEPTS.md)")
    return concepts.values(bundle)


def cohort_has_concepts(bundle: CohortBundle) -> bool:
    """Whether ``cohort_concepts`` defines concepts for this cohort (a synthetic one needs its latent causes)."""
    concepts = source_info(bundle.source).concepts
    return concepts is not None and concepts.available(bundle)


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


# --- labels -----------------------------------------------------------------------------------
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


def best_probe(level_concepts: dict | None, level: str, thresholds: dict | None = None) -> tuple[str, str, float] | None:
    """``(concept, "AUROC" or "R²", score)``: the concept ``level``'s probe detects best (the
    strongest above its kind's threshold); None when none clears it or there are no probes."""
    names = level_concepts_of(level_concepts, level, thresholds, top=1)
    if not names:
        return None
    kind = level_concepts["concepts"][names[0]]["kind"]
    return names[0], "AUROC" if kind == "binary" else "R²", float(level_concepts["levels"][level][names[0]]["score"])


def level_labels(level_concepts: dict | None, levels: list[str]) -> dict[str, str]:
    """``{level: "best probe: AF, AUROC 0.89"}`` for every level in ``levels``: what the level
    encodes across the cohort. ``""`` where no probe clears its threshold, and ``""`` for every
    level of a modality (``ehr.`` / ``sig.``) when all its levels in ``levels`` — two or more —
    share the same best probe: a label then distinguishes nothing and would read as a fact
    about the patient."""
    best = {level: best_probe(level_concepts, level) for level in levels}
    out = {level: "" if b is None else f"best probe: {b[0]}, {b[1]} {b[2]:.2f}" for level, b in best.items()}
    for modality in {level.split(".", 1)[0] for level in levels}:
        own = [level for level in levels if level.split(".", 1)[0] == modality]
        shared = {best[level][0] if best[level] else None for level in own}
        if len(own) >= 2 and len(shared) == 1:
            out.update({level: "" for level in own})
    return out
