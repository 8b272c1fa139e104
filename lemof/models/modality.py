"""Stage-1 model of one modality: encoder, level projections, level heads, global head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lemof.models.encoders.base import LevelEncoder


def mlp_head(d_in: int, d_hidden: int, dropout: float) -> nn.Sequential:
    """Two-layer regression head -> (B, 1)."""
    return nn.Sequential(nn.LayerNorm(d_in), nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_hidden, 1))


def pool_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """(B, T, d) -> (B, 3d): mean, max and last token."""
    return torch.cat([tokens.mean(dim=1), tokens.amax(dim=1), tokens[:, -1]], dim=-1)


@dataclass
class ModalityOutput:
    tokens: list[torch.Tensor]  # per level (B, T_l, d)
    level_preds: torch.Tensor  # (B, L) level-specific predictions h_m^l
    global_pred: torch.Tensor  # (B,) modality-level prediction g_m


class ModalityModel(nn.Module):
    """Encoder E_m with per-level token projections proj_l, level heads h_m^l and global head g_m.

    z_m^l = pool(proj_l(H_m^l)); h_m^l(z_m^l) is the level-specific prediction and g_m, on the
    pooled representations of all levels, the modality-level one.
    """

    def __init__(self, encoder: LevelEncoder, d_model: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.d_model = d_model
        self.proj = nn.ModuleList(nn.Linear(d_l, d_model) for d_l in encoder.level_dims)
        self.level_heads = nn.ModuleList(mlp_head(3 * d_model, d_model, dropout) for _ in encoder.level_dims)
        self.global_head = mlp_head(3 * d_model * encoder.n_levels, 2 * d_model, dropout)

    @property
    def n_levels(self) -> int:
        return self.encoder.n_levels

    def forward(self, x: torch.Tensor) -> ModalityOutput:
        levels = self.encoder.forward_levels(x)
        tokens = [proj(h) for proj, h in zip(self.proj, levels)]  # (B, T_l, d) each
        pooled = [pool_tokens(t) for t in tokens]  # (B, 3d) each
        level_preds = torch.cat([head(z) for head, z in zip(self.level_heads, pooled)], dim=1)  # (B, L)
        global_pred = self.global_head(torch.cat(pooled, dim=1)).squeeze(1)  # (B,)
        return ModalityOutput(tokens, level_preds, global_pred)
