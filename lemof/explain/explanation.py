"""One stay's explanation: prediction and interval, level SHAP, head contributions, attention.

The records that ``lemof.explain.results.StayResults`` fills. Everything comes from the model the run stores; nothing is approximated
for display.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class StayExplanation:
    stay_id: int
    run_id: str
    cohort: str
    split: str
    observed_los_days: float
    los_days: float  # predicted
    interval_days: list[float]  # [low, high]
    interval_level: float  # e.g. 0.9
    has_signal: bool
    scale: str  # the meta-learner's output scale
    level_names: dict[str, list[str]]
    level_shap: dict[str, list[float | None]]  # None: modality absent for this stay
    level_importance: dict[str, list[float]]  # global, mean |phi| over validation stays
    selected_levels: dict[str, list[str]]
    shap_base: float
    stacker_output: float
    source: str  # "stored" (computed at training, read from the run) or "computed" (now)
    head_names: list[str]
    head_kinds: dict[str, str]  # head -> modality-level / cross-modal / level-specific
    head_predictions: dict[str, float | None]  # log1p-days
    contributions: dict[str, float | None]  # w_i * y_i; None: head absent
    meta_bias: float
    meta_output: float
    attention: dict[str, Any] | None = None  # None: no biosignal, or not asked for
    level_labels: dict[str, str] = field(default_factory=dict)  # level -> the concepts it encodes ("" if none clears the threshold)

    def to_dict(self, *, per_head_attention: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if out["attention"] is not None and not per_head_attention:
            for key in ("ehr_to_sig", "sig_to_ehr"):
                out["attention"][key].pop("per_head", None)
        return out

    def kind_totals(self) -> dict[str, float]:
        """Sum of the present heads' contributions per head kind (log1p-days)."""
        totals: dict[str, float] = {}
        for name in self.head_names:
            value = self.contributions[name]
            if value is not None:
                kind = self.head_kinds[name]
                totals[kind] = totals.get(kind, 0.0) + value
        return totals


@dataclass
class StayPrediction:
    """What every run gives for a stay, LeMoF or baseline: the prediction and its interval."""

    stay_id: int
    run_id: str
    fusion: str
    cohort: str
    split: str
    observed_los_days: float
    los_days: float
    interval_days: list[float]
    interval_level: float
    has_signal: bool
    source: str  # "stored" or "computed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


@dataclass
class TabularExplanation:
    """The tabular peer's explanation of one stay: exact TreeSHAP values of its trees over the
    per-stay summary features, on log1p(days): ``base_value + sum(contributions) = output``, and
    ``los_days = expm1(output)`` (clipped at 0)."""

    stay_id: int
    run_id: str
    cohort: str
    split: str
    observed_los_days: float
    los_days: float
    interval_days: list[float]
    interval_level: float
    has_signal: bool
    scale: str  # "log1p(days)"
    base_value: float  # the trees' expected output over the training stays
    output: float  # the prediction on log1p(days)
    features: list[str]  # column names (``lemof.data.summaries``)
    labels: list[str]  # their display titles
    modalities: list[str]  # "ehr" (EHR and static facts) or "sig" per feature
    values: list[float | None]  # the stay's summaries (None: never observed)
    contributions: list[float]  # TreeSHAP value of each feature, log1p-days
    method: str = "TreeSHAP (path-dependent, exact for the trees; LightGBM pred_contrib)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def top(self, k: int = 10) -> tuple[list[int], float]:
        """Indices of the ``k`` features with the largest |contribution| (largest first) and the
        sum of every other feature's contribution."""
        phi = np.asarray(self.contributions, dtype=float)
        order = [int(i) for i in np.argsort(-np.abs(phi), kind="stable")[:k]]
        return order, float(phi.sum() - phi[order].sum())
