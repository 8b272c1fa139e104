"""AppTest: the Benchmark evidence page draws the grids' forest plots and the level pairs from the
committed result files, and says so when a file cannot be read."""

from __future__ import annotations

import json
import shutil

from streamlit.testing.v1 import AppTest

from testkit.apptest import charts, no_failures
from testkit.paths import REPO
from lemof.evaluation.benchmark_results import read_evidence, results_dir


def _evidence() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["page"] = "evidence"
    return at.run()


def test_forest_plots_and_level_pairs_from_the_result_files(default_cohort):
    ev = read_evidence()
    assert ev.problems == [] and len(ev.panels) >= 4 and ev.level_pairs is not None
    at = _evidence()
    no_failures(at)
    assert at.title[0].value == "Benchmark evidence"
    assert any("vs LeMoF" in t for t in charts(at))
    box = [s for s in at.selectbox if s.label == "Grid and cohort"][0]
    external = [t for t in box.options if "scored on every stay" in t][0]
    box.set_value(external).run()
    no_failures(at)
    # a grid with LeMoF + tabular head is drawn against it by default, and against LeMoF on request
    with_head = [t for t in box.options if t.startswith("grid-external-tab:") and "scored on every stay" in t][0]
    box.set_value(with_head).run()
    no_failures(at)
    reference = [b for b in at.button_group if b.label == "Compared with"]
    assert reference and reference[0].value == "lemof_tab"
    assert any("vs LeMoF + tabular head" in t for t in charts(at))
    reference[0].set_value("lemof").run()
    no_failures(at)
    assert any("vs LeMoF," in t for t in charts(at)) and not any("vs LeMoF + tabular head" in t for t in charts(at))
    at.button_group(key="evidence_view").set_value("Level guidance: every level pair").run()
    no_failures(at)
    assert any("level pairs" in t and "Shapley choice ranks" in t for t in charts(at))
    text = " ".join(m.value for m in at.markdown)
    assert "ranks" in text and "the average pair" in text


def test_an_unreadable_result_file_is_reported(default_cohort, tmp_path, monkeypatch):
    copy = tmp_path / "results"
    shutil.copytree(results_dir() / "grid-seeds3-physionet", copy / "grid-seeds3-physionet")
    (copy / "level_pairs.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("LEMOF_BENCHMARK_RESULTS", str(copy))
    ev = read_evidence()
    assert len(ev.panels) == 1 and ev.level_pairs is None and "level_pairs.json" in ev.problems[0]
    at = _evidence()
    no_failures(at)
    assert any("cannot be read" in w.value and "level" in w.value for w in at.warning)
    assert json.loads((copy / "grid-seeds3-physionet" / "report.json").read_text())  # untouched
