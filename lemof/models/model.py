"""LeMoF assembled: two modality models, the level stacker, cross-modal fusion, meta-learner.

The network is rebuilt from a ``ModelSpec`` (``lemof/models/spec.py``, stored in ``config.json``);
the weights come from ``model.safetensors``.
"""

from __future__ import annotations

import torch
from torch import nn

from lemof.models.attention import CrossModalFusion, aggregate_levels
from lemof.models.fusions import LEMOF_VARIANTS
from lemof.models.meta import MetaLearner
from lemof.models.modality import ModalityModel
from lemof.models.networks import register_fusion
from lemof.models.registry import create_encoders
from lemof.models.spec import TABULAR_HEAD, Head, ModelSpec, level_names
from lemof.models.stacker import LevelStacker


def head_columns(heads: list[Head], ehr_global, sig_global, fused, ehr_levels, sig_levels, tabular=None) -> list:
    """Each head's prediction (a (B,) column) in ``heads`` order, from the model's parts.

    Works for torch tensors and numpy arrays alike; ``*_levels`` are (B, L); ``tabular`` (B,) is
    the tabular head's prediction (computed outside the network), needed when it is a head."""
    sources = {("ehr", None): ehr_global, ("sig", None): sig_global}
    levels = {"ehr": ehr_levels, "sig": sig_levels}
    out = []
    for head in heads:
        if head.name == TABULAR_HEAD:
            if tabular is None:
                raise ValueError("this network has a tabular head: its per-stay predictions must be given (lemof.models.inference.tabular_values)")
            out.append(tabular)
        elif head.kind == "cross-modal":
            out.append(fused)
        elif head.kind == "modality-level":
            out.append(sources[(head.modality, None)])
        else:
            out.append(levels[head.modality][:, head.level])
    return out


@register_fusion(*LEMOF_VARIANTS)
class LeMoF(nn.Module):
    """The full model. Heads, in ``head_names`` order: the two global (modality-level) heads,
    the fused head, then the best-level heads of each modality."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        ehr_enc, sig_enc = create_encoders(spec)
        self.ehr = ModalityModel(ehr_enc, spec.d_model, spec.dropout)
        self.sig = ModalityModel(sig_enc, spec.d_model, spec.dropout)
        self.stacker = LevelStacker(self.ehr.n_levels + self.sig.n_levels, spec.stacker_hidden)
        self.fusion: CrossModalFusion | None = None
        self.meta: MetaLearner | None = None
        self.tabular_model = None  # the tabular head's GbmModel (lemof.models.gbm) when spec.tabular_head; not a torch module
        if spec.selected_levels["ehr"] and spec.selected_levels["sig"]:
            self._build_stage3()

    # --- structure --------------------------------------------------------------------
    @property
    def level_names(self) -> dict[str, list[str]]:
        return {"ehr": level_names("ehr", self.ehr.n_levels), "sig": level_names("sig", self.sig.n_levels)}

    @property
    def heads(self) -> list[Head]:
        return self.spec.heads

    @property
    def head_names(self) -> list[str]:
        return [h.name for h in self.heads]

    @property
    def sig_head_names(self) -> list[str]:
        return [h.name for h in self.heads if h.needs_signal]

    def token_lengths(self) -> dict[str, int]:
        """Length T* of the aggregated best-level token sequence of each modality."""
        lengths = {"ehr": self.ehr.encoder.level_lengths, "sig": self.sig.encoder.level_lengths}
        return {m: min(lengths[m][l] for l in self.spec.selected_levels[m]) for m in ("ehr", "sig")}

    def token_times(self) -> dict[str, list[float]]:
        """Centre of each aggregated token: EHR in hours, biosignal in seconds."""
        t = self.token_lengths()
        return {
            "ehr": [(i + 0.5) * self.spec.ehr_duration_h / t["ehr"] for i in range(t["ehr"])],
            "sig": [(i + 0.5) * self.spec.sig_duration_s / t["sig"] for i in range(t["sig"])],
        }

    def set_selected_levels(self, selected: dict[str, list[int]], weights: dict[str, list[float]]) -> None:
        """Stage 2's choice; creates the stage-3 modules."""
        self.spec.selected_levels = {m: [int(l) for l in selected[m]] for m in ("ehr", "sig")}
        self.spec.level_weights = {m: [float(w) for w in weights[m]] for m in ("ehr", "sig")}
        self._build_stage3()

    def _build_stage3(self) -> None:
        t = self.token_lengths()
        self.fusion = CrossModalFusion(self.spec.d_model, self.spec.attention_heads, t["ehr"], t["sig"], self.spec.dropout)
        self.meta = MetaLearner(self.head_names, self.sig_head_names)

    # --- forward ------------------------------------------------------------------------
    def aggregated_tokens(self, ehr_tokens: list[torch.Tensor], sig_tokens: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        sel, w = self.spec.selected_levels, self.spec.level_weights
        return aggregate_levels(ehr_tokens, sel["ehr"], w["ehr"]), aggregate_levels(sig_tokens, sel["sig"], w["sig"])

    def level_present(self, sig_available: torch.Tensor) -> torch.Tensor:
        """(B, Le + Ls) bool: which levels a stay has (all EHR levels; biosignal levels if recorded)."""
        n_ehr, n_sig = self.ehr.n_levels, self.sig.n_levels
        ehr = torch.ones(len(sig_available), n_ehr, dtype=torch.bool, device=sig_available.device)
        return torch.cat([ehr, sig_available[:, None].expand(-1, n_sig)], dim=1)

    def stacker_inputs(self, ehr_levels: torch.Tensor, sig_levels: torch.Tensor, sig_available: torch.Tensor) -> torch.Tensor:
        """(B, Le + Ls) level predictions, absent biosignal levels at their background value."""
        return self.stacker.fill_absent(torch.cat([ehr_levels, sig_levels], dim=1), self.level_present(sig_available))

    def forward(self, ehr_x: torch.Tensor, sig_x: torch.Tensor, sig_available: torch.Tensor, tabular: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """ehr_x (B, T, C_ehr), sig_x (B, C_sig, L), sig_available (B,) bool; ``tabular`` (B,) the
        tabular head's predictions (log1p-days) when the network has one (``spec.tabular_head``).

        Returns head predictions (B, H), the meta-learner's final prediction, contributions
        and bias (log1p-days scale), level predictions, the stacker output, attention and the
        fused representation (B, 4d) the cross-modal head reads (what similar stays compare)."""
        if self.fusion is None or self.meta is None:
            raise RuntimeError("stage 3 has not been built: select levels first")
        e, s = self.ehr(ehr_x), self.sig(sig_x)
        ehr_tok, sig_tok = self.aggregated_tokens(e.tokens, s.tokens)
        representation, attn_e2s, attn_s2e = self.fusion.attend(ehr_tok, sig_tok, sig_available)  # (B, 4d), attention maps
        fused = self.fusion.head(representation).squeeze(1)  # (B,)
        tab = tabular.to(device=fused.device, dtype=fused.dtype) if tabular is not None else None
        heads = torch.stack(head_columns(self.heads, e.global_pred, s.global_pred, fused, e.level_preds, s.level_preds, tab), dim=1)  # (B, H)
        meta = self.meta(heads, sig_available)
        stacker_in = self.stacker_inputs(e.level_preds, s.level_preds, sig_available)
        return {
            "heads": heads,
            **meta,
            "ehr_levels": e.level_preds,
            "sig_levels": s.level_preds,
            "stacker_inputs": stacker_in,
            "stacker_output": self.stacker(stacker_in),
            "attn_ehr_to_sig": attn_e2s,
            "attn_sig_to_ehr": attn_s2e,
            "representation": representation,
        }
