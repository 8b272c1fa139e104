"""Clinical concepts of a cohort: what the level probes look for (``lemof.explain.concepts``).

A ``Concept`` is a name, its definition and its kind (binary or continuous). Each cohort family
defines its own concepts and how to read their value for every stay, in its own module
(``synthetic_concepts``, ``physionet2012_concepts``, ``mimic_concepts``), and registers them as a
``ConceptSet`` with ``lemof.data.sources``. The derivations two families share (an EHR feature
over the window, "at any time", "sustained", AKI by creatinine) are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from lemof.data.bundle import CohortBundle

KINDS = ("binary", "continuous")


@dataclass(frozen=True)
class Concept:
    name: str  # short, shown in labels
    definition: str
    kind: str  # "binary" | "continuous"


@dataclass(frozen=True)
class ConceptSet:
    """A family's concepts: ``values(bundle)`` gives the concepts that apply to the cohort and their
    value for every stay (row order of the bundle, NaN where unknown; ``CohortError`` when none
    apply); ``available(bundle)`` says, cheaply, whether any do."""

    values: Callable[[CohortBundle], tuple[tuple[Concept, ...], pd.DataFrame]]
    available: Callable[[CohortBundle], bool]


# data-derived concepts that PhysioNet 2012 and MIMIC-IV define alike
LACTATE_ABOVE_2 = Concept("lactate > 2", "lactate > 2 mmol/L at any time in the window", "binary")
AKI_BY_CREATININE = Concept("AKI", "acute kidney injury by creatinine (KDIGO-like): max >= 1.5 x min or a rise >= 0.3 mg/dL over the window", "binary")


def ehr_feature(bundle: CohortBundle, name: str) -> np.ndarray:
    """(N, T) values of one EHR feature, NaN where unobserved."""
    j = bundle.ehr_feature_names.index(name)
    values = np.asarray(bundle.ehr_values[:, :, j], dtype=np.float64)
    return np.where(np.asarray(bundle.ehr_mask[:, :, j]).astype(bool), values, np.nan)


def at_any_time(values: np.ndarray, test) -> np.ndarray:
    """(N,) 1.0 where ``test`` holds for an observed value of (N, T) ``values``."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(values), False, test(values)).any(axis=1).astype(float)


def sustained(flag: np.ndarray, bins: int) -> np.ndarray:
    """(N,) 1.0 where ``flag`` (N, T) holds in ``bins`` consecutive bins."""
    run = flag[:, : flag.shape[1] - bins + 1].copy()
    for k in range(1, bins):
        run &= flag[:, k : flag.shape[1] - bins + 1 + k]
    return run.any(axis=1).astype(float)


def aki(creat: np.ndarray) -> np.ndarray:
    """KDIGO-like AKI from (N, T) creatinine (mg/dL, NaN unobserved): max >= 1.5 x min or a rise
    >= 0.3 over the first value; fewer than two values: 0 (no evidence)."""
    seen = (~np.isnan(creat)).sum(axis=1) >= 2
    with np.errstate(invalid="ignore", all="ignore"):
        first = np.array([row[~np.isnan(row)][0] if s else np.nan for row, s in zip(creat, seen)])
        cmax, cmin = np.nanmax(np.where(seen[:, None], creat, 0.0), axis=1), np.nanmin(np.where(seen[:, None], creat, 0.0), axis=1)
        rise = (cmax >= 1.5 * cmin) | (cmax - first >= 0.3)
    return np.where(seen, rise.astype(float), 0.0)
