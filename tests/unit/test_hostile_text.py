"""Cohort and run text is shown, never obeyed: a bundle whose every text field carries
script-injection payloads (``tests/fixtures/hostile_bundle.py``) gives a case report with only
Plotly's own scripts and no injected element or attribute, figures whose text is escaped, and
app pages that run without failing and show the payloads as text.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from testkit.paths import REPO
from testkit.hostile import REPORT_TAGS, ReportHtml, figure_texts, newplot_figures, plotly_script_kind, raw_payloads, stay_in
from lemof import load_run, open_bundle
from lemof.plots.text import literal, plain
from lemof.report import report_file_name, write_case_report
from tests.fixtures.hostile_bundle import (
    CARE_UNITS,
    CITATION,
    COHORT_NAME,
    GBM_RUN_ID,
    LEMOF_RUN_ID,
    PAYLOADS,
    READABLE,
    SIGNAL_SHORT_LABEL,
    SOURCE,
)


@pytest.mark.parametrize("text", [*PAYLOADS, *READABLE, "plain", "a & b &amp; c", "it's \"quoted\"", "&#60;", ""])
def test_literal_escapes_markup_and_plain_undoes_it(text):
    escaped = literal(text)
    assert not set(escaped) & set("<>\"'"), "no character that starts or ends markup or an attribute"
    assert plain(escaped) == text, "read back exactly as written: nothing lost, nothing escaped twice"


def test_readable_names_are_left_alone():
    assert literal("MICU/SICU") == "MICU/SICU" and literal("Ca++ & Mg") == "Ca++ &amp; Mg"


def _check_report(text: str, bundle, stay_id: int) -> ReportHtml:
    """Only Plotly's scripts, no injected element or on* attribute, figure text escaped, and the
    stay's cohort text shown literally."""
    page = ReportHtml(text)
    tags = {tag for tag, _ in page.elements}
    assert tags <= REPORT_TAGS, f"elements the report does not write: {tags - REPORT_TAGS}"
    handlers = [(tag, name) for tag, attrs in page.elements for name, _ in attrs if name.lower().startswith("on")]
    assert handlers == [], "no element has an event-handler attribute"
    kinds = [plotly_script_kind(s) for s in page.scripts]
    assert None not in kinds, [s[:80] for s, k in zip(page.scripts, kinds) if k is None]
    assert kinds.count("library") == 1 and kinds.count("figure") == text.count('class="plotly-graph-div"') >= 3
    figures = [f for s in page.scripts for f in newplot_figures(s)]
    assert len(figures) == kinds.count("figure")
    texts = [t for f in figures for t in figure_texts(f)]
    assert raw_payloads(texts) == [], "figure text holds no payload unescaped"
    assert any(literal(SIGNAL_SHORT_LABEL) in t for t in texts), "the biosignal's label reaches the figures, escaped"
    assert any("&lt;script&gt;window.__pwned=1&lt;/script&gt;" in t for t in texts), "feature labels reach the figures, escaped once"
    row = bundle.stays.set_index("stay_id").loc[stay_id]
    for shown in (COHORT_NAME, SOURCE, CITATION, row["first_careunit"], row["admission_type"], row["sex"]):
        assert shown in page.text, f"{shown!r} is shown as written"
    assert "&amp;" not in page.text and "&lt;" not in page.text, "nothing is escaped twice"
    return page


def test_case_report_of_the_hostile_cohort_runs_no_script(hostile_cohort, hostile_runs, tmp_path):
    bundle = open_bundle(hostile_cohort)
    stay = stay_in(bundle, CARE_UNITS["CCU"])  # "CCU <script>…"
    out = write_case_report(load_run(hostile_runs / LEMOF_RUN_ID), bundle, stay, tmp_path / "report.html", user="test")
    page = _check_report(out.read_text(encoding="utf-8"), bundle, stay)
    assert LEMOF_RUN_ID in page.text


def test_case_report_from_the_cli_runs_no_script(hostile_cohort, hostile_runs, tmp_path):
    bundle = open_bundle(hostile_cohort)
    stay = stay_in(bundle, READABLE[1])  # "Ca++ & Mg"
    out = tmp_path / "cli-report.html"
    proc = subprocess.run([sys.executable, "-m", "lemof", "report", "--run", str(hostile_runs / GBM_RUN_ID), "--data", str(hostile_cohort),
                           "--stay", str(stay), "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    page = _check_report(text, bundle, stay)
    assert "Ca++ &amp; Mg" in text and "Ca++ & Mg" in page.text, "escaped once in the file, read right"
    assert GBM_RUN_ID in page.text and "TreeSHAP" in page.text


def test_report_file_name_is_one_safe_component():
    assert report_file_name(30000001, "synthetic-gru+resnet1d") == "case-report-30000001-synthetic-gru+resnet1d.html"
    assert report_file_name(7, LEMOF_RUN_ID) == "case-report-7-lemof-img-src-x-onerror-window.__pwned-1.html"
    assert "/" not in report_file_name(7, "../../etc/passwd") and ".." not in report_file_name(7, "../../etc/passwd")
