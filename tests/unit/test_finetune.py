"""Stage 3 with the encoders fine-tuned (``TrainConfig.finetune_encoders``): trains end to end,
changes the encoders (and only then), saves what it predicts with, refuses what it cannot do."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lemof.training.pipeline as pipeline
from testkit.cohorts import tiny_config
from lemof import load_run, open_bundle
from lemof.errors import ConfigError
from lemof.explain.level_shap import level_shapley
from lemof.models.inference import predict_rows
from lemof.training.stage1 import modality_loss
from testkit.fresh import lemof_cli
from tests.unit.test_cli import _one_error_line
from benchmarks.grid_run import LEMOF_FT, Cell, config_mismatch, method_kind, train_config


def _encoder_state(model) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone().cpu() for m in ("ehr", "sig") for k, v in getattr(model, m).state_dict().items()}


@pytest.fixture(scope="module")
def finetuned(tiny_cohort, tmp_path_factory):
    """A fine-tuned tiny run, and the modality models' weights as stage 1 left them."""
    after_stage1 = {}
    stage2 = pipeline.stage2

    def snapshot(model, *args):
        after_stage1.update(_encoder_state(model))
        return stage2(model, *args)

    out = tmp_path_factory.mktemp("runs") / "tiny-finetuned"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "stage2", snapshot)
        pipeline.train(tiny_cohort, out, tiny_config(finetune_encoders=True), device="cpu")
    return out, after_stage1


@pytest.mark.slow  # the module's ``finetuned`` fixture trains a model
def test_encoders_change_only_when_fine_tuned(finetuned, tiny_run):
    out, after_stage1 = finetuned
    tuned, frozen = _encoder_state(load_run(out).model), _encoder_state(load_run(tiny_run).model)
    assert tuned.keys() == frozen.keys() == after_stage1.keys()
    # The frozen run trains stage 1 exactly as the fine-tuned one (same seeds; training is deterministic).
    assert all(torch.equal(frozen[k], after_stage1[k]) for k in frozen), "without the option stage 3 leaves the encoders as stage 1 left them"
    for m in ("ehr", "sig"):
        weights = [k for k in tuned if k.startswith(f"{m}.encoder.") and tuned[k].is_floating_point() and "running" not in k]
        changed = [k for k in weights if not torch.equal(tuned[k], after_stage1[k])]
        assert weights and len(changed) == len(weights), f"{m}: every encoder weight is trained ({len(changed)} of {len(weights)} changed)"


@pytest.mark.slow  # the module's ``finetuned`` fixture trains a model
def test_the_saved_run_reproduces_what_it_stores(finetuned, tiny_cohort):
    run, bundle = load_run(finetuned[0]), open_bundle(tiny_cohort)
    assert run.train_config.finetune_encoders and run.train_config.finetune_lr_scale == 0.1
    p = predict_rows(run.model, run.preprocessor, bundle, np.arange(len(bundle)))
    stored = run.predictions.set_index("stay_id").loc[p["stay_id"]]
    # The run was assessed with this network in the same batches: float32 batch effects at most (~1e-6).
    assert np.allclose(p["final"], stored["final"], atol=1e-5)
    assert np.allclose(p["heads"], stored[[f"head:{h.name}" for h in run.spec.heads]], atol=1e-5)
    # Level SHAP stored at training is the loaded stacker's, on the fine-tuned levels.
    present = run.model.level_present(torch.as_tensor(p["sig_available"])).numpy()
    phi, base = level_shapley(run.model.stacker, p["stacker_inputs"], present)
    table = run.level_shap.set_index("stay_id").loc[p["stay_id"]]
    cols = run.level_importance.all_levels
    assert np.allclose(np.nan_to_num(phi, nan=-9.0), np.nan_to_num(table[cols].to_numpy(dtype=float), nan=-9.0), atol=1e-5)
    assert base == pytest.approx(run.level_importance.base_value, abs=1e-9)
    vectors, index = run.stored_stay_vectors()
    assert vectors is not None, run.warnings  # written for these weights (their hash matches)
    imp = json.loads((finetuned[0] / "level_importance.json").read_text())
    assert set(imp["selection_importance"]) == {"ehr", "sig"} and imp["selection_importance"] != imp["importance"]


def test_stage1_loss_weighted_over_every_stay_is_the_plain_loss():
    gen = torch.Generator().manual_seed(0)
    levels, glob, y = torch.randn(16, 3, generator=gen), torch.randn(16, generator=gen), torch.randn(16, generator=gen)
    for fusion in ("lemof", "no_global"):
        cfg = tiny_config(fusion=fusion)
        plain = modality_loss(levels, glob, y, cfg)
        assert modality_loss(levels, glob, y, cfg, weight=torch.ones(16)) == pytest.approx(float(plain), rel=1e-6)
        half = torch.arange(16) < 8
        assert modality_loss(levels, glob, y, cfg, weight=half.float()) == pytest.approx(float(modality_loss(levels[:8], glob[:8], y[:8], cfg)), rel=1e-6)


def test_bad_combinations_are_refused(tiny_cohort, tmp_path):
    with pytest.raises(ConfigError, match="finetune_encoders applies to LeMoF's stage 3"):
        tiny_config(fusion="early", finetune_encoders=True)
    with pytest.raises(ConfigError, match="finetune_lr_scale"):
        tiny_config(finetune_encoders=True, finetune_lr_scale=0.0)
    _one_error_line(lemof_cli("train", "--data", str(tiny_cohort), "--out", str(tmp_path / "x"), "--fusion", "gbm", "--finetune-encoders"),
                    "finetune_encoders applies", "'gbm'")
    assert not (tmp_path / "x").exists()


def test_the_grid_method_is_lemof_with_the_option():
    cfg = train_config(Cell("synthetic", LEMOF_FT, "gru+resnet1d", 1), {"epochs_stage1": 2})
    assert cfg.fusion == "lemof" and cfg.finetune_encoders and cfg.seed == 1 and cfg.epochs_stage1 == 2
    assert not train_config(Cell("synthetic", "lemof", "gru+resnet1d", 1), {}).finetune_encoders
    assert method_kind(LEMOF_FT) == "variant"
    ran = {"fusion": "lemof", "train": cfg.to_dict()}
    assert config_mismatch(LEMOF_FT, ran) is None and "finetune_encoders True" in config_mismatch("lemof", ran)
    assert config_mismatch("lemof", {"fusion": "lemof", "train": {}}) is None  # a run from before the option
    assert "finetune_encoders False" in config_mismatch(LEMOF_FT, {"fusion": "lemof", "train": {"finetune_encoders": False}})
    assert "fusion 'early'" in config_mismatch(LEMOF_FT, {"fusion": "early", "train": {}})
