"""The command line: JSON on success, one readable line and a non-zero exit on bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testkit.cohorts import copy_bundle, inject_nan
from testkit.fresh import lemof_cli


def _one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_explain_prints_one_json_object(tiny_run, tiny_cohort, stay_ids):
    proc = lemof_cli("explain", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"]))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"prediction", "explanations", "drivers", "attention", "similar", "concepts", "ecg"}
    assert {"stay_id", "los_days", "interval_days", "origin"} <= set(out["prediction"])
    assert list(out["explanations"]) == ["drivers", "level_shap", "heads"]
    for attr in out["explanations"].values():  # one shape for every additive explanation
        assert set(attr) == {"method", "title", "explains", "unit", "base", "base_label", "output", "parts", "residual", "tolerance", "detail", "note"}
        total = attr["base"] + sum(p["value"] for p in attr["parts"] if p["value"] is not None) + attr["residual"]
        assert abs(total - attr["output"]) <= attr["tolerance"]
    heads = out["explanations"]["heads"]
    assert {p["group"] for p in heads["parts"]} <= {"modality-level", "cross-modal", "level-specific"}
    assert len(out["attention"]["ehr_to_sig"]["shape"]) == 3 and "per_head" not in out["attention"]["ehr_to_sig"]


def test_unknown_stay(tiny_run, tiny_cohort):
    _one_error_line(lemof_cli("explain", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", "999"), "stay 999 is not in cohort")


def test_evaluate_prints_metrics(tiny_run, tiny_cohort):
    proc = lemof_cli("evaluate", "--run", str(tiny_run), "--data", str(tiny_cohort), "--split", "all")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["split"] == "all" and out["model"]["n"] == 300
    assert out["baseline_train_median"]["mae_days"] > 0
    assert out["relation"]["kind"] == "own" and not out["relation"]["external"]  # its own cohort: "all" includes its training stays


def test_evaluate_on_another_draw_says_it_is_external(tiny_run, tmp_path):
    from lemof.data.synthetic import generate_synthetic

    generate_synthetic(tmp_path / "draw", n=40, seed=5)
    proc = lemof_cli("evaluate", "--run", str(tiny_run), "--data", str(tmp_path / "draw"), "--split", "all")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["relation"]["external"] and out["relation"]["n_stays_seen_in_training"] == 0 and out["model"]["n"] == 40
    assert out["relation"]["note"].startswith("External validation:")


def test_corrupt_run_and_bad_cohort(tiny_run, tiny_cohort, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "model.safetensors").write_bytes(b"\x00" * 100)
    _one_error_line(lemof_cli("evaluate", "--run", str(run), "--data", str(tiny_cohort)), "model.safetensors", "changed or damaged")
    bad = copy_bundle(tiny_cohort, tmp_path / "nan")
    inject_nan(bad)
    _one_error_line(lemof_cli("evaluate", "--run", str(tiny_run), "--data", str(bad)), "NaN")


def test_train_rejects_unknown_encoder_and_existing_output(tiny_cohort, tiny_run):
    _one_error_line(lemof_cli("train", "--data", str(tiny_cohort), "--encoders", "gru+wavenet", "--out", "/tmp/never"), "unknown sig encoder 'wavenet'")
    _one_error_line(lemof_cli("train", "--data", str(tiny_cohort), "--out", str(tiny_run)), "already exists")


def test_data_synthetic_writes_a_bundle(tmp_path):
    proc = lemof_cli("data", "synthetic", "--n", "40", "--seed", "3", "--out", str(tmp_path / "c"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n"] == 40
    _one_error_line(lemof_cli("data", "synthetic", "--n", "40", "--out", str(tmp_path / "c"), "--quiet"), "already exists")


def test_nan_weights_exit_2_and_every_json_is_strict(tiny_run, tiny_cohort, stay_ids, tmp_path):
    import shutil

    from tests.unit.test_training import _edit_weights, _nan64, _rehash

    run = tmp_path / "nan-run"
    shutil.copytree(tiny_run, run)
    _edit_weights(run, _nan64)
    _rehash(run)
    for cmd in ("explain", "evaluate"):
        extra = ["--stay", str(stay_ids["without_signal"])] if cmd == "explain" else []
        _one_error_line(lemof_cli(cmd, "--run", str(run), "--data", str(tiny_cohort), *extra), "non-finite", "NaN/inf")
    # a stay without a biosignal has absent heads: they print as null, never as a bare NaN
    proc = lemof_cli("explain", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["without_signal"]))
    assert proc.returncode == 0, proc.stderr
    assert "NaN" not in proc.stdout and "Infinity" not in proc.stdout
    out = json.loads(proc.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    heads = {p["name"]: p["value"] for p in out["explanations"]["heads"]["parts"]}
    assert heads["sig.global"] is None and out["attention"] is None


def test_data_synthetic_ecg_knob(tmp_path):
    proc = lemof_cli("data", "synthetic", "--n", "40", "--ecg-strength", "2", "--ecg-focus", "rhythm", "--out", str(tmp_path / "k"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ecg_strength"] == 2.0 and out["ecg_focus"] == "rhythm"
    prov = json.loads((tmp_path / "k" / "provenance.json").read_text())
    assert prov["name"] == "synthetic-n40-seed0-ecg2.0-rhythm" and prov["ecg_knob"]["ecg_focus"] == "rhythm"
    _one_error_line(lemof_cli("data", "synthetic", "--n", "40", "--ecg-focus", "beat", "--out", str(tmp_path / "b"), "--quiet"),
                    "ecg_focus must be one of both, morphology, rhythm", "'beat'")
    _one_error_line(lemof_cli("data", "synthetic", "--n", "40", "--ecg-strength", "9", "--out", str(tmp_path / "b"), "--quiet"),
                    "ecg_strength must be at most")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", [
    ["data", "synthetic", "--n", "10"], ["data", "physionet2012"], ["data", "vendor-physionet2012", "--source", "x"],
    ["data", "mimic", "--mimic-dir", "x"], ["train", "--data", "x"], ["report", "--run", "x", "--data", "x", "--stay", "1"],
])
def test_every_output_path_that_cannot_be_written_is_one_line_before_any_work(command, tmp_path):
    """Every command with ``--out`` checks it first (before reading its inputs: ``x`` is none)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    outs = [blocker / "out"] + ([Path("/proc/zz")] if Path("/proc").is_dir() else [])  # a file as a folder; a virtual file system
    for out in outs:
        _one_error_line(lemof_cli(*command, "--out", str(out)), f"cannot write the output {'file' if command[0] == 'report' else 'folder'} {out}")
    assert blocker.read_text() == "x" and not list(tmp_path.glob(".lemof-probe*"))


def test_an_unwritable_progress_file_is_refused_before_training(tiny_cohort, tmp_path):
    out = tmp_path / "run"
    _one_error_line(lemof_cli("train", "--data", str(tiny_cohort), "--out", str(out), "--progress-file", "/proc/progress.json" if Path("/proc").is_dir() else str(tmp_path)),
                    "cannot write the progress file")
    assert not out.exists()
