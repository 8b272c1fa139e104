"""Stage 1: each modality trained on its own, global head plus deep-supervised level heads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from lemof.models.fusions import LEMOF_VARIANTS
from lemof.models.inference import in_batches
from lemof.models.modality import ModalityModel
from lemof.progress import Progress
from lemof.runs.train_config import TrainConfig
from lemof.training.inputs import TrainingInputs
from lemof.training.loop import FitReport, fit, optimiser_options


def modality_loss(level_preds: torch.Tensor, global_pred: torch.Tensor, target: torch.Tensor, cfg: TrainConfig, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Stage 1's loss over a batch: Huber(g_m) + lambda * sum_l Huber(h_m^l), on log1p(LOS days);
    ``level_preds`` (B, L), ``global_pred`` and ``target`` (B,).

    Without global heads (the ``no_global`` ablation) it is sum_l Huber(h_m^l) alone. ``weight``
    (B,), 0 or 1, averages over the stays it marks instead of all (stage 3 adds this loss when it
    fine-tunes the encoders, counting the biosignal model's only on stays that have a signal)."""
    global_heads = LEMOF_VARIANTS[cfg.fusion].global_heads if cfg.fusion in LEMOF_VARIANTS else True
    levels = nn.functional.huber_loss(level_preds, target[:, None].expand_as(level_preds), delta=cfg.huber_delta, reduction="none")
    if weight is not None:
        per_stay = levels.sum(dim=1)
        if global_heads:
            per_stay = nn.functional.huber_loss(global_pred, target, delta=cfg.huber_delta, reduction="none") + cfg.level_loss_weight * per_stay
        return (per_stay * weight).sum() / weight.sum().clamp(min=1.0)
    if not global_heads:
        return levels.mean(dim=0).sum()
    loss = nn.functional.huber_loss(global_pred, target, delta=cfg.huber_delta)
    return loss + cfg.level_loss_weight * levels.mean(dim=0).sum()


def train_modality(
    model: ModalityModel,
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    cfg: TrainConfig,
    *,
    stage: str,
    seed: int,
    progress: Progress | None = None,
) -> FitReport:
    """Loss = ``modality_loss`` on each batch of training stays."""

    def batch_loss(net: nn.Module, idx: torch.Tensor, training: bool) -> torch.Tensor:
        out = net(x[idx])
        return modality_loss(out.level_preds, out.global_pred, y[idx], cfg)

    return fit(
        model,
        batch_loss,
        train_idx,
        val_idx,
        **optimiser_options(cfg, cfg.epochs_stage1),
        seed=seed,
        stage=stage,
        progress=progress,
    )


def modality_outputs(model: ModalityModel, x: torch.Tensor, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Level predictions (N, L) and global prediction (N,) of every row, in eval mode."""
    def step(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        out = model(x[sl])
        return out.level_preds.cpu().numpy(), out.global_pred.cpu().numpy()

    return in_batches(model, len(x), step, batch_size)


@dataclass
class Stage1Result:
    ehr: FitReport
    sig: FitReport
    ehr_levels: np.ndarray  # (N, Le) level predictions, log1p-days
    ehr_global: np.ndarray  # (N,)
    sig_levels: np.ndarray  # (N, Ls)
    sig_global: np.ndarray  # (N,)


def train_modalities(
    ehr: ModalityModel,
    sig: ModalityModel,
    inputs: TrainingInputs,
    cfg: TrainConfig,
    progress: Progress | None,
    *,
    stages: tuple[str, str],
    on_fitted: Callable[[str, FitReport], None] | None = None,
) -> Stage1Result:
    """Stage 1 (LeMoF's, and late fusion's two unimodal models): the EHR model on every training
    stay (seed ``cfg.seed``), the biosignal model on those with a biosignal (seed ``cfg.seed + 1``),
    then every stay's level and global predictions. ``stages`` name the two fits for ``progress``;
    ``on_fitted(modality, report)`` is called after each."""
    tr, va, avail = inputs.train, inputs.val, inputs.available_np
    rep_ehr = train_modality(ehr, inputs.ehr, inputs.y, tr, va, cfg, stage=stages[0], seed=cfg.seed, progress=progress)
    if on_fitted is not None:
        on_fitted("ehr", rep_ehr)
    rep_sig = train_modality(sig, inputs.sig, inputs.y, tr[avail[tr]], va[avail[va]], cfg, stage=stages[1], seed=cfg.seed + 1, progress=progress)
    if on_fitted is not None:
        on_fitted("sig", rep_sig)
    ehr_levels, ehr_global = modality_outputs(ehr, inputs.ehr)
    sig_levels, sig_global = modality_outputs(sig, inputs.sig)
    return Stage1Result(rep_ehr, rep_sig, ehr_levels, ehr_global, sig_levels, sig_global)
