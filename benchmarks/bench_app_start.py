"""App cold start: from `streamlit run app.py` to the case-review page being interactive.

Measured in Debian's Chromium: process start -> /_stcore/health -> the first paint (prediction,
EHR timeline, level SHAP and head waterfall drawn from the run's stored results) -> every chart
drawn (the ECG strip and the attention map need the network). The same harness measures a
trivial app with five tiny Plotly charts, this machine's floor. The default cohort must already
be generated (first use is slower).

    python benchmarks/bench_app_start.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, save

from tests.browser import CHARTS_READY_JS, CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_for_charts, wait_until_idle  # _common put the repository root on sys.path

from lemof.data.synthetic import ensure_synthetic  # noqa: E402


VIEWPORT = {"width": 1600, "height": 2400}
FIRST_PAINT = 3  # EHR timeline, level SHAP, head waterfall: drawn from stored results


def visit(browser, url: str, context=None, charts: int = 5) -> tuple[float, float]:
    """Seconds from opening ``url`` until the first ``FIRST_PAINT`` charts have drawn (the
    prediction's explanation, no network needed) and until all ``charts`` have (a fresh browser
    context unless given)."""
    t = time.perf_counter()
    page = context.new_page() if context is not None else browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.wait_for_function(CHARTS_READY_JS.replace("&& !document.querySelector('[data-testid=\"stStatusWidget\"]')", ""), arg=min(FIRST_PAINT, charts), timeout=120_000)
    first = time.perf_counter() - t
    wait_until_idle(page)
    wait_for_charts(page, charts)
    page.close()
    return first, time.perf_counter() - t


def once(browser) -> dict:
    t0 = time.perf_counter()
    with streamlit_server() as url:
        healthy = time.perf_counter() - t0
        context = browser.new_context(viewport=VIEWPORT)
        cold_first, cold_all = visit(browser, url, context)
        warm_first, warm_all = visit(browser, url)  # a new visitor (empty browser cache); server and caches warm
        revisit = visit(browser, url, context)[1]  # the first visitor again: browser cache warm too
        context.close()
    return {
        "server_healthy_s": round(healthy, 2),
        "cold_start_first_paint_s": round(healthy + cold_first, 2),
        "cold_start_all_charts_s": round(healthy + cold_all, 2),
        "new_visitor_first_paint_s": round(warm_first, 2),
        "new_visitor_all_charts_s": round(warm_all, 2),
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
            cold = healthy + visit(browser, url)[1]
            warm = visit(browser, url)[1]
    return {"cold_start_s": round(cold, 2), "new_visitor_s": round(warm, 2)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    ensure_synthetic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = [once(browser) for _ in range(repeats)]
        floor = [trivial_app_floor(browser) for _ in range(repeats)]
        browser.close()
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
                "cold_start_all_charts": round(med["cold_start_all_charts_s"] / floor_cold, 2),
                "new_visitor_first_paint": round(med["new_visitor_first_paint_s"] / floor_warm, 2),
                "new_visitor_all_charts": round(med["new_visitor_all_charts_s"] / floor_warm, 2),
            },
            "goal_ratio": 1.3,
        },
    )


if __name__ == "__main__":
    main()
