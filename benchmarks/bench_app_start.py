"""App cold start: from `streamlit run app.py` to the case-review page being interactive.

Measured in Debian's Chromium: process start -> /_stcore/health -> page script finished and
every Plotly chart drawn. The default cohort must already be generated (first use is slower).

    python benchmarks/bench_app_start.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, save

sys.path.insert(0, str(REPO / "tests"))
from browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_for_charts, wait_until_idle  # noqa: E402

from lemof.data.synthetic import ensure_synthetic  # noqa: E402


VIEWPORT = {"width": 1600, "height": 2400}


def visit(browser, url: str, context=None) -> float:
    """Seconds from opening ``url`` until every chart is drawn (a fresh browser context unless given)."""
    t = time.perf_counter()
    page = context.new_page() if context is not None else browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    wait_until_idle(page)
    wait_for_charts(page, 5)
    page.close()
    return time.perf_counter() - t


def once(browser) -> dict:
    t0 = time.perf_counter()
    with streamlit_server() as url:
        healthy = time.perf_counter() - t0
        context = browser.new_context(viewport=VIEWPORT)
        interactive = healthy + visit(browser, url, context)
        warm_visit = visit(browser, url)  # a new visitor (empty browser cache); server and caches warm
        revisit = visit(browser, url, context)  # the first visitor again: browser cache warm too
        context.close()
    return {
        "server_healthy_s": round(healthy, 2),
        "cold_start_to_interactive_s": round(interactive, 2),
        "new_visitor_warm_server_s": round(warm_visit, 2),
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
            cold = healthy + visit(browser, url)
            warm = visit(browser, url)
    return {"cold_start_to_interactive_s": round(cold, 2), "new_visitor_warm_server_s": round(warm, 2)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    ensure_synthetic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = [once(browser) for _ in range(repeats)]
        floor = [trivial_app_floor(browser) for _ in range(repeats)]
        browser.close()
    cold = [r["cold_start_to_interactive_s"] for r in runs]
    save(
        "app_cold_start",
        {
            "runs": runs,
            "median_cold_start_s": statistics.median(cold),
            "median_new_visitor_warm_server_s": statistics.median(r["new_visitor_warm_server_s"] for r in runs),
            "trivial_app_five_plotly_charts": floor,
            "target_s": 5,
        },
    )


if __name__ == "__main__":
    main()
