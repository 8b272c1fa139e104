"""The interface every encoder implements: an input embedding and a stack of blocks (levels).

Block ``l`` turns the previous block's tokens into level ``l``'s token sequence, so that
level-wise methods (LeMoF's level heads) read every level, and methods that exchange
information between the modalities *between* blocks (MMTM) can step two encoders side by
side: ``h = enc.embed(x); for l in range(enc.n_levels): h = enc.block(l, h)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal(length: int, d: int) -> torch.Tensor:
    """Fixed sine/cosine position embedding, (length, d): sin on even, cos on odd channels."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    emb = torch.zeros(length, d)
    emb[:, 0::2] = torch.sin(pos * freq)
    emb[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return emb


class LevelEncoder(nn.Module):
    """An encoder whose blocks (levels) each yield a token sequence.

    Subclasses set ``level_dims`` (d_l per level) and ``level_lengths`` (T_l per level, for
    the input length given at construction) and implement ``embed`` and ``block``.
    Input layout: EHR encoders take (B, T, C); biosignal encoders take (B, C, L).
    Between blocks the state is always a token sequence (B, T_l, d_l).
    """

    registry_name: str = ""
    modality: str = ""
    level_dims: list[int]
    level_lengths: list[int]

    @property
    def n_levels(self) -> int:
        return len(self.level_dims)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Input -> the token sequence block 0 reads, (B, T_0, d_0)."""
        raise NotImplementedError

    def block(self, level: int, h: torch.Tensor) -> torch.Tensor:
        """Tokens of the previous level (or of ``embed``) -> tokens of ``level``, (B, T_l, d_l)."""
        raise NotImplementedError

    def forward_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Token sequence of each level, a list of (B, T_l, d_l)."""
        h = self.embed(x)
        levels = []
        for level in range(self.n_levels):
            h = self.block(level, h)
            levels.append(h)
        return levels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_levels(x)
