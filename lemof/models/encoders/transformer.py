"""Transformer encoders; one level per pre-norm encoder layer, all levels the same length.

EHR: one token per hourly step, a linear projection of its carried-forward values, observation
masks and static channels (so a token knows what was measured, not only the carried value),
plus a time embedding. Biosignal: non-overlapping patches (Conv1d, kernel = stride = patch) are
the tokens; by default the patch is chosen for at most ~50 tokens (ECG 1000 -> 50, 96 -> 48).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lemof.errors import ConfigError
from lemof.models.encoders.base import LevelEncoder, sinusoidal
from lemof.models.registry import register_encoder

TIME_EMBEDDINGS = ("sinusoidal", "learned")
TARGET_TOKENS = 50  # biosignal: default patch = ceil(L / 50)


@dataclass
class TransformerConfig:
    d: int = 64
    layers: int = 3
    heads: int = 4
    ff_mult: int = 2  # feed-forward width = ff_mult * d
    dropout: float = 0.1
    time_embedding: str = "sinusoidal"  # or "learned"


class _TransformerEncoder(LevelEncoder):
    """Shared part: time embedding over ``n_tokens`` tokens and the layer stack."""

    def _build(self, cfg: TransformerConfig, n_tokens: int) -> None:
        who = f"{self.modality} encoder 'transformer'"
        if cfg.layers < 1 or cfg.d < 1 or cfg.heads < 1 or cfg.d % cfg.heads:
            raise ConfigError(f"{who}: needs layers >= 1 and d a multiple of heads, got layers={cfg.layers}, d={cfg.d}, heads={cfg.heads}")
        if cfg.time_embedding not in TIME_EMBEDDINGS:
            raise ConfigError(f"{who}: unknown time_embedding {cfg.time_embedding!r}; available: {', '.join(TIME_EMBEDDINGS)}")
        if cfg.time_embedding == "learned":
            self.time = nn.Parameter(0.02 * torch.randn(1, n_tokens, cfg.d))
        else:
            self.register_buffer("time", sinusoidal(n_tokens, cfg.d)[None], persistent=False)  # (1, T, d)
        self.drop = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                cfg.d, cfg.heads, cfg.ff_mult * cfg.d, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(cfg.layers)
        )
        self.level_dims = [cfg.d] * cfg.layers
        self.level_lengths = [n_tokens] * cfg.layers

    def _add_time(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.drop(tokens + self.time[:, : tokens.shape[1]])  # (B, T, d)

    def block(self, level: int, h: torch.Tensor) -> torch.Tensor:
        return self.layers[level](h)  # (B, T, d) -> (B, T, d)


@register_encoder("ehr", "transformer")
class TransformerEHREncoder(_TransformerEncoder):
    """Hourly EHR grid (B, T, 2F+S) -> one (B, T, d) token sequence per layer."""

    @dataclass
    class Config(TransformerConfig):
        pass

    def __init__(self, in_channels: int, seq_len: int, cfg: "TransformerEHREncoder.Config"):
        super().__init__()
        self.cfg = cfg
        if seq_len < 1:
            raise ConfigError(f"ehr encoder 'transformer': input length {seq_len} is too short, needs at least 1 time step")
        self.input_proj = nn.Linear(in_channels, cfg.d)
        self.input_norm = nn.LayerNorm(cfg.d)
        self._build(cfg, seq_len)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self._add_time(self.input_norm(self.input_proj(x)))  # (B, T, C) -> (B, T, d)


@register_encoder("sig", "transformer")
class TransformerSignalEncoder(_TransformerEncoder):
    """Biosignal (B, C, L) -> patches -> one (B, L // patch, d) token sequence per layer.

    Samples after the last whole patch are dropped (none with the default patch for L = 1000 or 96).
    """

    @dataclass
    class Config(TransformerConfig):
        patch: int | None = None  # None: ceil(L / 50), i.e. at most ~50 tokens

    def __init__(self, in_channels: int, seq_len: int, cfg: "TransformerSignalEncoder.Config"):
        super().__init__()
        self.cfg = cfg
        patch = cfg.patch if cfg.patch is not None else max(1, -(-seq_len // TARGET_TOKENS))
        if patch < 1 or seq_len < patch:
            raise ConfigError(
                f"sig encoder 'transformer': input length {seq_len} is too short, needs at least one patch of {max(patch, 1)} samples"
            )
        self.patch = patch
        self.patch_embed = nn.Conv1d(in_channels, cfg.d, patch, stride=patch)
        self.input_norm = nn.LayerNorm(cfg.d)
        self._build(cfg, seq_len // patch)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x).transpose(1, 2)  # (B, C, L) -> (B, L // patch, d)
        return self._add_time(self.input_norm(tokens))
