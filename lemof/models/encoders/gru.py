"""Stacked GRU over the hourly EHR grid; one level per GRU layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

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
        self.cfg = cfg
        self.input_norm = nn.LayerNorm(in_channels)
        self.layers = nn.ModuleList(
            nn.GRU(in_channels if i == 0 else cfg.hidden, cfg.hidden, batch_first=True) for i in range(cfg.layers)
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.level_dims = [cfg.hidden] * cfg.layers
        self.level_lengths = [seq_len] * cfg.layers

    def forward_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.input_norm(x)  # (B, T, C)
        levels = []
        for i, gru in enumerate(self.layers):
            h, _ = gru(h if i == 0 else self.dropout(h))  # (B, T, hidden)
            levels.append(h)
        return levels
