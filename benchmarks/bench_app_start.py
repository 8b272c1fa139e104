"""App cold start: from `streamlit run app.py` to the case-review page being interactive.

Measured in Debian's Chromium at 1440×900: process start -> /_stcore/health -> the first paint
(the headline: predicted LOS) -> the first screen complete (the reasons in days, the ECG's
findings, the similar stays; read from the run's stored results, nothing below is drawn until
asked for). The same harness measures a trivial app with five tiny Plotly charts, this
machine's floor (ready when its five charts have drawn). The default cohort must already
be generated (first use is slower).

    python -m benchmarks.bench_app_start [repeats]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import save
from testkit.browser import CASE_FIRST_TEXT, CASE_READY_TEXT, chromium, streamlit_server, time_page
from testkit.cohorts import default_cohort

VIEWPORT = {"width": 1440, "height": 900}  # the first screen a clinician sees


def visit(browser, url: str, context=None, case: bool = True) -> tuple[float, float]:
    """Seconds from opening ``url`` until the headline shows (first paint) and until the page is
    ready (a fresh browser context unless given): the case page when its first screen is complete
    (its reasons' sum line shows; nothing below is drawn until asked for), the trivial app when
    its five charts have drawn."""
    page = context.new_page() if context is not None else browser.new_page(viewport=VIEWPORT)
    if case:
        first, ready = time_page(page, url, 0, timeout_ms=120_000, first_text=CASE_FIRST_TEXT, text=CASE_READY_TEXT)
    else:
        first, ready = time_page(page, url, 5, first_paint=5, timeout_ms=120_000)
    page.close()
    return first, ready


def dom_elements(browser, url: str) -> int:
    """DOM elements of the case page once its first screen is drawn (goal ≤ 2,000)."""
    page = browser.new_page(viewport=VIEWPORT)
    time_page(page, url, 0, timeout_ms=120_000, text=CASE_READY_TEXT)
    n = int(page.evaluate("document.querySelectorAll('*').length"))
    page.close()
    return n


def once(browser) -> dict:
    t0 = time.perf_counter()
    with streamlit_server() as url:
        healthy = time.perf_counter() - t0
        context = browser.new_context(viewport=VIEWPORT)
        cold_first, cold_all = visit(browser, url, context)
        warm_first, warm_all = visit(browser, url)  # a new visitor (empty browser cache); server and caches warm
        revisit = visit(browser, url, context)[1]  # the first visitor again: browser cache warm too
        context.close()
        dom = dom_elements(browser, url)
    return {
        "case_page_dom_elements": dom,
        "server_healthy_s": round(healthy, 2),
        "cold_start_first_paint_s": round(healthy + cold_first, 2),
        "cold_start_ready_s": round(healthy + cold_all, 2),
        "new_visitor_first_paint_s": round(warm_first, 2),
        "new_visitor_ready_s": round(warm_all, 2),
        "revisit_same_browser_s": round(revisit, 2),
    }


TRIVIAL_APP = """
import plotly.graph_objects as go
import streamlit as st
st.title("five small charts")
for i in range(5):
    st.plotly_chart(go.Figure(go.Bar(x=[1, 2, 3], y=[1, 3, 2])), key=f"c{i}")
"""


def trivial_app_floor(browser) -> dict:
    """The same measurement for a trivial app with five tiny Plotly charts: this machine's floor."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "trivial.py"
        script.write_text(TRIVIAL_APP)
        t0 = time.perf_counter()
        with streamlit_server(script=script) as url:
            healthy = time.perf_counter() - t0
            cold = healthy + visit(browser, url, case=False)[1]
            warm = visit(browser, url, case=False)[1]
    return {"cold_start_s": round(cold, 2), "new_visitor_s": round(warm, 2)}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    default_cohort()
    with chromium() as browser:
        runs = [once(browser) for _ in range(repeats)]
        floor = [trivial_app_floor(browser) for _ in range(repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floor_cold = statistics.median(f["cold_start_s"] for f in floor)
    floor_warm = statistics.median(f["new_visitor_s"] for f in floor)
    save(
        "app_cold_start",
        {
            "runs": runs,
            "median": med,
            "trivial_app_five_plotly_charts": floor,
            "ratio_to_trivial": {
                "cold_start_first_paint": round(med["cold_start_first_paint_s"] / floor_cold, 2),
                "cold_start_ready": round(med["cold_start_ready_s"] / floor_cold, 2),
                "new_visitor_first_paint": round(med["new_visitor_first_paint_s"] / floor_warm, 2),
                "new_visitor_ready": round(med["new_visitor_ready_s"] / floor_warm, 2),
            },
            "goal_ratio": 1.3,
        },
    )


if __name__ == "__main__":
    main()
