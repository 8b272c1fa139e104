"""The explanations that are not additive, each one typed result.

- ``Attention``: LeMoF's cross-modal attention maps in both directions (numpy arrays; ``to_dict``
  gives lists) and ``SignalAttention``, the mean attention each biosignal token receives (what the
  strip under the biosignal shows);
- ``SimilarStays``: the nearest training stays in LeMoF's fused representation (``Neighbour``
  records, not a display table), what they share, and the stay's most abnormal EHR values
  against them (``KeyValue``);
- ``LevelConcepts``: what each encoder level encodes across the cohort (the concept probes' labels).

``views_for(run)`` says which apply to a run (all three explain LeMoF's internals).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lemof.runs.run import Run

ATTENTION_DIRECTIONS = ("ehr_to_sig", "sig_to_ehr")


@dataclass(frozen=True)
class Attention:
    """Cross-modal attention of one stay: ``ehr_to_sig`` is (heads, EHR tokens, biosignal tokens),
    ``sig_to_ehr`` the reverse; token centres in hours (EHR) and seconds (biosignal)."""

    ehr_hours: list[float]
    sig_seconds: list[float]
    ehr_to_sig: np.ndarray
    sig_to_ehr: np.ndarray

    @property
    def n_heads(self) -> int:
        return int(self.ehr_to_sig.shape[0])

    def maps(self, direction: str) -> np.ndarray:
        if direction not in ATTENTION_DIRECTIONS:
            raise ValueError(f"direction must be one of {ATTENTION_DIRECTIONS}; got {direction!r}")
        return self.ehr_to_sig if direction == "ehr_to_sig" else self.sig_to_ehr

    def mean(self, direction: str) -> np.ndarray:
        return self.maps(direction).mean(axis=0)

    def to_dict(self, *, per_head: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"ehr_hours": self.ehr_hours, "sig_seconds": self.sig_seconds}
        for d in ATTENTION_DIRECTIONS:
            m = self.maps(d)
            out[d] = {"shape": list(m.shape), "mean": m.mean(axis=0).tolist(), **({"per_head": m.tolist()} if per_head else {})}
        return out


@dataclass(frozen=True)
class SignalAttention:
    """The mean attention each biosignal token receives from the EHR tokens."""

    seconds: list[float]
    weights: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Neighbour:
    stay_id: int
    similarity: float  # cosine of the fused representations
    percentile: float  # closer than this percent of random pairs of training stays
    observed_los_days: float
    care_unit: str | None
    age: float | None
    sex: str | None
    has_signal: bool


@dataclass(frozen=True)
class KeyValue:
    """One of the stay's most abnormal EHR series (window mean) against its neighbours'."""

    feature: str  # display title
    this_stay: float
    neighbours_median: float | None
    training_median: float


@dataclass(frozen=True)
class SimilarStays:
    stay_id: int
    neighbours: list[Neighbour]
    shared: str  # one line: what they share (care unit, age, biosignal)
    key_values: list[KeyValue]

    def __len__(self) -> int:
        return len(self.neighbours)

    @property
    def stay_ids(self) -> list[int]:
        return [n.stay_id for n in self.neighbours]

    def los_quartiles(self) -> tuple[float, float, float]:
        q1, med, q3 = np.quantile([n.observed_los_days for n in self.neighbours], [0.25, 0.5, 0.75])
        return float(q1), float(med), float(q3)

    def sentence(self, predicted_days: float, observed_days: float | None) -> str:
        """One sentence: how long the neighbours stayed, next to this stay's prediction (and its
        outcome, when given)."""
        q1, med, q3 = self.los_quartiles()
        outcome = f" and stayed {observed_days:.1f}" if observed_days is not None else ""
        return (
            f"The {len(self)} most similar training stays stayed a median {med:.1f} days (IQR {q1:.1f}–{q3:.1f}); this stay is predicted "
            f"{predicted_days:.1f} days{outcome}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {"stay_id": self.stay_id, "neighbours": [asdict(n) for n in self.neighbours], "shared": self.shared,
                "key_values": [asdict(k) for k in self.key_values]}


@dataclass(frozen=True)
class LevelConcepts:
    """What each encoder level encodes across the cohort: the concepts its probes detect above
    the thresholds (``""`` where none does). A property of the level, not of a stay."""

    labels: dict[str, str]

    def label(self, level: str) -> str:
        return self.labels.get(level, "")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.labels)


class View:
    name = ""
    title = ""

    def applies(self, run: "Run") -> bool:
        return run.is_lemof  # every view here explains LeMoF's internals


class SimilarView(View):
    name, title = "similar", "Similar stays"


class AttentionView(View):
    name, title = "attention", "Cross-modal attention"


class ConceptsView(View):
    name, title = "concepts", "What the levels encode"


VIEWS: tuple[View, ...] = (SimilarView(), AttentionView(), ConceptsView())


def views_for(run: "Run") -> list[View]:
    """The views that apply to ``run``, in page order."""
    return [v for v in VIEWS if v.applies(run)]
