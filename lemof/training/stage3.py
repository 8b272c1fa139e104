"""Stage 3: cross-modal attention over the best levels' tokens, then the meta-learner.

By default the stage-1 encoders are frozen, so the aggregated best-level tokens of every stay
are computed once and the attention module trains on them directly (``train_fusion``). With
``finetune_encoders`` the modality models train with it on the raw inputs (``finetune_fusion``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lemof.models.model import LeMoF, head_columns
from lemof.progress import Progress
from lemof.models.inference import in_batches
from lemof.runs.train_config import TrainConfig
from lemof.training.loop import FitReport, fit, optimiser_options, signal_dropout
from lemof.training.stage1 import modality_loss


def best_level_tokens(model: LeMoF, ehr_x: torch.Tensor, sig_x: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Aggregated best-level tokens of every row: (N, Te, d) and (N, Ts, d)."""
    return in_batches(model, len(ehr_x), lambda sl: model.aggregated_tokens(model.ehr(ehr_x[sl]).tokens, model.sig(sig_x[sl]).tokens), batch_size)


def train_fusion(
    model: LeMoF,
    ehr_tok: torch.Tensor,
    sig_tok: torch.Tensor,
    sig_available: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    cfg: TrainConfig,
    *,
    seed: int,
    progress: Progress | None = None,
) -> FitReport:
    """Train the cross-modal attention and fused head; some training stays hide their signal."""
    fusion = model.fusion
    assert fusion is not None
    drop_signal = signal_dropout(cfg.signal_dropout, seed)

    def batch_loss(net: nn.Module, idx: torch.Tensor, training: bool) -> torch.Tensor:
        avail = drop_signal(sig_available[idx]) if training else sig_available[idx]
        pred, _, _ = net(ehr_tok[idx], sig_tok[idx], avail)
        return nn.functional.huber_loss(pred, y[idx], delta=cfg.huber_delta)

    return fit(
        fusion,
        batch_loss,
        train_idx,
        val_idx,
        **optimiser_options(cfg, cfg.epochs_stage3),
        seed=seed,
        stage="stage 3: cross-modal attention",
        progress=progress,
    )


class FineTuningNet(nn.Module):
    """What stage 3 trains when it fine-tunes the encoders: LeMoF's two modality models (encoders,
    level projections, level and global heads) and its cross-modal fusion, the same modules, on
    raw inputs. Returns plain tensors (what ``DistributedDataParallel`` can follow)."""

    def __init__(self, model: LeMoF):
        super().__init__()
        assert model.fusion is not None
        self.ehr, self.sig, self.fusion = model.ehr, model.sig, model.fusion
        self.aggregate = model.aggregated_tokens  # the selected levels and weights of stage 2

    def forward(self, ehr_x: torch.Tensor, sig_x: torch.Tensor, sig_available: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """-> fused (B,), EHR level predictions (B, Le), EHR global (B,), biosignal level (B, Ls), biosignal global (B,)."""
        e, s = self.ehr(ehr_x), self.sig(sig_x)
        fused, _, _ = self.fusion(*self.aggregate(e.tokens, s.tokens), sig_available)
        return fused, e.level_preds, e.global_pred, s.level_preds, s.global_pred


def finetune_fusion(
    model: LeMoF,
    ehr_x: torch.Tensor,
    sig_x: torch.Tensor,
    sig_available: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    cfg: TrainConfig,
    *,
    seed: int,
    progress: Progress | None = None,
) -> FitReport:
    """Train the fusion together with both modality models, on raw inputs (B, T, C) and (B, C, L).

    Training loss = Huber(fused) + stage 1's loss of each modality model (the biosignal's on stays
    that have one), so the global and level heads the meta-learner and the level stacker read keep
    matching the encoders they read. The fusion learns at ``lr``, the modality models at
    ``lr * finetune_lr_scale``; signal dropout hides the biosignal from the fusion only. Early
    stopping, as without fine-tuning, on the fused head's Huber loss over validation stays (the
    modality terms are already at their validation minimum after stage 1's early stopping, so
    counting them would stop stage 3 before the fusion has learnt)."""
    net = FineTuningNet(model)
    drop_signal = signal_dropout(cfg.signal_dropout, seed)

    def batch_loss(module: nn.Module, idx: torch.Tensor, training: bool) -> torch.Tensor:
        avail, target = sig_available[idx], y[idx]
        fused, ehr_levels, ehr_global, sig_levels, sig_global = module(ehr_x[idx], sig_x[idx], drop_signal(avail) if training else avail)
        loss = nn.functional.huber_loss(fused, target, delta=cfg.huber_delta)
        if not training:
            return loss
        loss = loss + modality_loss(ehr_levels, ehr_global, target, cfg)
        return loss + modality_loss(sig_levels, sig_global, target, cfg, weight=avail.to(target.dtype))

    encoders = [p for m in (model.ehr, model.sig) for p in m.parameters()]
    groups = [{"params": list(net.fusion.parameters())}, {"params": encoders, "lr": cfg.lr * cfg.finetune_lr_scale}]
    return fit(
        net,
        batch_loss,
        train_idx,
        val_idx,
        **optimiser_options(cfg, cfg.epochs_stage3),
        seed=seed,
        stage="stage 3: cross-modal attention, encoders fine-tuned",
        progress=progress,
        params=groups,
    )


def fused_predictions(model: LeMoF, ehr_tok: torch.Tensor, sig_tok: torch.Tensor, sig_available: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Fused head's prediction for every row, (N,)."""
    assert model.fusion is not None
    return in_batches(model.fusion, len(ehr_tok), lambda sl: model.fusion(ehr_tok[sl], sig_tok[sl], sig_available[sl])[0].cpu().numpy(), batch_size)


def head_matrix(
    model: LeMoF, ehr_global: np.ndarray, sig_global: np.ndarray, fused: np.ndarray, ehr_levels: np.ndarray, sig_levels: np.ndarray, tabular: np.ndarray | None = None
) -> np.ndarray:
    """(N, H) head predictions in ``model.head_names`` order (``tabular`` (N,): the tabular head's,
    in the network's precision as its forward takes it)."""
    tab = None if tabular is None else np.asarray(tabular).astype(np.asarray(fused).dtype)
    return np.stack(head_columns(model.heads, ehr_global, sig_global, fused, ehr_levels, sig_levels, tab), axis=1)


def fit_meta_learner(
    model: LeMoF,
    heads_actual: np.ndarray,
    heads_without_signal: np.ndarray,
    y: np.ndarray,
    sig_available: np.ndarray,
    val_idx: np.ndarray,
    cfg: TrainConfig,
) -> list[dict]:
    """Fit the ``ehr+sig`` pattern on validation stays with a signal, and the ``ehr`` pattern on
    all validation stays with their signal hidden (so it has enough stays to fit on)."""
    assert model.meta is not None
    fixed = {"fusion": 1.0} if cfg.fusion == "no_meta" else None
    return model.meta.fit_patterns(heads_actual, heads_without_signal, y, sig_available, val_idx, alpha=cfg.interval_alpha, folds=cfg.conformal_folds, seed=cfg.seed, fixed=fixed)
