"""Stage 2's value function: a small level-stacking model over the level heads' outputs.

Its inputs are the level-specific predictions of both modalities (the players of the level
Shapley game); a level that is absent from a coalition, or whose modality is missing for a
stay, takes its background expectation (the mean over training stays). It runs in float64
so that Shapley values add up to its output to within 1e-12.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class LevelStacker(nn.Module):
    """MLP (n_levels -> hidden -> 1) on standardised level predictions (log1p-days scale)."""

    def __init__(self, n_levels: int, hidden: int = 16):
        super().__init__()
        self.register_buffer("background", torch.zeros(n_levels, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(n_levels, dtype=torch.float64))
        self.net = nn.Sequential(nn.Linear(n_levels, hidden), nn.Tanh(), nn.Linear(hidden, 1)).double()

    @property
    def n_levels(self) -> int:
        return int(self.background.shape[0])

    def forward(self, level_preds: torch.Tensor) -> torch.Tensor:
        """(B, n_levels) -> (B,) float64."""
        z = (level_preds.to(torch.float64) - self.background) / self.scale
        return self.net(z).squeeze(1)

    def predict_numpy(self, level_preds: np.ndarray) -> np.ndarray:
        """(B, n_levels) -> (B,) float64, for SHAP."""
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(level_preds, dtype=np.float64))).numpy()

    def set_background(self, background: np.ndarray) -> None:
        """The value an absent level takes, (n_levels,): the mean level prediction over training stays."""
        with torch.no_grad():
            self.background.copy_(torch.as_tensor(background, dtype=torch.float64))

    def fill_absent(self, level_preds: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """(B, n_levels) level predictions with the levels not ``present`` (B, n_levels) bool at
        their background value, float64. The one place absent levels are replaced."""
        x = level_preds.to(torch.float64)
        return torch.where(present, x, self.background.expand_as(x))

    def fit(self, level_preds: np.ndarray, target: np.ndarray, *, seed: int, steps: int = 500) -> None:
        """Fit on (n, n_levels) level predictions (absent levels already at the background)."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            sd = np.std(level_preds, axis=0)
            self.scale.copy_(torch.as_tensor(np.where(sd > 1e-6, sd, 1.0), dtype=torch.float64))
            for p in self.net.parameters():  # re-initialise reproducibly
                bound = 1 / np.sqrt(p.shape[-1]) if p.dim() > 1 else 0.1
                p.copy_(torch.empty_like(p).uniform_(-bound, bound, generator=gen))
        x = torch.as_tensor(level_preds, dtype=torch.float64)
        y = torch.as_tensor(target, dtype=torch.float64)
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-2, weight_decay=1e-4)
        self.train()
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.huber_loss(self(x), y)
            loss.backward()
            opt.step()
        self.eval()
