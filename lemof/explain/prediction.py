"""What every run gives for a stay, LeMoF or baseline: the prediction and its interval.

The explanations (``lemof.explain.attribution``, ``lemof.explain.views``) are returned beside it,
never copying it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StayPrediction:
    stay_id: int
    run_id: str
    fusion: str
    cohort: str
    split: str
    observed_los_days: float
    los_days: float
    interval_days: list[float]  # [low, high]
    interval_level: float  # e.g. 0.9
    has_signal: bool
    origin: str  # "stored" (computed at training, read from the run) or "computed" (now)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
