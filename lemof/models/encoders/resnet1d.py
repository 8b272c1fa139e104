"""1-D ResNet over a biosignal; one level per residual stage.

Every stage halves the time resolution, so early levels see beat morphology (P, QRS, ST)
and late levels, with wider receptive fields, see rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lemof.errors import ConfigError
from lemof.models.encoders.base import LevelEncoder
from lemof.models.registry import register_encoder


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.skip = (
            nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return self.act(h + self.skip(x))


def _out_len(length: int, kernel: int, stride: int) -> int:
    return (length + 2 * (kernel // 2) - kernel) // stride + 1


@register_encoder("sig", "resnet1d")
class ResNet1dEncoder(LevelEncoder):
    @dataclass
    class Config:
        channels: tuple[int, ...] = (16, 32, 48, 64)
        kernel: int = 7
        stem_stride: int = 2

    def __init__(self, in_channels: int, seq_len: int, cfg: "ResNet1dEncoder.Config"):
        super().__init__()
        self.cfg = cfg
        chans = list(cfg.channels)
        need = cfg.stem_stride * 2 ** len(chans)
        if seq_len < need:  # the same rule as the TCN: every level keeps at least one whole token
            raise ConfigError(
                f"sig encoder 'resnet1d': input length {seq_len} is too short, needs at least {need} samples (a stem and {len(chans)} stages each halve it)"
            )
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, chans[0], cfg.kernel, stride=cfg.stem_stride, padding=cfg.kernel // 2, bias=False),
            nn.BatchNorm1d(chans[0]),
            nn.ReLU(),
        )
        length = _out_len(seq_len, cfg.kernel, cfg.stem_stride)
        stages, lengths = [], []
        c_prev = chans[0]
        for c in chans:
            stages.append(_Block(c_prev, c, cfg.kernel, stride=2))
            length = _out_len(length, cfg.kernel, 2)
            lengths.append(length)
            c_prev = c
        self.stages = nn.ModuleList(stages)
        self.level_dims = chans
        self.level_lengths = lengths

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x).transpose(1, 2)  # (B, L/2, C0)

    def block(self, level: int, h: torch.Tensor) -> torch.Tensor:
        out = self.stages[level](h.transpose(1, 2))  # (B, C_l, T_l), T_l halves each stage
        return out.transpose(1, 2)  # (B, T_l, C_l)
