"""Temporal convolutional networks: dilated residual 1-D conv blocks, one level per block.

EHR: every block keeps the hourly length T ("same" padding, non-causal) and doubles the
dilation (1, 2, 4, ...), so with kernel k level l sees 1 + 2(k-1)(2^(l+1)-1) hours.
Biosignal: a stem and every block halve the length (like resnet1d) and each block's second
conv is dilated, so early levels see beat morphology and the last one nearly the whole strip
(defaults on a 10 s ECG at 100 Hz: receptive field ~0.7 s at level 1, ~9 s at level 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lemof.errors import ConfigError
from lemof.models.encoders.base import LevelEncoder
from lemof.models.registry import register_encoder


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)  # odd kernel: length kept (stride 1) or ceil-halved (stride 2)
    conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, dilation=dilation, bias=False)
    return nn.Sequential(conv, nn.BatchNorm1d(c_out))


class _Residual(nn.Module):
    """conv(stride, dilation d1) -> ReLU -> dropout -> conv(dilation d2), plus a (1x1) skip."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilations: tuple[int, int], stride: int = 1, dropout: float = 0.0):
        super().__init__()
        self.conv1 = _conv_bn(c_in, c_out, kernel, stride, dilations[0])
        self.conv2 = _conv_bn(c_out, c_out, kernel, 1, dilations[1])
        self.skip = _conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.conv1(x)))  # (B, C_out, ceil(T / stride))
        return self.act(self.conv2(h) + self.skip(x))


def _check_kernel(who: str, kernel: int) -> None:
    if kernel < 1 or kernel % 2 == 0:
        raise ConfigError(f"{who}: kernel must be an odd number >= 1, got {kernel}")


@register_encoder("ehr", "tcn")
class TCNEHREncoder(LevelEncoder):
    """Hourly EHR grid (B, T, 2F+S) -> one (B, T, channels) token sequence per block."""

    @dataclass
    class Config:
        channels: int = 64
        blocks: int = 3
        kernel: int = 3
        dropout: float = 0.1

    def __init__(self, in_channels: int, seq_len: int, cfg: "TCNEHREncoder.Config"):
        super().__init__()
        self.cfg = cfg
        who = "ehr encoder 'tcn'"
        _check_kernel(who, cfg.kernel)
        if cfg.blocks < 1 or cfg.channels < 1:
            raise ConfigError(f"{who}: needs blocks >= 1 and channels >= 1, got blocks={cfg.blocks}, channels={cfg.channels}")
        if seq_len < 1:
            raise ConfigError(f"{who}: input length {seq_len} is too short, needs at least 1 time step")
        self.input_proj = nn.Linear(in_channels, cfg.channels)
        self.blocks = nn.ModuleList(
            _Residual(cfg.channels, cfg.channels, cfg.kernel, (2**l, 2**l), dropout=cfg.dropout) for l in range(cfg.blocks)
        )
        self.level_dims = [cfg.channels] * cfg.blocks
        self.level_lengths = [seq_len] * cfg.blocks

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.input_proj(x)  # (B, T, C) -> (B, T, channels)

    def block(self, level: int, h: torch.Tensor) -> torch.Tensor:
        return self.blocks[level](h.transpose(1, 2)).transpose(1, 2)  # (B, T, channels)


@register_encoder("sig", "tcn")
class TCNSignalEncoder(LevelEncoder):
    """Biosignal (B, C, L) -> stem (L/2) -> one (B, T_l, C_l) sequence per block, T_l halving."""

    @dataclass
    class Config:
        channels: tuple[int, ...] = (16, 32, 48, 64)
        kernel: int = 7
        dilation: int = 2  # of each block's second conv

    def __init__(self, in_channels: int, seq_len: int, cfg: "TCNSignalEncoder.Config"):
        super().__init__()
        self.cfg = cfg
        who = "sig encoder 'tcn'"
        chans = [int(c) for c in cfg.channels]
        _check_kernel(who, cfg.kernel)
        if not chans or min(chans) < 1 or cfg.dilation < 1:
            raise ConfigError(f"{who}: needs at least one block, channels >= 1 and dilation >= 1, got {cfg.channels}, {cfg.dilation}")
        need = 2 ** (len(chans) + 1)
        if seq_len < need:
            raise ConfigError(
                f"{who}: input length {seq_len} is too short, needs at least {need} samples (a stem and {len(chans)} blocks each halve it)"
            )
        self.stem = nn.Sequential(_conv_bn(in_channels, chans[0], cfg.kernel, stride=2), nn.ReLU())
        length = (seq_len + 1) // 2
        blocks, lengths = [], []
        for c_in, c_out in zip([chans[0]] + chans[:-1], chans):
            blocks.append(_Residual(c_in, c_out, cfg.kernel, (1, cfg.dilation), stride=2))
            length = (length + 1) // 2
            lengths.append(length)
        self.blocks = nn.ModuleList(blocks)
        self.level_dims = chans
        self.level_lengths = lengths

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x).transpose(1, 2)  # (B, C, L) -> (B, ceil(L/2), C_0)

    def block(self, level: int, h: torch.Tensor) -> torch.Tensor:
        return self.blocks[level](h.transpose(1, 2)).transpose(1, 2)  # (B, ceil(T/2), C_l)
