"""What a LeMoF network is, without torch: its spec, its levels and its prediction heads.

``ModelSpec`` is everything needed to rebuild the network from ``config.json`` (the weights come
from ``model.safetensors``). The heads the meta-learner combines, and the *kind* of each, are
defined here once; every page, figure and metric reads the kind from ``Head.kind``:

- ``modality-level``: the global head g_m of one modality (stage 1);
- ``cross-modal``: the fused head on the cross-modal attention over the best levels (stage 3);
- ``level-specific``: the head h_m^l of one selected level (stage 1, deep supervision).

With ``tabular_head`` (``TrainConfig.tabular_head``) one more modality-level head, ``tabular``:
LightGBM on the stay's summaries (``lemof.data.summaries``), EHR-side (present in both
availability patterns; without a biosignal its biosignal summaries are missing), computed
outside torch and fed to the network's forward with the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
import copy
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from lemof.errors import ConfigError
from lemof.models.fusions import fusion_kind

MODALITIES = ("ehr", "sig")
HEAD_KINDS = ("modality-level", "cross-modal", "level-specific")
TABULAR_HEAD = "tabular"  # the LightGBM head's name
TABULAR_HEAD_LABEL = "tabular (LightGBM)"  # how figures, drivers and reports name it


@dataclass(kw_only=True)
class NetworkOptions:
    """The network's hyperparameters: chosen in the training options (``TrainConfig``) and recorded
    in the spec of the network they build (``ModelSpec``); ``config.json`` keeps both flat."""

    ehr_params: dict[str, Any] = field(default_factory=dict)
    sig_params: dict[str, Any] = field(default_factory=dict)
    d_model: int = 32
    dropout: float = 0.1
    attention_heads: int = 4
    stacker_hidden: int = 16

    _WHAT: ClassVar[str] = "network option"  # how an error names one field

    def network_options(self) -> dict[str, Any]:
        """These hyperparameters as keyword arguments (the parameter dicts copied)."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(NetworkOptions)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """An instance from its ``config.json`` section: ``ConfigError`` naming unknown or missing fields."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown {cls._WHAT}(s) {unknown}; known: {sorted(known)}")
        missing = sorted(k for k, f in known.items() if k not in data and f.default is MISSING and f.default_factory is MISSING)
        if missing:
            raise ConfigError(f"missing {cls._WHAT}(s) {missing}")
        return cls(**data)


@dataclass
class ModelSpec(NetworkOptions):
    """Everything needed to rebuild the network (``config.json``'s ``model``)."""

    ehr_encoder: str
    sig_encoder: str
    ehr_in_channels: int
    ehr_seq_len: int
    sig_in_channels: int
    sig_seq_len: int
    ehr_duration_h: float
    sig_duration_s: float
    fusion: str = "lemof"  # lemof, an ablation, or a neural baseline (lemof/models/fusions.py)
    global_heads: bool = True  # False: the no_global ablation
    # Filled in by stage 2 (0-based level indices and their aggregation weights).
    selected_levels: dict[str, list[int]] = field(default_factory=lambda: {"ehr": [], "sig": []})
    level_weights: dict[str, list[float]] = field(default_factory=lambda: {"ehr": [], "sig": []})
    tabular_head: bool = False  # the LightGBM head on summaries is one of the meta-learner's inputs (the last)

    _WHAT: ClassVar[str] = "model spec field"

    def to_dict(self) -> dict[str, Any]:
        """As ``config.json`` keeps it; ``tabular_head`` only when set, so a run without it is written as before."""
        out = asdict(self)
        if not out["tabular_head"]:
            del out["tabular_head"]
        return out

    @property
    def heads(self) -> list["Head"]:
        """The meta-learner's inputs (none for a baseline that has no heads to combine)."""
        if fusion_kind(self.fusion) != "lemof":
            return modality_heads() if self.fusion == "late" else []
        return lemof_heads(self.selected_levels, global_heads=self.global_heads, tabular=self.tabular_head)


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


def modality_heads() -> list[Head]:
    """The global head g_m of each modality (stage 1): LeMoF's modality-level heads, and all that
    late fusion combines."""
    return [Head(f"{m}.global", "modality-level", m) for m in MODALITIES]


def lemof_heads(selected_levels: dict[str, list[int]], *, global_heads: bool = True, tabular: bool = False) -> list[Head]:
    """The heads in the meta-learner's order: the modality-level heads (unless ablated), the
    cross-modal head, the selected levels' heads of each modality, then the tabular head (if any)."""
    heads = modality_heads() if global_heads else []
    heads.append(Head("fusion", "cross-modal", None))
    for m in MODALITIES:
        heads += [Head(f"{m}.L{l + 1}", "level-specific", m, int(l)) for l in selected_levels[m]]
    if tabular:
        heads.append(Head(TABULAR_HEAD, "modality-level", "ehr"))
    return heads


def head_kinds(heads: list[Head]) -> dict[str, str]:
    """``{head name: kind}``."""
    return {h.name: h.kind for h in heads}


def kind_totals(contributions: Mapping[str, Any], head_kinds: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Per head kind, in the heads' order: the sum of its heads' contributions (``w_i · y_i``,
    log1p-days), absent heads left out. A contribution is one stay's (a float, None where the
    head is absent) or many stays' (an array, NaN where absent); a kind's total is NaN where every
    one of its heads is absent, and a kind none of whose heads is in ``contributions`` is left out."""
    groups: dict[str, list[np.ndarray]] = {}
    for name, kind in head_kinds.items():
        if name in contributions:
            value = contributions[name]
            groups.setdefault(kind, []).append(np.asarray(np.nan if value is None else value, dtype=float))
    out = {}
    for kind, values in groups.items():
        stacked = np.stack(values)
        out[kind] = np.where(np.isnan(stacked).all(axis=0), np.nan, np.nansum(stacked, axis=0))
    return out
