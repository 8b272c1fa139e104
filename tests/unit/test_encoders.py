"""Every registered encoder on the real input shapes: levels, stepping, gradients, errors, seeds."""

from __future__ import annotations

import pytest
import torch

from lemof.errors import ConfigError
from lemof.models.registry import create_encoder, list_encoders

# (channels, length) as the encoders are built: EHR input (B, T, C), biosignal input (B, C, L).
SHAPES = {
    "ehr": {"synthetic": (40, 24), "physionet": (60, 48)},
    "sig": {"ecg": (3, 1000), "bedside": (22, 96)},
}
CASES = [(m, n, s) for m in ("ehr", "sig") for n in list_encoders(m) for s in SHAPES[m]]
PAIRS = [(m, n) for m in ("ehr", "sig") for n in list_encoders(m)]


def make_input(modality: str, channels: int, length: int, batch: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    shape = (batch, length, channels) if modality == "ehr" else (batch, channels, length)
    return torch.randn(shape, generator=g)


def build(modality: str, name: str, shape: str = "", params: dict | None = None, seed: int = 0):
    channels, length = SHAPES[modality][shape or next(iter(SHAPES[modality]))]
    torch.manual_seed(seed)
    return create_encoder(modality, name, channels, length, params), make_input(modality, channels, length)


@pytest.mark.parametrize("modality,name,shape", CASES)
def test_levels_have_declared_shapes_and_stepping_matches(modality, name, shape):
    enc, x = build(modality, name, shape)
    assert enc.n_levels >= 2 and len(enc.level_dims) == len(enc.level_lengths) == enc.n_levels
    for training in (False, True):  # train mode: same dropout draws via the seed
        enc.train(training)
        torch.manual_seed(1)
        levels = enc.forward_levels(x)
        torch.manual_seed(1)
        h = enc.embed(x)
        assert h.ndim == 3 and h.shape[0] == x.shape[0]
        for level, expected in enumerate(levels):
            h = enc.block(level, h)
            assert h.shape == (x.shape[0], enc.level_lengths[level], enc.level_dims[level])
            assert torch.equal(h, expected)
            assert torch.isfinite(h).all()


@pytest.mark.parametrize(
    "modality,name,shape,lengths",
    [
        ("sig", "transformer", "ecg", [50, 50, 50]),
        ("sig", "transformer", "bedside", [48, 48, 48]),
        ("sig", "tcn", "ecg", [250, 125, 63, 32]),
        ("sig", "tcn", "bedside", [24, 12, 6, 3]),
        ("ehr", "transformer", "synthetic", [24, 24, 24]),
        ("ehr", "tcn", "physionet", [48, 48, 48]),
    ],
)
def test_default_level_lengths(modality, name, shape, lengths):
    enc, _ = build(modality, name, shape)
    assert enc.level_lengths == lengths


@pytest.mark.parametrize("modality,name", PAIRS)
def test_last_level_gradient_reaches_first_level(modality, name):
    enc, x = build(modality, name)
    enc.train()
    levels = enc.forward_levels(x)
    levels[0].square().mean().backward()  # which parameters shape the first level
    first = {n for n, p in enc.named_parameters() if p.grad is not None and p.grad.abs().max() > 1e-6}
    assert first
    enc.zero_grad(set_to_none=True)
    enc.forward_levels(x)[-1].square().mean().backward()
    starved = [n for n, p in enc.named_parameters() if n in first and (p.grad is None or not p.grad.abs().max() > 0)]
    assert not starved


@pytest.mark.parametrize(
    "modality,name,length,params,needs",
    [
        ("ehr", "transformer", 0, {}, "at least 1 time step"),
        ("ehr", "tcn", 0, {}, "at least 1 time step"),
        ("sig", "transformer", 10, {"patch": 20}, "one patch of 20 samples"),
        ("sig", "transformer", 0, {}, "one patch of 1 samples"),
        ("sig", "tcn", 20, {}, "at least 32 samples"),
        ("sig", "tcn", 15, {"channels": [4, 8, 8]}, "at least 16 samples"),
    ],
)
def test_too_short_input_is_a_config_error(modality, name, length, params, needs):
    with pytest.raises(ConfigError) as err:
        create_encoder(modality, name, 3, length, params)
    msg = str(err.value)
    assert "\n" not in msg and f"encoder '{name}'" in msg and f"input length {length} is too short" in msg and needs in msg


@pytest.mark.parametrize(
    "modality,name,params,match",
    [
        ("ehr", "transformer", {"d": 10, "heads": 4}, "multiple of heads"),
        ("sig", "transformer", {"time_embedding": "rotary"}, "unknown time_embedding"),
        ("ehr", "tcn", {"kernel": 4}, "odd"),
        ("sig", "tcn", {"channels": []}, "at least one block"),
    ],
)
def test_bad_parameters_are_config_errors(modality, name, params, match):
    with pytest.raises(ConfigError, match=match):
        create_encoder(modality, name, 3, 96, params)


def test_just_long_enough_inputs_build():
    enc = create_encoder("sig", "tcn", 3, 32, {})
    assert enc.level_lengths == [8, 4, 2, 1]
    enc = create_encoder("sig", "transformer", 3, 20, {"patch": 20})
    assert enc.level_lengths == [1, 1, 1]


@pytest.mark.parametrize("modality,name", PAIRS)
def test_same_seed_same_outputs(modality, name):
    outs = []
    for seed in (0, 0, 1):
        enc, x = build(modality, name, seed=seed)
        torch.manual_seed(5)
        outs.append(enc.forward_levels(x))  # train mode: dropout drawn from the seed too
    assert all(torch.equal(a, b) for a, b in zip(outs[0], outs[1]))
    assert not torch.equal(outs[0][-1], outs[2][-1])


@pytest.mark.parametrize("modality", ["ehr", "sig"])
def test_learned_time_embedding(modality):
    enc, x = build(modality, "transformer", params={"time_embedding": "learned"})
    assert any(n == "time" for n, _ in enc.named_parameters())
    assert enc.forward_levels(x)[-1].shape[1:] == (enc.level_lengths[-1], enc.level_dims[-1])
