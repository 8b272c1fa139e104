"""What a LeMoF network is, without torch: its spec, its levels and its prediction heads.

``ModelSpec`` is everything needed to rebuild the network from ``config.json`` (the weights come
from ``model.safetensors``). The heads the meta-learner combines, and the *kind* of each, are
defined here once; every page, figure and metric reads the kind from ``Head.kind``:

- ``modality-level``: the global head g_m of one modality (stage 1);
- ``cross-modal``: the fused head on the cross-modal attention over the best levels (stage 3);
- ``level-specific``: the head h_m^l of one selected level (stage 1, deep supervision).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field
from typing import Any

from lemof.errors import ConfigError
from lemof.models.fusions import fusion_kind

MODALITIES = ("ehr", "sig")
HEAD_KINDS = ("modality-level", "cross-modal", "level-specific")


@dataclass
class ModelSpec:
    ehr_encoder: str
    sig_encoder: str
    ehr_in_channels: int
    ehr_seq_len: int
    sig_in_channels: int
    sig_seq_len: int
    ehr_duration_h: float
    sig_duration_s: float
    ehr_params: dict[str, Any] = field(default_factory=dict)
    sig_params: dict[str, Any] = field(default_factory=dict)
    d_model: int = 32
    dropout: float = 0.1
    attention_heads: int = 4
    stacker_hidden: int = 16
    fusion: str = "lemof"  # lemof, an ablation, or a neural baseline (lemof/models/fusions.py)
    global_heads: bool = True  # False: the no_global ablation
    # Filled in by stage 2 (0-based level indices and their aggregation weights).
    selected_levels: dict[str, list[int]] = field(default_factory=lambda: {"ehr": [], "sig": []})
    level_weights: dict[str, list[float]] = field(default_factory=lambda: {"ehr": [], "sig": []})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelSpec":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        missing = sorted(
            k
            for k, f in cls.__dataclass_fields__.items()
            if k not in data and f.default is MISSING and f.default_factory is MISSING
        )
        if unknown:
            raise ConfigError(f"model spec has unknown field(s) {unknown}")
        if missing:
            raise ConfigError(f"model spec lacks field(s) {missing}")
        return cls(**data)

    @property
    def heads(self) -> list["Head"]:
        """The meta-learner's inputs (none for a baseline that has no heads to combine)."""
        if fusion_kind(self.fusion) != "lemof":
            return [Head(f"{m}.global", "modality-level", m) for m in MODALITIES] if self.fusion == "late" else []
        return lemof_heads(self.selected_levels, global_heads=self.global_heads)


def level_names(modality: str, n_levels: int) -> list[str]:
    """``level_names("ehr", 3)`` -> ``["ehr.L1", "ehr.L2", "ehr.L3"]``."""
    return [f"{modality}.L{i + 1}" for i in range(n_levels)]


@dataclass(frozen=True)
class Head:
    """One input of the meta-learner."""

    name: str  # "ehr.global", "fusion", "sig.L3"
    kind: str  # one of HEAD_KINDS
    modality: str | None  # the modality whose data it needs; None for the cross-modal head (uses both)
    level: int | None = None  # 0-based level of a level-specific head

    @property
    def needs_signal(self) -> bool:
        """Absent for a stay without a biosignal (the fused head copes with a missing one)."""
        return self.modality == "sig"


def lemof_heads(selected_levels: dict[str, list[int]], *, global_heads: bool = True) -> list[Head]:
    """The heads in the meta-learner's order: the modality-level heads (unless ablated), the
    cross-modal head, then the selected levels' heads of each modality."""
    heads = [Head(f"{m}.global", "modality-level", m) for m in MODALITIES] if global_heads else []
    heads.append(Head("fusion", "cross-modal", None))
    for m in MODALITIES:
        heads += [Head(f"{m}.L{l + 1}", "level-specific", m, int(l)) for l in selected_levels[m]]
    return heads


def head_kinds(heads: list[Head]) -> dict[str, str]:
    """``{head name: kind}``."""
    return {h.name: h.kind for h in heads}
