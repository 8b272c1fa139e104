"""The case report (``python -m lemof report``) is one self-contained file that Chromium opens
offline; the rest of the case-review tools are tested in ``tests/unit/test_case_extras.py``."""

from __future__ import annotations

from testkit.fresh import lemof_cli


def test_case_report_is_self_contained_and_opens_offline(tiny_run, tiny_cohort, stay_ids, tmp_path, browser):
    out = tmp_path / "report.html"
    proc = lemof_cli("report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    n_figures = text.count('class="plotly-graph-div"')
    assert n_figures == 7, "timeline, the ECG sheet shaded by its attribution, EHR / static attribution, heads, level SHAP, attention"
    assert "<script src=" not in text and text.count("Why this prediction") == 1 and "lemof " in text
    for needle in ("Predicted length of stay", "% interval", "everything else =", str(stay_ids["with_signal"])):
        assert needle in text
    assert "Observed length of stay" not in text, "a prospective review unless --outcomes"

    outside = []
    page = browser.new_page()

    def block(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", block)
    page.goto(out.as_uri())
    page.wait_for_function(f"() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= {n_figures}", timeout=60_000)
    page.close()
    assert outside == [], "the report asks for nothing outside itself"
