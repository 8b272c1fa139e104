"""Every fusion method trains with the same recipe, writes a complete run and is used as what it is."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from testkit.paths import REPO
from testkit.cohorts import tiny_config
from lemof import FUSIONS, CohortResults, RunError, evaluate_run, explain_stay, load_run, open_bundle, predict_stay
from lemof.errors import ConfigError
from lemof.models.fusions import ABLATIONS, BASELINES, fusion_kind


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_writes_a_complete_run(fusion, fusion_runs, tiny_cohort):
    path = fusion_runs[fusion]
    files = {p.name for p in path.iterdir()}
    kind = fusion_kind(fusion)
    assert {"config.json", "metrics.json", "predictions.parquet", "train.log"} <= files
    assert ("model.safetensors" in files) == (kind != "tabular")
    assert ("model.lgb.txt" in files) == (kind == "tabular"), "the tabular peer keeps its trees as LightGBM text (no pickle)"
    assert ("level_shap.parquet" in files) == (kind == "lemof")
    run = load_run(path)
    config = json.loads((path / "config.json").read_text())
    assert config["fusion"] == fusion and config["train"]["seed"] == 0 and config["device"] == "cpu"
    assert config["cohort"]["fingerprint"] == open_bundle(tiny_cohort).fingerprint and config["training_seconds"] > 0
    m = run.metrics.test.model
    for value in (m.mae_days, m.rmse_days, m.kappa_linear_10bucket, m.auroc_los_gt7, m.auprc_los_gt7, m.interval_coverage):
        assert value is not None and np.isfinite(value)
    bundle = open_bundle(tiny_cohort)
    assert len(run.predictions) == len(bundle) and set(run.predictions["stay_id"]) == set(bundle.stays["stay_id"])
    p = run.predictions
    assert ((p["interval_low_days"] <= p["los_days"]) & (p["los_days"] <= p["interval_high_days"])).all()


@pytest.mark.parametrize("fusion", FUSIONS)
def test_a_loaded_model_reproduces_its_recorded_metrics(fusion, fusion_runs, tiny_cohort):
    run, bundle = load_run(fusion_runs[fusion]), open_bundle(tiny_cohort)
    again = evaluate_run(run, bundle, "test")["model"]
    for key, value in run.metrics.test.model.to_dict().items():
        assert again[key] == pytest.approx(value, abs=1e-5), key


@pytest.mark.parametrize("fusion", BASELINES + ("gbm",))
def test_lemof_explanations_do_not_apply_to_a_baseline(fusion, fusion_runs, tiny_cohort, stay_ids):
    run, bundle = load_run(fusion_runs[fusion]), open_bundle(tiny_cohort)
    stay = CohortResults(run, bundle).stay(stay_ids["with_signal"])
    assert "level_shap" not in explain_stay(run, bundle, stay_ids["with_signal"])
    for name in ("level_shap", "heads"):
        with pytest.raises(RunError, match="does not explain run"):
            stay.attribute(name)
    with pytest.raises(RunError, match=f"is the '{fusion}' baseline"):
        stay.attention
    p = predict_stay(run, bundle, stay_ids["without_signal"])
    assert not p.has_signal and p.interval_days[0] <= p.los_days <= p.interval_days[1]


@pytest.mark.parametrize("fusion", BASELINES)
def test_integrated_gradients_work_for_a_neural_baseline(fusion, fusion_runs, tiny_cohort, stay_ids):
    from lemof import input_attributions

    attr = input_attributions(load_run(fusion_runs[fusion]), open_bundle(tiny_cohort), stay_ids["with_signal"])
    assert abs(attr.total - (attr.output - attr.reference_output)) < 0.05 * max(abs(attr.output - attr.reference_output), 0.05)


def test_ablations_change_what_they_say(fusion_runs):
    runs = {f: load_run(fusion_runs[f]) for f in ("lemof",) + ABLATIONS}
    levels = {m: len(runs["lemof"].level_importance.levels[m]) for m in ("ehr", "sig")}
    assert runs["all_levels"].spec.selected_levels == {m: list(range(n)) for m, n in levels.items()}
    assert runs["last_level"].spec.selected_levels == {m: [n - 1] for m, n in levels.items()}
    assert all(len(v) == 1 for v in runs["random_level"].spec.selected_levels.values())
    assert [h.kind for h in runs["no_global"].heads].count("modality-level") == 0
    for report in runs["no_meta"].meta_weights:
        assert report.bias == 0 and report.weights["fusion"] == 1 and sum(report.weights.values()) == 1
    lemof_weights = {r.pattern: r.weights for r in runs["lemof"].meta_weights}
    assert any(w != 0 for k, w in lemof_weights["ehr+sig"].items() if k != "fusion"), "LeMoF's meta-learner uses more than the fused head"


def test_random_level_is_reproducible_and_depends_on_the_seed():
    from lemof.training.stage2 import select_levels

    importance = {"ehr": [0.1, 0.3, 0.2], "sig": [0.05, 0.4, 0.1, 0.2]}
    draws = {seed: select_levels(importance, 1, "random", seed)[0] for seed in range(12)}
    assert draws[3] == select_levels(importance, 1, "random", 3)[0]
    assert len({json.dumps(d) for d in draws.values()}) > 1
    assert select_levels(importance, 1, "shap", 0)[0] == {"ehr": [1], "sig": [1]}


def test_unknown_fusion_and_a_signal_too_short_for_the_encoder(tiny_cohort):
    with pytest.raises(ConfigError, match="unknown fusion 'concat9'; available: lemof"):
        tiny_config(fusion="concat9")
    proc = subprocess.run(
        [sys.executable, "-m", "lemof", "train", "--data", str(tiny_cohort), "--fusion", "early", "--encoders", "gru+tcn", "--out", "/tmp/never-written",
         "--config", str(REPO / "tests" / "data" / "long_pool.json")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: sig encoder 'tcn': input length") and "too short" in lines[0]


def test_explain_of_a_baseline_prints_what_applies_to_it(fusion_runs, tiny_cohort, stay_ids):
    proc = subprocess.run(
        [sys.executable, "-m", "lemof", "explain", "--run", str(fusion_runs["mmtm"]), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"])],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out["explanations"]) == ["drivers"] and "level_shap" not in out and "attention" not in out, "the baseline's explanations only"
    assert out["drivers"]["items"] and out["prediction"]["fusion"] == "mmtm"


@pytest.mark.parametrize("fusion", [f for f in FUSIONS if fusion_kind(f) != "tabular"])
def test_every_neural_fusion_has_a_registered_network(fusion, fusion_runs):
    from lemof.models.networks import create_model

    spec = load_run(fusion_runs[fusion]).spec
    model = create_model(spec)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_create_model_fails_loudly_on_a_name_without_a_network(fusion_runs):
    import dataclasses

    from lemof.models.networks import create_model

    spec = load_run(fusion_runs["lemof"]).spec
    for name, message in (("nope", "unknown fusion 'nope'"), ("gbm", "tabular: it has no network")):
        with pytest.raises(ConfigError, match=message):
            create_model(dataclasses.replace(spec, fusion=name))
