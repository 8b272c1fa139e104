"""Everything a training run reads, prepared once: splits, fitted preprocessing, model inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lemof.data.bundle import CohortBundle
from lemof.errors import CohortError
from lemof.data.preprocess import Preprocessor
from lemof.runs.train_config import TrainConfig

MIN_STAYS = {"train": 8, "val": 4, "test": 1}


@dataclass
class TrainingInputs:
    bundle: CohortBundle
    rows: dict[str, np.ndarray]  # row indices of train / val / test
    pre: Preprocessor  # fitted on the training split
    ehr: torch.Tensor  # (N, T, 2F + S) on the training device
    sig: torch.Tensor  # (N, C', L')
    available: torch.Tensor  # (N,) bool: the stay has a biosignal
    available_np: np.ndarray
    y: torch.Tensor  # (N,) float32 log1p(LOS days)
    y_np: np.ndarray  # (N,) float64
    device: torch.device

    @property
    def train(self) -> np.ndarray:
        return self.rows["train"]

    @property
    def val(self) -> np.ndarray:
        return self.rows["val"]

    def describe(self) -> str:
        p = self.pre
        return (
            f"inputs: EHR {tuple(self.ehr.shape)}, biosignal {tuple(self.sig.shape)} "
            f"({p.sig_channels} at {p.sig_fs_hz / p.sig_pool:g} Hz)"
        )


def split_rows(bundle: CohortBundle, *, need_signal: bool = True) -> dict[str, np.ndarray]:
    """Row indices per split; ``CohortError`` when a split is too small to train on.

    ``need_signal`` (LeMoF, its ablations and the neural baselines): at least 2 train and 2
    validation stays with a biosignal, since they fuse the EHR with it: stage 1 fits a biosignal
    encoder and the fusion heads on those stays. A cohort without them (e.g. MIMIC-IV without its
    ECG module) is refused in one line that points to the tabular peer, which needs none."""
    rows = {s: bundle.rows(s) for s in ("train", "val", "test")}
    for split, need in MIN_STAYS.items():
        if len(rows[split]) < need:
            raise CohortError(f"cohort {bundle.name!r} has {len(rows[split])} {split} stays; training needs at least {need}")
    if need_signal:
        with_sig = bundle.stays["has_signal"].to_numpy(dtype=bool)
        for split in ("train", "val"):
            n = int(with_sig[rows[split]].sum())
            if n < 2:
                raise CohortError(
                    f"cohort {bundle.name!r} has {n} {split} stays with a biosignal ({bundle.sig_label}); LeMoF and the fusion baselines "
                    f"fuse the EHR with it and need at least 2 in train and in val: train the tabular peer instead (--fusion gbm), which needs none"
                )
    return rows


def prepare_inputs(bundle: CohortBundle, cfg: TrainConfig, device: torch.device) -> TrainingInputs:
    """Fit the preprocessing on the training split and build every stay's model inputs."""
    rows = split_rows(bundle)
    pre = Preprocessor.fit(bundle, rows["train"], cfg.sig_channels, cfg.sig_rate_hz, time_since_last=cfg.time_since_last)
    all_rows = np.arange(len(bundle))
    ehr_np = pre.ehr(bundle, all_rows)
    sig_np, avail_np = pre.signal(bundle, all_rows)
    y_np = np.log1p(bundle.stays["los_days"].to_numpy(dtype=np.float64))
    return TrainingInputs(
        bundle=bundle,
        rows=rows,
        pre=pre,
        ehr=torch.as_tensor(ehr_np, device=device),
        sig=torch.as_tensor(sig_np, device=device),
        available=torch.as_tensor(avail_np, device=device),
        available_np=avail_np,
        y=torch.as_tensor(y_np, dtype=torch.float32, device=device),
        y_np=y_np,
        device=device,
    )
