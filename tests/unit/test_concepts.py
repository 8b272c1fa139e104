"""Concept probes per level: the stored file, the CLI for older runs, a shuffled-label control,
labels in the explanation and on the level chart, the heatmap on the model page."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lemof import open_bundle
from lemof.cli import main
from lemof.errors import RunError
from lemof.explain.concepts import THRESHOLDS, level_labels, probe
from lemof.runs.concepts_file import CONCEPTS_FILE, read_level_concepts
from lemof.runs.load import load_run


def _check_well_formed(obj: dict, levels: list[str]) -> None:
    assert set(obj["levels"]) == set(levels)
    assert obj["concepts"] and all(c["kind"] in ("binary", "continuous") and c["definition"] for c in obj["concepts"].values())
    scored = 0
    for scores in obj["levels"].values():
        for name, s in scores.items():
            kind = obj["concepts"][name]["kind"]
            assert s["n"] > 0
            assert s["lo"] <= s["score"] <= s["hi"] or np.isclose(s["lo"], s["hi"])
            if kind == "binary":
                assert 0.0 <= s["lo"] and s["hi"] <= 1.0
            else:
                assert s["hi"] <= 1.0
            scored += 1
    assert scored >= len(levels), "most levels are probed for at least one concept"


def test_training_stores_level_concepts(tiny_run):
    run = load_run(tiny_run)
    obj = json.loads((tiny_run / CONCEPTS_FILE).read_text())
    _check_well_formed(obj, run.level_importance.all_levels)
    assert run.level_concepts == obj
    assert {"AF", "severity", "infection"} <= set(obj["concepts"])


def test_cli_writes_concepts_for_a_run_without(tiny_run, tiny_cohort, tmp_path, capsys):
    old = tmp_path / "old-run"
    shutil.copytree(tiny_run, old)
    (old / CONCEPTS_FILE).unlink()
    assert load_run(old).level_concepts is None
    assert main(["concepts", "--run", str(old), "--data", str(tiny_cohort), "--bootstrap", "20"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["written"].endswith(CONCEPTS_FILE)
    run = load_run(old)
    _check_well_formed(run.level_concepts, run.level_importance.all_levels)
    assert set(printed["levels"]) == set(run.level_importance.all_levels)


def test_cli_refuses_another_cohort(tiny_run, tmp_path, capsys):
    from lemof.data.synthetic import generate_synthetic

    other = tmp_path / "other"
    generate_synthetic(other, n=60, seed=5)
    assert main(["concepts", "--run", str(tiny_run), "--data", str(other)]) == 2
    assert "was trained on cohort" in capsys.readouterr().err


def test_probe_finds_a_signal_and_a_shuffled_label_scores_near_chance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 16))
    y = (x[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(float)
    real = probe(x, y, "binary", n_boot=50)
    shuffled = probe(x, rng.permutation(y), "binary", n_boot=50)
    assert real["score"] > 0.9
    assert abs(shuffled["score"] - 0.5) < 0.08
    assert shuffled["lo"] < 0.5 < shuffled["hi"] or abs(shuffled["score"] - 0.5) < 0.05
    r = x[:, 1] * 2 + rng.normal(size=600)
    assert probe(x, r, "continuous", n_boot=20)["score"] > 0.6
    assert probe(x, rng.permutation(r), "continuous", n_boot=20)["score"] < 0.05


def test_shuffled_latent_cause_on_the_tiny_run_scores_near_chance(tiny_run, tiny_cohort):
    from lemof.explain.concepts import cohort_concepts, level_representations

    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    _, values = cohort_concepts(bundle)
    rows = np.arange(len(bundle))
    x = level_representations(run.model, run.preprocessor, bundle, rows)["ehr.L1"]
    y = values["infection"].to_numpy()
    real = probe(x, y, "binary", n_boot=20)
    control = probe(x, np.random.default_rng(1).permutation(y), "binary", n_boot=20)
    assert abs(control["score"] - 0.5) < 0.12, control
    assert real["score"] > control["score"]


def test_labels_use_the_thresholds():
    obj = {
        "concepts": {"a": {"definition": "A", "kind": "binary"}, "b": {"definition": "B", "kind": "continuous"}, "c": {"definition": "C", "kind": "binary"}},
        "levels": {
            "ehr.L1": {"a": {"score": 0.95, "lo": 0.9, "hi": 0.99, "n": 100}, "b": {"score": 0.5, "lo": 0.4, "hi": 0.6, "n": 100}, "c": {"score": 0.85, "lo": 0.8, "hi": 0.9, "n": 100}},
            "ehr.L2": {"a": {"score": THRESHOLDS["binary"] - 0.01, "lo": 0.7, "hi": 0.85, "n": 100}},
        },
    }
    labels = level_labels(obj, ["ehr.L1", "ehr.L2", "sig.L1"])
    # ehr.L1: a (AUROC 0.95, strength 0.75) beats c (0.85 -> 0.25); ehr.L2 just under the threshold: nothing
    assert labels == {"ehr.L1": "best probe: a, AUROC 0.95", "ehr.L2": "", "sig.L1": ""}


def test_malformed_file_is_a_one_line_error(tmp_path):
    path = tmp_path / CONCEPTS_FILE
    path.write_text(json.dumps({"concepts": {"a": {"definition": "A", "kind": "ordinal"}}, "levels": {}}))
    with pytest.raises(RunError, match="malformed"):
        read_level_concepts(path)


def test_labels_in_explain_json_and_on_the_level_chart(tiny_run, tiny_cohort, stay_ids, capsys):
    from lemof.explain.results import CohortResults
    from lemof.plots import level_shap_figure

    assert main(["explain", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"])]) == 0
    out = json.loads(capsys.readouterr().out)
    run = load_run(tiny_run)
    expected = level_labels(run.level_concepts, run.level_importance.all_levels)
    assert out["concepts"] == expected
    stay = CohortResults(run, open_bundle(tiny_cohort)).stay(stay_ids["with_signal"])
    ticks = [y for trace in level_shap_figure(stay.attribute("level_shap"), concepts=stay.concepts).to_dict()["data"] for y in (trace.get("y") or [])]
    for level, label in expected.items():
        if label:
            assert any(label in t for t in ticks), (level, label, ticks)
    assert not any(" · " in t for t in ticks), "a '·' suffix reads as a fact about the patient"


def test_shipped_synthetic_run_names_its_ecg_levels(default_cohort):
    """The shipped run's stored probes: ECG levels encode the ECG-borne causes, EHR levels the EHR-borne ones."""
    from testkit.paths import SHIPPED_RUN

    run = load_run(SHIPPED_RUN)
    assert run.level_concepts is not None
    levels = run.level_concepts["levels"]
    assert levels["sig.L1"]["wide QRS"]["score"] > levels["ehr.L1"]["wide QRS"]["score"]
    assert levels["ehr.L1"]["renal"]["score"] > levels["sig.L1"]["renal"]["score"]
