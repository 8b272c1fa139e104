"""The meta-learner: a linear stacker with non-negative weights over the prediction heads.

Each head's contribution to a stay's prediction is exactly ``w_i * y_i``; with the bias they
add up to the prediction. There is one weight vector per availability pattern (``ehr+sig``
and ``ehr``), so a stay without a biosignal is predicted by weights fitted for that case and
its biosignal heads are reported as absent, never as zero evidence.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lemof.models.conformal import conformal_quantile, cross_fit_residuals, fit_nonnegative

PATTERNS = ("ehr+sig", "ehr")


class MetaLearner(nn.Module):
    """Non-negative linear stacker per availability pattern, with its conformal half-width."""

    def __init__(self, head_names: list[str], sig_heads: list[str]):
        super().__init__()
        self.head_names = list(head_names)
        self.sig_heads = list(sig_heads)
        h = len(head_names)
        self.register_buffer("weight", torch.zeros(len(PATTERNS), h, dtype=torch.float64))
        self.register_buffer("bias", torch.zeros(len(PATTERNS), dtype=torch.float64))
        self.register_buffer("interval_halfwidth", torch.zeros(len(PATTERNS), dtype=torch.float64))
        present = torch.ones(len(PATTERNS), h, dtype=torch.bool)
        present[PATTERNS.index("ehr"), [self.head_names.index(n) for n in sig_heads]] = False
        self.register_buffer("present", present, persistent=False)

    def fit(
        self, pattern: str, head_preds: np.ndarray, target: np.ndarray, *, alpha: float, folds: int, seed: int, fixed: dict[str, float] | None = None
    ) -> dict:
        """Fit one pattern on (n, H) head predictions; absent heads are ignored.

        ``fixed`` gives the weights instead of fitting them (bias 0), e.g. ``{"fusion": 1.0}``
        for the no-meta-learner ablation; the interval is then calibrated on its residuals.
        """
        p = PATTERNS.index(pattern)
        cols = self.present[p].numpy()
        x_all = np.asarray(head_preds, dtype=np.float64)
        y = np.asarray(target, dtype=np.float64)
        full = np.zeros(len(self.head_names))
        if fixed is not None:
            for name, weight in fixed.items():
                full[self.head_names.index(name)] = weight
            b = 0.0
            q = conformal_quantile(np.abs(y - x_all @ full), alpha)
        else:
            x = x_all[:, cols]
            w, b = fit_nonnegative(x, y)
            q = conformal_quantile(cross_fit_residuals(x, y, folds, seed), alpha)
            full[cols] = w
        with torch.no_grad():
            self.weight[p] = torch.as_tensor(full)
            self.bias[p] = b
            self.interval_halfwidth[p] = q
        return {"pattern": pattern, "n": int(len(y)), "weights": dict(zip(self.head_names, full.tolist())), "bias": b, "interval_halfwidth": q}

    def fit_patterns(
        self,
        heads_actual: np.ndarray,
        heads_without_signal: np.ndarray,
        target: np.ndarray,
        sig_available: np.ndarray,
        val_idx: np.ndarray,
        *,
        alpha: float,
        folds: int,
        seed: int,
        fixed: dict[str, float] | None = None,
    ) -> list[dict]:
        """Fit both patterns on validation stays: ``ehr+sig`` on those with a biosignal (heads
        (N, H) as they are), ``ehr`` on all of them with their biosignal hidden
        (``heads_without_signal``), so it has enough stays to fit on. Returns both reports."""
        with_sig = val_idx[np.asarray(sig_available, dtype=bool)[val_idx]]
        kw = {"alpha": alpha, "folds": folds, "seed": seed, "fixed": fixed}
        return [
            self.fit("ehr+sig", heads_actual[with_sig], target[with_sig], **kw),
            self.fit("ehr", heads_without_signal[val_idx], target[val_idx], **kw),
        ]

    def forward(self, head_preds: torch.Tensor, sig_available: torch.Tensor) -> dict[str, torch.Tensor]:
        """head_preds (B, H), sig_available (B,) bool -> final (B,), contributions (B, H) with NaN
        for absent heads, bias (B,), half-width (B,) of the interval, all float64."""
        p = torch.where(sig_available, 0, 1)  # index into PATTERNS
        w, present = self.weight[p], self.present[p]  # (B, H)
        contrib = torch.where(present, w * head_preds.to(torch.float64), torch.full_like(w, float("nan")))
        bias = self.bias[p]
        final = bias + torch.nansum(contrib, dim=1)
        return {"final": final, "contributions": contrib, "bias": bias, "halfwidth": self.interval_halfwidth[p]}
