"""The interface every encoder implements: per-level token sequences."""

from __future__ import annotations

import torch
from torch import nn


class LevelEncoder(nn.Module):
    """An encoder whose blocks (levels) each yield a token sequence.

    Subclasses set ``level_dims`` (d_l per level) and ``level_lengths`` (T_l per level, for
    the input length given at construction) and implement ``forward_levels``.
    Input layout: EHR encoders take (B, T, C); biosignal encoders take (B, C, L).
    """

    registry_name: str = ""
    modality: str = ""
    level_dims: list[int]
    level_lengths: list[int]

    @property
    def n_levels(self) -> int:
        return len(self.level_dims)

    def forward_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Token sequence of each level, a list of (B, T_l, d_l)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_levels(x)
