"""Training the neural baselines with LeMoF's budget and early-stopping rule.

``early``, ``xattn_last``, ``mmtm`` and ``medfuse`` train end to end for at most
``epochs_stage1 + epochs_stage3`` epochs (what LeMoF's encoders and fusion get together), with
the same optimiser, batch size, patience and biosignal dropout as LeMoF's stage 3. ``late``
trains the two unimodal models exactly as LeMoF's stage 1 and combines their global heads with
the same non-negative meta-learner. Every baseline's interval is split-conformal on validation
stays, per availability pattern (``ehr``: all validation stays with their biosignal hidden).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lemof.models.baselines import BaselineNet
from lemof.models.conformal import conformal_quantile
from lemof.models.inference import in_batches
from lemof.models.meta import PATTERNS
from lemof.progress import Progress
from lemof.runs.train_config import TrainConfig
from lemof.training.inputs import TrainingInputs
from lemof.training.loop import FitReport, fit, optimiser_options, signal_dropout
from lemof.training.stage1 import train_modalities


def _predict(net: BaselineNet, inputs: TrainingInputs, rows: np.ndarray, available: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    def step(sl: slice) -> np.ndarray:
        idx = torch.as_tensor(rows[sl], device=inputs.device)
        return net(inputs.ehr[idx], inputs.sig[idx], available[idx])["final"].cpu().numpy()

    return in_batches(net, len(rows), step, batch_size)


def train_end_to_end(net: BaselineNet, inputs: TrainingInputs, cfg: TrainConfig, progress: Progress | None) -> FitReport:
    drop_signal = signal_dropout(cfg.signal_dropout, cfg.seed)

    def batch_loss(module: nn.Module, idx: torch.Tensor, training: bool) -> torch.Tensor:
        avail = drop_signal(inputs.available[idx]) if training else inputs.available[idx]
        pred = module(inputs.ehr[idx], inputs.sig[idx], avail)["final"]
        return nn.functional.huber_loss(pred.float(), inputs.y[idx], delta=cfg.huber_delta)

    return fit(
        net, batch_loss, inputs.train, inputs.val, **optimiser_options(cfg, cfg.epochs_end_to_end), seed=cfg.seed, stage=f"{cfg.fusion}: end to end", progress=progress
    )


def calibrate(net: BaselineNet, inputs: TrainingInputs, cfg: TrainConfig) -> list[dict]:
    """Split-conformal half-width per availability pattern from validation residuals (log1p)."""
    va, avail = inputs.val, inputs.available_np
    with_sig = va[avail[va]]
    reports = []
    for pattern, rows, available in (("ehr+sig", with_sig, inputs.available), ("ehr", va, torch.zeros_like(inputs.available))):
        residuals = np.abs(inputs.y_np[rows] - _predict(net, inputs, rows, available))
        q = conformal_quantile(residuals, cfg.interval_alpha)
        with torch.no_grad():
            net.interval_halfwidth[PATTERNS.index(pattern)] = q
        reports.append({"pattern": pattern, "n": int(len(rows)), "interval_halfwidth": q})
    return reports


def train_late(net: BaselineNet, inputs: TrainingInputs, cfg: TrainConfig, progress: Progress | None) -> tuple[dict[str, FitReport], list[dict]]:
    """LeMoF's stage 1 for each modality, then the non-negative meta-learner over the two global heads."""
    s1 = train_modalities(net.ehr, net.sig, inputs, cfg, progress, stages=("late: EHR model", "late: biosignal model"))
    heads = np.stack([s1.ehr_global, s1.sig_global], axis=1)  # (N, 2); the ehr pattern ignores sig.global
    reports = net.meta.fit_patterns(heads, heads, inputs.y_np, inputs.available_np, inputs.val, alpha=cfg.interval_alpha, folds=cfg.conformal_folds, seed=cfg.seed)
    return {"stage1_ehr": s1.ehr, "stage1_sig": s1.sig}, reports


def train_baseline(net: BaselineNet, inputs: TrainingInputs, cfg: TrainConfig, progress: Progress | None, say) -> tuple[dict, list[dict]]:
    """Train ``net`` (a ``BaselineNet``) and calibrate its intervals; returns (fit reports, calibration)."""
    if cfg.fusion == "late":
        fits, reports = train_late(net, inputs, cfg, progress)
    else:
        rep = train_end_to_end(net, inputs, cfg, progress)
        say(f"{cfg.fusion}: best epoch {rep.best_epoch}/{rep.epochs_run}, val loss {rep.best_val_loss:.4f}")
        fits, reports = {"end_to_end": rep}, calibrate(net, inputs, cfg)
    for r in reports:
        say(f"interval [{r['pattern']}] n={r['n']}: ±{r['interval_halfwidth']:.3f} (log1p)" + (f", weights {r['weights']}" if "weights" in r else ""))
    return fits, reports
