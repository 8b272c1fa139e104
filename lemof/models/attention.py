"""Stage 3: best-level aggregation and bidirectional cross-modal attention."""

from __future__ import annotations

import torch
from torch import nn

from lemof.models.encoders.base import sinusoidal
from lemof.models.modality import mlp_head


def aggregate_levels(tokens: list[torch.Tensor], selected: list[int], weights: list[float]) -> torch.Tensor:
    """Importance-weighted sum of the selected levels' tokens, (B, T*, d).

    Levels with different lengths are average-pooled to the shortest selected length T*, so
    token i always covers the same fraction of the input window.
    """
    t_star = min(tokens[l].shape[1] for l in selected)
    out = None
    for level, w in zip(selected, weights):
        tok = tokens[level]
        if tok.shape[1] != t_star:
            tok = nn.functional.adaptive_avg_pool1d(tok.transpose(1, 2), t_star).transpose(1, 2)
        out = w * tok if out is None else out + w * tok
    return out


class CrossModalFusion(nn.Module):
    """EHR tokens attend to biosignal tokens and the reverse; a head on the pooled result.

    A stay without a biosignal gets learned "absent" vectors in place of the biosignal
    context and summary, so the fused prediction never treats a missing ECG as a flat one.
    """

    def __init__(self, d: int, heads: int, ehr_len: int, sig_len: int, dropout: float = 0.1):
        super().__init__()
        if d % heads:
            raise ValueError(f"d_model ({d}) must be divisible by attention heads ({heads})")
        self.register_buffer("pos_ehr", sinusoidal(ehr_len, d), persistent=False)
        self.register_buffer("pos_sig", sinusoidal(sig_len, d), persistent=False)
        self.ehr_to_sig = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.sig_to_ehr = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm_ehr = nn.LayerNorm(d)
        self.norm_sig = nn.LayerNorm(d)
        self.absent_context = nn.Parameter(torch.zeros(d))
        self.absent_summary = nn.Parameter(torch.zeros(2 * d))
        self.head = mlp_head(4 * d, d, dropout)

    def attend(
        self, ehr: torch.Tensor, sig: torch.Tensor, sig_available: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ehr (B, Te, d), sig (B, Ts, d), sig_available (B,) bool -> the fused representation
        (B, 4d) the head reads, attention EHR->sig (B, H, Te, Ts) and sig->EHR (B, H, Ts, Te)."""
        e = ehr + self.pos_ehr[: ehr.shape[1]]
        s = sig + self.pos_sig[: sig.shape[1]]
        ctx_e, attn_e2s = self.ehr_to_sig(e, s, s, need_weights=True, average_attn_weights=False)
        ctx_s, attn_s2e = self.sig_to_ehr(s, e, e, need_weights=True, average_attn_weights=False)
        avail = sig_available.view(-1, 1, 1)
        ctx_e = torch.where(avail, ctx_e, self.absent_context.expand_as(ctx_e))
        e_out = self.norm_ehr(e + ctx_e)  # (B, Te, d)
        s_out = self.norm_sig(s + ctx_s)  # (B, Ts, d)
        s_summary = torch.cat([s_out.mean(dim=1), s_out.amax(dim=1)], dim=1)  # (B, 2d)
        s_summary = torch.where(avail[:, :, 0], s_summary, self.absent_summary.expand_as(s_summary))
        z = torch.cat([e_out.mean(dim=1), e_out.amax(dim=1), s_summary], dim=1)  # (B, 4d)
        return z, attn_e2s, attn_s2e

    def forward(
        self, ehr: torch.Tensor, sig: torch.Tensor, sig_available: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ehr (B, Te, d), sig (B, Ts, d), sig_available (B,) bool ->
        fused prediction (B,), attention EHR->sig (B, H, Te, Ts), sig->EHR (B, H, Ts, Te)."""
        z, attn_e2s, attn_s2e = self.attend(ehr, sig, sig_available)
        return self.head(z).squeeze(1), attn_e2s, attn_s2e
