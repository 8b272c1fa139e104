"""Encoders (every registered one), the meta-learner and conformal calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lemof.errors import ConfigError
from lemof.models.conformal import conformal_quantile, fit_nonnegative
from lemof.models.meta import MetaLearner
from lemof.models.registry import create_encoder, list_encoders, parse_encoder_pair

TINY = {  # keyed by (modality, name): both modalities have a "transformer" and a "tcn"
    ("ehr", "gru"): {"hidden": 8, "layers": 2},
    ("ehr", "transformer"): {"d": 8, "layers": 2, "heads": 2},
    ("ehr", "tcn"): {"channels": 8, "blocks": 2},
    ("sig", "resnet1d"): {"channels": [4, 8, 8]},
    ("sig", "transformer"): {"d": 8, "layers": 2, "heads": 2},
    ("sig", "tcn"): {"channels": [4, 8, 8]},
}
INPUT = {"ehr": lambda b: torch.randn(b, 24, 10), "sig": lambda b: torch.randn(b, 3, 1000)}


@pytest.mark.parametrize("modality,name", [(m, n) for m in ("ehr", "sig") for n in list_encoders(m)])
def test_every_encoder_exposes_its_levels(modality, name):
    x = INPUT[modality](3)
    channels, length = (x.shape[2], x.shape[1]) if modality == "ehr" else (x.shape[1], x.shape[2])
    enc = create_encoder(modality, name, channels, length, TINY.get((modality, name), {}))
    levels = enc.forward_levels(x)
    assert len(levels) == enc.n_levels >= 2
    for h, d, t in zip(levels, enc.level_dims, enc.level_lengths):
        assert h.shape == (3, t, d)


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown ehr encoder 'lstm9'; available: .*gru"):
        parse_encoder_pair("lstm9+resnet1d")
    with pytest.raises(ConfigError, match="must look like EHR\\+SIG"):
        parse_encoder_pair("gru")
    with pytest.raises(ConfigError, match="has no parameter"):
        create_encoder("ehr", "gru", 4, 24, {"depth": 3})


def test_nonnegative_stacker_recovers_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    truth = np.array([0.7, 0.0, 0.3])
    w, b = fit_nonnegative(x, 0.5 + x @ truth)
    assert np.allclose(w, truth, atol=1e-8) and b == pytest.approx(0.5), "exact without noise"
    w, b = fit_nonnegative(x, 0.5 + x @ truth + 0.4 * rng.normal(size=4000))
    assert np.allclose(w, truth, atol=0.03) and b == pytest.approx(0.5, abs=0.03), "close with noise"
    assert not np.allclose(w, truth, atol=1e-8), "the noise did reach the fit"
    w, _ = fit_nonnegative(x, -x[:, 0])  # a negative relation is clipped to zero
    assert (w >= 0).all() and w[0] == 0


def test_meta_contributions_add_up_and_absent_heads_are_nan():
    meta = MetaLearner(["ehr.global", "sig.global", "fusion"], ["sig.global"])
    rng = np.random.default_rng(1)
    heads = rng.normal(1, 0.5, size=(200, 3))
    y = heads @ np.array([0.3, 0.3, 0.4]) + 0.1
    meta.fit("ehr+sig", heads, y, alpha=0.1, folds=5, seed=0)
    meta.fit("ehr", heads, y, alpha=0.1, folds=5, seed=0)
    out = meta(torch.as_tensor(heads[:4]), torch.tensor([True, False, True, False]))
    c = out["contributions"].numpy()
    assert np.isnan(c[1, 1]) and np.isnan(c[3, 1]) and np.isfinite(c[0]).all()
    total = out["bias"].numpy() + np.nansum(c, axis=1)
    assert np.allclose(total, out["final"].numpy(), atol=1e-12)
    assert (meta.weight.numpy() >= 0).all()


def test_conformal_quantile_is_the_finite_sample_rank():
    r = np.arange(1, 20, dtype=float)  # 19 residuals
    assert conformal_quantile(r, alpha=0.1) == 18.0  # ceil(20 * 0.9) = 18th smallest
    assert conformal_quantile(r, alpha=0.01) == 19.0
