"""The training options: one JSON-serialisable dataclass, chosen before training (CLI ``--config``,
the Retrain page, ``assets/recipes``) and recorded in the run's ``config.json`` (``train``).

It sits with the run directory, below ``lemof.training``, because loading a run reads it; the
network hyperparameters it shares with ``ModelSpec`` are ``NetworkOptions`` (``models/spec.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lemof.errors import ConfigError
from lemof.models.fusions import LEMOF_VARIANTS, check_fusion
from lemof.models.gbm import check_tabular_params
from lemof.models.registry import parse_encoder_pair
from lemof.models.spec import NetworkOptions

TASKS = ("regression",)


@dataclass
class TrainConfig(NetworkOptions):
    """How to train: the method, encoders, network hyperparameters (inherited), optimiser and budget."""

    fusion: str = "lemof"  # see lemof/models/fusions.py
    encoders: str = "gru+resnet1d"
    task: str = "regression"  # log1p(LOS days) with a Huber loss
    seed: int = 0
    sig_channels: list[str] | None = None  # None: I, II, V2 for an ECG, else all
    sig_rate_hz: float | None = None  # None: 100 Hz for an ECG, else the stored rate
    time_since_last: bool = False  # add each sparse feature's time since its last observation as an input
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    epochs_stage1: int = 20
    epochs_stage3: int = 20
    patience: int = 5
    level_loss_weight: float = 0.3
    huber_delta: float = 1.0
    top_k_levels: int = 1
    signal_dropout: float = 0.15  # stage 3: share of training stays shown without their biosignal
    finetune_encoders: bool = False  # stage 3 also trains the stage-1 modality models (encoders and heads), on raw inputs
    finetune_lr_scale: float = 0.1  # their learning rate in stage 3, as a share of lr (with finetune_encoders)
    interval_alpha: float = 0.1  # 90 % prediction intervals
    conformal_folds: int = 5
    tabular_head: bool = False  # LeMoF: add a LightGBM head on per-stay summaries, fitted on training stays only (lemof/training/gbm.py)
    tabular_head_params: dict | None = None  # its LightGBM hyperparameters (over START); None: chosen by training-split CV

    _WHAT: ClassVar[str] = "training option"

    def __post_init__(self) -> None:
        check_fusion(self.fusion)
        parse_encoder_pair(self.encoders)
        for name in ("epochs_stage1", "epochs_stage3", "batch_size", "patience"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.task not in TASKS:
            raise ConfigError(f"task {self.task!r} is not supported yet; available: {', '.join(TASKS)}")
        if self.top_k_levels < 1:
            raise ConfigError(f"top_k_levels must be at least 1, got {self.top_k_levels}")
        if not 0 < self.interval_alpha < 1:
            raise ConfigError(f"interval_alpha must be in (0, 1), got {self.interval_alpha}")
        if not 0 < self.finetune_lr_scale <= 1:
            raise ConfigError(f"finetune_lr_scale must be in (0, 1], got {self.finetune_lr_scale}")
        if self.finetune_encoders and self.fusion not in LEMOF_VARIANTS:
            raise ConfigError(
                f"finetune_encoders applies to LeMoF's stage 3 (lemof and its ablations); {self.fusion!r} has no stage 3 "
                "(the neural baselines already train their encoders end to end)"
            )
        if self.tabular_head and self.fusion not in LEMOF_VARIANTS:
            raise ConfigError(f"tabular_head applies to LeMoF and its ablations (a meta-learner weighs it); {self.fusion!r} has none")
        if self.tabular_head_params is not None:
            check_tabular_params(self.tabular_head_params)
        if self.d_model % self.attention_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by attention_heads ({self.attention_heads})")

    @property
    def epochs_end_to_end(self) -> int:
        """A baseline trained end to end gets the budget LeMoF's encoders and fusion get together."""
        return self.epochs_stage1 + self.epochs_stage3

    @property
    def encoder_names(self) -> tuple[str, str]:
        return parse_encoder_pair(self.encoders)
