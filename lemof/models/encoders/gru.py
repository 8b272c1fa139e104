"""Stacked GRU over the hourly EHR grid; one level per GRU layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lemof.errors import ConfigError
from lemof.models.encoders.base import LevelEncoder
from lemof.models.registry import register_encoder


@register_encoder("ehr", "gru")
class GRUEncoder(LevelEncoder):
    @dataclass
    class Config:
        hidden: int = 64
        layers: int = 3
        dropout: float = 0.1

    def __init__(self, in_channels: int, seq_len: int, cfg: "GRUEncoder.Config"):
        super().__init__()
        if seq_len < 1 or cfg.layers < 1:
            raise ConfigError(f"ehr encoder 'gru' needs at least 1 time step and 1 layer, got {seq_len} steps and {cfg.layers} layers")
        self.cfg = cfg
        self.input_norm = nn.LayerNorm(in_channels)
        self.layers = nn.ModuleList(
            nn.GRU(in_channels if i == 0 else cfg.hidden, cfg.hidden, batch_first=True) for i in range(cfg.layers)
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.level_dims = [cfg.hidden] * cfg.layers
        self.level_lengths = [seq_len] * cfg.layers

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.input_norm(x)  # (B, T, C)

    def block(self, level: int, h: torch.Tensor) -> torch.Tensor:
        out, _ = self.layers[level](h if level == 0 else self.dropout(h))  # (B, T, hidden)
        return out
