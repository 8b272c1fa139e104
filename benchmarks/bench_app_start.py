"""App cold start: from `streamlit run app.py` to the case-review page being interactive.

Measured in Debian's Chromium: process start -> /_stcore/health -> page script finished and
every Plotly chart drawn. The default cohort must already be generated (first use is slower).

    python benchmarks/bench_app_start.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time

from _common import REPO, save

sys.path.insert(0, str(REPO / "tests"))
from browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_until_idle  # noqa: E402

from lemof.data.synthetic import ensure_synthetic  # noqa: E402


def visit(browser, url: str) -> float:
    """Seconds from opening ``url`` in a fresh browser context until every chart is drawn."""
    t = time.perf_counter()
    page = browser.new_page(viewport={"width": 1600, "height": 2400})
    page.goto(url)
    wait_until_idle(page)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= 5", timeout=60_000)
    page.close()
    return time.perf_counter() - t


def once(browser) -> dict:
    t0 = time.perf_counter()
    with streamlit_server() as url:
        healthy = time.perf_counter() - t0
        interactive = healthy + visit(browser, url)
        warm_visit = visit(browser, url)  # a second visitor: server and caches are warm
    return {"server_healthy_s": round(healthy, 2), "cold_start_to_interactive_s": round(interactive, 2), "warm_visit_s": round(warm_visit, 2)}


def main() -> None:
    from playwright.sync_api import sync_playwright

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    ensure_synthetic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = [once(browser) for _ in range(repeats)]
        browser.close()
    cold = [r["cold_start_to_interactive_s"] for r in runs]
    save("app_cold_start", {"runs": runs, "median_cold_start_s": statistics.median(cold), "target_s": 5})


if __name__ == "__main__":
    main()
