"""A minimal, deterministic training loop with early stopping on the validation loss."""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from lemof.progress import Progress
from lemof.errors import ConfigError
from lemof.training.distributed import world


def signal_dropout(rate: float, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Training-time biosignal dropout: a function that hides each stay's biosignal with
    probability ``rate`` (``avail`` (B,) bool -> (B,) bool), drawn from its own CPU generator
    seeded with ``seed + 1`` so it does not shift the batch order's random stream."""
    generator = torch.Generator().manual_seed(seed + 1)

    def drop(avail: torch.Tensor) -> torch.Tensor:
        if rate <= 0:
            return avail
        keep = torch.rand(len(avail), generator=generator) >= rate
        return avail & keep.to(avail.device)

    return drop


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA device (use auto or cpu)")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda; got {device!r}")
    return torch.device(device)


def device_name(device: torch.device) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H200)``: what a run records about where it trained."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


@dataclass
class FitReport:
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)


def fit(
    module: nn.Module,
    batch_loss: Callable[[nn.Module, torch.Tensor, bool], torch.Tensor],
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
    params: list | None = None,
) -> FitReport:
    """Train ``module`` with AdamW on ``batch_loss(net, indices, training)``; keep the best epoch.

    ``net`` is the module to call (its ``DistributedDataParallel`` wrapper under torchrun);
    ``indices`` are on the training device. On CUDA the forward passes run under bf16 autocast
    (where supported) and nothing in the inner loop waits for the GPU: losses are summed on the
    device and read once per epoch. The module ends in eval mode with the weights of the epoch
    with the lowest validation loss. ``params``: what the optimiser trains, parameters or
    parameter groups (a group's own ``lr`` scales with the schedule too); default all of ``module``'s.
    """
    w = world()
    device = next(module.parameters()).device
    net = module
    if w.active:
        net = nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params if params is not None else module.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    train_t = torch.as_tensor(train_idx, dtype=torch.long)
    val_t = torch.as_tensor(w.shard(val_idx), dtype=torch.long).to(device)
    best_state, best_loss, best_epoch, since_best = None, float("inf"), -1, 0
    history = []
    for epoch in range(epochs):
        started = time.perf_counter()
        module.train()
        order = train_t[torch.randperm(len(train_t), generator=gen)].to(device, non_blocking=True)  # same shuffle on every rank
        total = torch.zeros((), dtype=torch.float64, device=device)
        count = 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            if len(batch) < 2:  # batch norm needs two samples
                continue
            idx = w.batch_share(batch)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
                loss = batch_loss(net, idx, True)
            loss.float().backward()
            nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            opt.step()
            total += loss.detach().double() * len(idx)
            count += len(idx)
        sched.step()
        train_sum = w.sum(torch.stack([total, torch.tensor(float(count), dtype=torch.float64, device=device)]))
        train_loss = float(train_sum[0] / max(float(train_sum[1]), 1.0))  # one sync per epoch
        val_loss = evaluate_loss(module, batch_loss, val_t, batch_size * 4, amp=amp)
        seconds = time.perf_counter() - started
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "seconds": round(seconds, 3)})
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            since_best += 1
        if progress is not None:
            progress(
                stage, epoch + 1, epochs, f"val loss {val_loss:.4f} (best {best_loss:.4f} @ {best_epoch + 1})",
                epoch=epoch + 1, train_loss=train_loss, val_loss=val_loss, stays_per_s=float(train_sum[1]) / max(seconds, 1e-9),
            )
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
    module: nn.Module, batch_loss: Callable[[nn.Module, torch.Tensor, bool], torch.Tensor], idx: torch.Tensor, batch_size: int, amp: bool = False
) -> float:
    """Mean loss over ``idx`` (this rank's share; summed over ranks, so every rank gets the same value)."""
    module.eval()
    device = idx.device
    total = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
        for start in range(0, len(idx), batch_size):
            b = idx[start : start + batch_size]
            total[0] += batch_loss(module, b, False).detach().double() * len(b)
            total[1] += len(b)
    total = world().sum(total)
    return float(total[0] / total[1].clamp(min=1))
