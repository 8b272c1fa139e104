"""Training: deterministic, writes a pickle-free run directory, refuses bad runs clearly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from testkit.cohorts import tiny_config
from lemof import RunError, load_run, open_bundle
from lemof.errors import ConfigError
from lemof.models.inference import predict_rows
from lemof.training.pipeline import train

RUN_FILES = {"config.json", "model.safetensors", "metrics.json", "level_importance.json", "level_shap.parquet", "predictions.parquet", "stay_vectors.safetensors", "level_concepts.json", "train.log"}


def random_bytes(n: int, seed: int = 0) -> bytes:
    """``n`` random bytes: the content of a corrupt file."""
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _predict_all(run_dir, cohort):
    run, bundle = load_run(run_dir), open_bundle(cohort)
    return predict_rows(run.model, run.preprocessor, bundle, np.arange(len(bundle)))


def test_same_seed_gives_identical_predictions(tiny_run, tiny_cohort, tmp_path):
    again = train(tiny_cohort, tmp_path / "again", tiny_config(), device="cpu")
    a, b = _predict_all(tiny_run, tiny_cohort), _predict_all(again, tiny_cohort)
    assert np.array_equal(a["final"], b["final"])
    assert np.array_equal(a["heads"], b["heads"])
    other = train(tiny_cohort, tmp_path / "other", tiny_config(seed=1), device="cpu")
    assert not np.array_equal(a["final"], _predict_all(other, tiny_cohort)["final"])


def test_run_directory_is_complete_and_pickle_free(tiny_run):
    assert {p.name for p in tiny_run.iterdir()} == RUN_FILES
    for f in tiny_run.iterdir():
        assert not f.read_bytes()[:2] == b"\x80\x04", f"{f.name} looks like a pickle"
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    for key in ("mae_days", "rmse_days", "kappa_linear_10bucket", "interval_coverage"):
        assert np.isfinite(metrics["test"]["model"][key])
    imp = json.loads((tiny_run / "level_importance.json").read_text())
    assert len(imp["selected"]["ehr"]) == 1 and len(imp["selected"]["sig"]) == 1


def test_contributions_add_up_for_every_stay(tiny_run, tiny_cohort):
    p = _predict_all(tiny_run, tiny_cohort)
    total = p["bias"] + np.nansum(p["contributions"], axis=1)
    assert np.allclose(total, p["final"], atol=1e-5)
    absent = ~p["sig_available"]
    assert absent.any() and np.isnan(p["contributions"][absent][:, 1]).all()
    assert np.all((p["interval_days"][:, 0] <= p["los_days"]) & (p["los_days"] <= p["interval_days"][:, 1]))


def test_loaded_run_reproduces_recorded_metrics(tiny_run, tiny_cohort):
    from lemof import evaluate_run

    recorded = json.loads((tiny_run / "metrics.json").read_text())["test"]["model"]
    again = evaluate_run(load_run(tiny_run), open_bundle(tiny_cohort), "test")["model"]
    for key, value in recorded.items():
        assert again[key] == pytest.approx(value, abs=1e-6)


def _broken_copy(tiny_run, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(tiny_run, dst)
    return dst


def test_missing_or_corrupt_weights(tiny_run, tmp_path):
    missing = _broken_copy(tiny_run, tmp_path, "missing")
    (missing / "model.safetensors").unlink()
    with pytest.raises(RunError, match="has no model.safetensors"):
        load_run(missing)
    corrupt = _broken_copy(tiny_run, tmp_path, "corrupt")
    (corrupt / "model.safetensors").write_bytes(random_bytes(5000))
    with pytest.raises(RunError, match="does not match the SHA-256 recorded"):
        load_run(corrupt)
    _rehash(corrupt)  # even with a matching hash, garbage is not read as weights
    with pytest.raises(RunError, match="corrupt or not a safetensors file"):
        load_run(corrupt)
    truncated = _broken_copy(tiny_run, tmp_path, "truncated")
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    _rehash(truncated)
    with pytest.raises(RunError, match="corrupt or not a safetensors file"):
        load_run(truncated)


def _edit_weights(run_dir, edit) -> str:
    """Apply ``edit(name, array) -> array`` to the first EHR encoder tensor; return its name."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(run_dir / "model.safetensors"))
    name = sorted(k for k in tensors if k.startswith("ehr.encoder.") and tensors[k].size >= 64)[0]
    tensors[name] = edit(tensors[name].copy())
    save_file(tensors, str(run_dir / "model.safetensors"))
    return name


def _rehash(run_dir) -> None:
    """Record the current weights' hash, as if the run had been written with them."""
    from lemof.paths import file_sha256

    cfg = json.loads((run_dir / "config.json").read_text())
    cfg["weights_sha256"] = file_sha256(run_dir / "model.safetensors")
    (run_dir / "config.json").write_text(json.dumps(cfg))


def _nan64(a):
    a.reshape(-1)[:64] = np.nan
    return a


def test_edited_weights_are_refused(tiny_run, tmp_path):
    nan = _broken_copy(tiny_run, tmp_path, "nan")
    _edit_weights(nan, _nan64)
    with pytest.raises(RunError, match="changed or damaged after training"):
        load_run(nan)
    _rehash(nan)  # NaN weights are refused even when the hash says they were written so
    name = _edit_weights(nan, lambda a: a)
    _rehash(nan)
    with pytest.raises(RunError, match=f"has 64 non-finite value\\(s\\) \\(NaN/inf\\) in tensor {name}"):
        load_run(nan)
    finite = _broken_copy(tiny_run, tmp_path, "finite")
    _edit_weights(finite, lambda a: a * 1.01)
    with pytest.raises(RunError, match="does not match the SHA-256 recorded"):
        load_run(finite)
    assert load_run(tiny_run).warnings == [], "an intact run loads without warnings"


def test_config_that_does_not_match_the_code(tiny_run, tmp_path):
    unknown = _broken_copy(tiny_run, tmp_path, "unknown-encoder")
    cfg = json.loads((unknown / "config.json").read_text())
    cfg["model"]["ehr_encoder"] = "lstm9"
    (unknown / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunError, match="does not match this code: unknown ehr encoder 'lstm9'"):
        load_run(unknown)
    resized = _broken_copy(tiny_run, tmp_path, "resized")
    cfg = json.loads((resized / "config.json").read_text())
    cfg["model"]["d_model"] = 24
    (resized / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunError, match="describes another network than its weights were trained as"):
        load_run(resized)
    cfg.pop("spec_sha256")  # without the spec hash, building the network finds the mismatch
    (resized / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunError, match="does not match its config.json"):
        load_run(resized).model
    broken_json = _broken_copy(tiny_run, tmp_path, "json")
    (broken_json / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="not valid JSON"):
        load_run(broken_json)
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "no-such-run")


def test_existing_run_is_not_overwritten_without_asking(tiny_run, tiny_cohort):
    before = (tiny_run / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        train(tiny_cohort, tiny_run, tiny_config(), device="cpu")
    assert (tiny_run / "model.safetensors").read_bytes() == before


def test_invalid_training_options():
    with pytest.raises(ConfigError, match="unknown ehr encoder"):
        tiny_config(encoders="nope+resnet1d")
    with pytest.raises(ConfigError, match="not supported yet"):
        tiny_config(task="classification")
    with pytest.raises(ConfigError, match="divisible"):
        tiny_config(d_model=15, attention_heads=2)
