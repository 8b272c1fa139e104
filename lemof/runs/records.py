"""The records a run keeps about itself in ``config.json`` and ``level_importance.json``: the cohort
it was trained on, stage 2's level importance, and the meta-learner fitted per availability pattern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CohortRef:
    """The cohort a run was trained on."""

    source: str  # cohort family, e.g. "synthetic"
    name: str
    fingerprint: str
    n_stays: int | None = None
    version: Any = None


@dataclass(frozen=True)
class LevelImportance:
    """Stage 2's result: global importance of every level and the levels selected for stage 3."""

    levels: dict[str, list[str]]  # {"ehr": ["ehr.L1", ...], "sig": [...]}
    importance: dict[str, list[float]]  # mean |phi| over validation stays, per level
    selected: dict[str, list[str]]
    weights: dict[str, list[float]]  # aggregation weight of each selected level
    base_value: float  # stacker output with every level at its background
    method: str = ""

    @property
    def all_levels(self) -> list[str]:
        return self.levels["ehr"] + self.levels["sig"]


@dataclass(frozen=True)
class MetaWeights:
    """The meta-learner fitted for one availability pattern (``ehr+sig`` or ``ehr``)."""

    pattern: str
    n: int
    weights: dict[str, float]
    bias: float
    interval_halfwidth: float  # log1p-days
