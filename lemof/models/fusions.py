"""Fusion methods by name: LeMoF, its ablations, the baselines it must beat, a tabular peer.

Torch-free, so a config can be checked anywhere. Every method uses the same encoders, splits,
training budget and early-stopping rule (``../shared/docs/METHOD.md``, "Baselines to beat").

- ``lemof``: three stages: level heads + global heads, level SHAP, best levels → cross-modal
  attention → non-negative meta-learner.
- Ablations (the LeMoF pipeline with one part changed): ``all_levels`` (every level goes to
  stage 3, weighted by importance), ``last_level`` (the last level of each encoder), ``random_level``
  (one level per modality drawn at random, seeded), ``no_meta`` (the fused head alone is the
  prediction), ``no_global`` (no modality-level heads: stage 1 trains level heads only and the
  meta-learner never sees global heads).
- Baselines, trained end to end: ``early`` (concatenated last-level embeddings, MLP head),
  ``late`` (the two unimodal models of stage 1, combined by learned non-negative weights),
  ``xattn_last`` (bidirectional cross-modal attention over the last levels, MulT-style),
  ``mmtm`` (squeeze-excitation exchange between aligned encoder blocks), ``medfuse`` (an LSTM over
  the sequence of modality embeddings; a missing biosignal shortens the sequence).
- ``gbm``: gradient boosting (LightGBM) on per-stay summary statistics (``lemof.data.summaries``:
  counts, mean, variability, extremes, first and last values, trends and time since the last
  observation of every EHR variable and biosignal channel, plus the static facts), its
  hyperparameters chosen on validation; its trees are kept as LightGBM's text model, so it
  predicts and explains (TreeSHAP) any cohort of its family, and it trains on a cohort without
  any biosignal.

The names are listed here without torch, so a config can be checked anywhere. Each neural
fusion's network is registered by name beside its class (``lemof/models/networks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lemof.errors import ConfigError


@dataclass(frozen=True)
class LemofVariant:
    selection: str = "shap"  # shap | all | last | random: which levels go to stage 3
    meta: str = "nnls"  # nnls | fused_only
    global_heads: bool = True


LEMOF_VARIANTS = {
    "lemof": LemofVariant(),
    "all_levels": LemofVariant(selection="all"),
    "last_level": LemofVariant(selection="last"),
    "random_level": LemofVariant(selection="random"),
    "no_meta": LemofVariant(meta="fused_only"),
    "no_global": LemofVariant(global_heads=False),
}
ABLATIONS = tuple(k for k in LEMOF_VARIANTS if k != "lemof")
BASELINES = ("early", "late", "xattn_last", "mmtm", "medfuse")
TABULAR = ("gbm",)
FUSIONS = tuple(LEMOF_VARIANTS) + BASELINES + TABULAR


def check_fusion(name: str) -> str:
    if name not in FUSIONS:
        raise ConfigError(f"unknown fusion {name!r}; available: {', '.join(FUSIONS)}")
    return name


def fusion_kind(name: str) -> str:
    """``lemof`` (LeMoF and its ablations: explainable by level SHAP), ``baseline`` (neural) or ``tabular``."""
    check_fusion(name)
    if name in LEMOF_VARIANTS:
        return "lemof"
    return "baseline" if name in BASELINES else "tabular"
