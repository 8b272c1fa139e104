"""Stage 1: each modality trained on its own, global head plus deep-supervised level heads."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lemof.models.fusions import LEMOF_VARIANTS
from lemof.models.inference import in_batches
from lemof.models.modality import ModalityModel
from lemof.progress import Progress
from lemof.training.config import TrainConfig
from lemof.training.loop import FitReport, fit, optimiser_options


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
    """Loss = Huber(g_m) + lambda * sum_l Huber(h_m^l), on log1p(LOS days).

    Without global heads (the ``no_global`` ablation) the loss is sum_l Huber(h_m^l) alone."""
    global_heads = LEMOF_VARIANTS[cfg.fusion].global_heads if cfg.fusion in LEMOF_VARIANTS else True

    def batch_loss(net: nn.Module, idx: torch.Tensor, training: bool) -> torch.Tensor:
        out = net(x[idx])
        target = y[idx]
        levels = nn.functional.huber_loss(out.level_preds, target[:, None].expand_as(out.level_preds), delta=cfg.huber_delta, reduction="none")
        if not global_heads:
            return levels.mean(dim=0).sum()
        loss = nn.functional.huber_loss(out.global_pred, target, delta=cfg.huber_delta)
        return loss + cfg.level_loss_weight * levels.mean(dim=0).sum()

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
