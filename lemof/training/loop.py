"""A minimal, deterministic training loop with early stopping on the validation loss."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from lemof.progress import Progress


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    from lemof.errors import ConfigError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA device (use auto or cpu)")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda; got {device!r}")
    return torch.device(device)


@dataclass
class FitReport:
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)


def fit(
    module: nn.Module,
    batch_loss: Callable[[torch.Tensor, bool], torch.Tensor],
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    patience: int,
    seed: int,
    stage: str,
    progress: Progress | None = None,
    params: list[nn.Parameter] | None = None,
) -> FitReport:
    """Train ``module`` with Adam on ``batch_loss(indices, training)``; keep the best epoch.

    The module ends in eval mode with the weights of the epoch with the lowest val loss.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params if params is not None else module.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    train_t = torch.as_tensor(train_idx, dtype=torch.long)
    val_t = torch.as_tensor(val_idx, dtype=torch.long)
    best_state, best_loss, best_epoch, since_best = None, float("inf"), -1, 0
    history = []
    for epoch in range(epochs):
        module.train()
        order = train_t[torch.randperm(len(train_t), generator=gen)]
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            opt.zero_grad(set_to_none=True)
            loss = batch_loss(idx, True)
            loss.backward()
            nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        sched.step()
        val_loss = evaluate_loss(module, batch_loss, val_t, batch_size * 4)
        history.append({"epoch": epoch + 1, "train_loss": total / max(count, 1), "val_loss": val_loss})
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            since_best += 1
        if progress is not None:
            progress(stage, epoch + 1, epochs, f"val loss {val_loss:.4f} (best {best_loss:.4f} @ {best_epoch + 1})")
        if since_best >= patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    if progress is not None:
        progress(stage, epochs, epochs, f"done: best val loss {best_loss:.4f} at epoch {best_epoch + 1}")
    return FitReport(best_epoch + 1, best_loss, len(history), history)


def optimiser_options(cfg, epochs: int) -> dict:
    """The ``fit`` keyword arguments a ``TrainConfig`` sets, for a stage of ``epochs``."""
    return {
        "epochs": epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "patience": cfg.patience,
    }


def evaluate_loss(
    module: nn.Module, batch_loss: Callable[[torch.Tensor, bool], torch.Tensor], idx: torch.Tensor, batch_size: int
) -> float:
    module.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(idx), batch_size):
            b = idx[start : start + batch_size]
            total += float(batch_loss(b, False)) * len(b)
            count += len(b)
    return total / max(count, 1)
