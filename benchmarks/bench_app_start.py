"""App cold start: from `streamlit run app.py` to the case-review page being interactive.

Measured in Debian's Chromium: process start -> /_stcore/health -> the first paint (prediction,
EHR timeline, level SHAP and head waterfall drawn from the run's stored results) -> every chart
drawn (the ECG strip and the attention map need the network). The same harness measures a
trivial app with five tiny Plotly charts, this machine's floor. The default cohort must already
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
from testkit.browser import chromium, streamlit_server, time_page
from testkit.cohorts import default_cohort

VIEWPORT = {"width": 1600, "height": 2400}
FIRST_PAINT = 3  # EHR timeline, level SHAP, head waterfall: drawn from stored results


def visit(browser, url: str, context=None, charts: int = 5) -> tuple[float, float]:
    """Seconds from opening ``url`` until the first ``FIRST_PAINT`` charts have drawn (the
    prediction's explanation, no network needed) and until all ``charts`` have (a fresh browser
    context unless given)."""
    page = context.new_page() if context is not None else browser.new_page(viewport=VIEWPORT)
    first, ready = time_page(page, url, charts, first_paint=FIRST_PAINT, timeout_ms=120_000)
    page.close()
    return first, ready


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
                "cold_start_all_charts": round(med["cold_start_all_charts_s"] / floor_cold, 2),
                "new_visitor_first_paint": round(med["new_visitor_first_paint_s"] / floor_warm, 2),
                "new_visitor_all_charts": round(med["new_visitor_all_charts_s"] / floor_warm, 2),
            },
            "goal_ratio": 1.3,
        },
    )


if __name__ == "__main__":
    main()
