"""The fusion baselines LeMoF is compared with, built on the same encoders (METHOD.md).

Every network maps (EHR (B, T, C), biosignal (B, C', L'), availability (B,)) to a dict with
``final`` (B,) — the prediction on log1p(days) — and ``halfwidth`` (B,), the split-conformal
half-width of its interval (fitted on validation stays, per availability pattern). A stay
without a biosignal never reads its zero-filled input as evidence: each method swaps in a
learned "absent" representation (or, for MedFuse, a shorter sequence).

Each baseline is a ``BaselineNet`` subclass registered under its fusion name
(``@register_fusion``); build one with ``lemof.models.networks.create_model(spec)``.
"""

from __future__ import annotations

import torch
from torch import nn

from lemof.models.attention import CrossModalFusion
from lemof.models.meta import PATTERNS, MetaLearner
from lemof.models.modality import ModalityModel, mlp_head, pool_tokens
from lemof.models.networks import register_fusion
from lemof.models.registry import create_encoders
from lemof.models.spec import ModelSpec


class MMTM(nn.Module):
    """Multimodal transfer module (Joze et al. 2020): squeeze both modalities' channels, excite each."""

    def __init__(self, d_ehr: int, d_sig: int, ratio: int = 4):
        super().__init__()
        hidden = max(4, (d_ehr + d_sig) // ratio)
        self.squeeze = nn.Sequential(nn.Linear(d_ehr + d_sig, hidden), nn.ReLU())
        self.excite_ehr = nn.Linear(hidden, d_ehr)
        self.excite_sig = nn.Linear(hidden, d_sig)
        self.absent = nn.Parameter(torch.zeros(d_sig))  # squeeze of a missing biosignal

    def forward(self, ehr: torch.Tensor, sig: torch.Tensor, sig_available: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ehr (B, Te, de), sig (B, Ts, ds) -> both rescaled channel-wise by 2·sigmoid(·)."""
        s_sig = torch.where(sig_available[:, None], sig.mean(dim=1), self.absent.expand(len(sig), -1))
        z = self.squeeze(torch.cat([ehr.mean(dim=1), s_sig], dim=1))  # (B, hidden)
        return ehr * 2 * torch.sigmoid(self.excite_ehr(z))[:, None, :], sig * 2 * torch.sigmoid(self.excite_sig(z))[:, None, :]


def aligned_levels(n_ehr: int, n_sig: int) -> list[tuple[int, int]]:
    """Pairs (EHR level, biosignal level) exchanged by MMTM: the deepest min(Le, Ls) levels, aligned from the end."""
    k = min(n_ehr, n_sig)
    return [(n_ehr - k + i, n_sig - k + i) for i in range(k)]


class BaselineNet(nn.Module):
    """A neural baseline (``spec.fusion``): both encoders built from the spec, then the method's own parts (``build``)."""

    method: str  # the fusion name, set by each subclass

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        ehr_enc, sig_enc = create_encoders(spec)
        self.build(ehr_enc, sig_enc, spec.d_model, spec.dropout)

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        raise NotImplementedError


@register_fusion("late")
class LateFusion(BaselineNet):
    """The two stage-1 models of LeMoF, combined by non-negative weights."""

    method = "late"

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        self.ehr = ModalityModel(ehr_enc, d, p)
        self.sig = ModalityModel(sig_enc, d, p)
        heads = self.spec.heads  # the modality-level heads, in the order forward stacks them
        self.meta = MetaLearner([h.name for h in heads], [h.name for h in heads if h.needs_signal])

    def forward(self, ehr_x: torch.Tensor, sig_x: torch.Tensor, sig_available: torch.Tensor) -> dict[str, torch.Tensor]:
        e, s = self.ehr(ehr_x), self.sig(sig_x)
        heads = torch.stack([e.global_pred, s.global_pred], dim=1)  # (B, 2)
        return {"heads": heads, **self.meta(heads, sig_available)}


class LastLevelNet(BaselineNet):
    """Baselines on the last-level tokens of both encoders, projected to d, with a split-conformal half-width per pattern."""

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        self.register_buffer("interval_halfwidth", torch.zeros(len(PATTERNS), dtype=torch.float64))
        self.ehr_enc, self.sig_enc = ehr_enc, sig_enc
        self.ehr_proj = nn.Linear(ehr_enc.level_dims[-1], d)
        self.sig_proj = nn.Linear(sig_enc.level_dims[-1], d)
        self.absent_sig = nn.Parameter(torch.zeros(3 * d))  # pooled representation of a missing biosignal

    def _last_tokens(self, ehr_x: torch.Tensor, sig_x: torch.Tensor, sig_available: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Last-level tokens of both encoders, projected to d: (B, Te, d), (B, Ts, d)."""
        return self.ehr_proj(self.ehr_enc(ehr_x)[-1]), self.sig_proj(self.sig_enc(sig_x)[-1])

    def _pooled(self, ehr_tok: torch.Tensor, sig_tok: torch.Tensor, sig_available: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3d) pooled tokens of each modality, the learned "absent" one for a missing biosignal."""
        sig_pooled = torch.where(sig_available[:, None], pool_tokens(sig_tok), self.absent_sig.expand(len(sig_tok), -1))
        return pool_tokens(ehr_tok), sig_pooled

    def predict(self, ehr_tok: torch.Tensor, sig_tok: torch.Tensor, sig_available: torch.Tensor) -> torch.Tensor:
        """(B,) prediction (log1p-days) from the last-level tokens."""
        raise NotImplementedError

    def forward(self, ehr_x: torch.Tensor, sig_x: torch.Tensor, sig_available: torch.Tensor) -> dict[str, torch.Tensor]:
        ehr_tok, sig_tok = self._last_tokens(ehr_x, sig_x, sig_available)
        pred = self.predict(ehr_tok, sig_tok, sig_available)
        return {"final": pred.to(torch.float64), "halfwidth": self.interval_halfwidth[torch.where(sig_available, 0, 1)]}


@register_fusion("early")
class EarlyFusion(LastLevelNet):
    """Concatenated pooled last-level embeddings, MLP head."""

    method = "early"

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        super().build(ehr_enc, sig_enc, d, p)
        self.head = mlp_head(6 * d, d, p)

    def predict(self, ehr_tok: torch.Tensor, sig_tok: torch.Tensor, sig_available: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat(self._pooled(ehr_tok, sig_tok, sig_available), dim=1)).squeeze(1)


@register_fusion("mmtm")
class MMTMFusion(EarlyFusion):
    """Early fusion whose encoders exchange squeeze-excitation between aligned blocks (MMTM)."""

    method = "mmtm"

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        super().build(ehr_enc, sig_enc, d, p)
        pairs = aligned_levels(ehr_enc.n_levels, sig_enc.n_levels)
        self.mmtm_pairs = pairs
        self.mmtm = nn.ModuleList(MMTM(ehr_enc.level_dims[i], sig_enc.level_dims[j]) for i, j in pairs)

    def _last_tokens(self, ehr_x: torch.Tensor, sig_x: torch.Tensor, sig_available: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        exchange = {i: k for k, (i, _) in enumerate(self.mmtm_pairs)}
        sig_level = {i: j for i, j in self.mmtm_pairs}
        e, s = self.ehr_enc.embed(ehr_x), self.sig_enc.embed(sig_x)
        done_sig = -1
        for i in range(self.ehr_enc.n_levels):
            e = self.ehr_enc.block(i, e)
            if i in exchange:
                while done_sig < sig_level[i]:  # step the biosignal encoder up to the aligned level
                    done_sig += 1
                    s = self.sig_enc.block(done_sig, s)
                e, s = self.mmtm[exchange[i]](e, s, sig_available)
        while done_sig < self.sig_enc.n_levels - 1:
            done_sig += 1
            s = self.sig_enc.block(done_sig, s)
        return self.ehr_proj(e), self.sig_proj(s)


@register_fusion("xattn_last")
class LastLevelCrossAttention(LastLevelNet):
    """Bidirectional cross-modal attention over the last levels (MulT-style)."""

    method = "xattn_last"

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        super().build(ehr_enc, sig_enc, d, p)
        self.fusion = CrossModalFusion(d, self.spec.attention_heads, ehr_enc.level_lengths[-1], sig_enc.level_lengths[-1], p)

    def predict(self, ehr_tok: torch.Tensor, sig_tok: torch.Tensor, sig_available: torch.Tensor) -> torch.Tensor:
        return self.fusion(ehr_tok, sig_tok, sig_available)[0]


@register_fusion("medfuse")
class MedFuse(LastLevelNet):
    """An LSTM over the sequence of modality embeddings; a missing biosignal shortens the sequence."""

    method = "medfuse"

    def build(self, ehr_enc: nn.Module, sig_enc: nn.Module, d: int, p: float) -> None:
        super().build(ehr_enc, sig_enc, d, p)
        self.embed_ehr = nn.Linear(3 * d, d)
        self.embed_sig = nn.Linear(3 * d, d)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.head = mlp_head(d, d, p)

    def predict(self, ehr_tok: torch.Tensor, sig_tok: torch.Tensor, sig_available: torch.Tensor) -> torch.Tensor:
        ehr_pooled, sig_pooled = self._pooled(ehr_tok, sig_tok, sig_available)
        seq = torch.stack([self.embed_ehr(ehr_pooled), self.embed_sig(sig_pooled)], dim=1)  # (B, 2, d)
        out, _ = self.lstm(seq)  # causal: step 0 has seen the EHR only
        return self.head(torch.where(sig_available[:, None], out[:, 1], out[:, 0])).squeeze(1)
