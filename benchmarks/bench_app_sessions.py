"""Eight browser sessions at once on one server, each opening a different stay.

Eight Playwright contexts (separate visitors) open eight stays of the synthetic and the
PhysioNet cohorts at the same moment; each session's page-ready time is when all its charts
have drawn (the case page: its first screen, when the reasons' sum line shows). The same harness then opens eight sessions of a trivial app with five tiny Plotly
charts (this machine's floor). Reports p50/p95 page-ready time, the time until all eight are
ready, and the server's peak resident memory (VmHWM).

    python -m benchmarks.bench_app_sessions [sessions]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import save
from benchmarks.bench_app_start import TRIVIAL_APP
from testkit.browser import CASE_READY_TEXT, PAGE_READY_JS, chromium, streamlit_server, time_page
from testkit.cohorts import default_cohort, physionet_cohort

VIEWPORT = {"width": 1600, "height": 1200}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sessions_at_once(browser, urls: list[tuple[str, int, str | None]], timeout_s: float = 300) -> list[float]:
    """Open every (url, charts expected, text expected) in its own context at once; seconds until
    each is ready (``PAGE_READY_JS``: the case page when its reasons' sum line shows)."""
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in urls]
    pages = [c.new_page() for c in contexts]
    t0 = time.perf_counter()
    for page, (url, _, _) in zip(pages, urls):
        page.goto(url, wait_until="commit")
    ready: list[float | None] = [None] * len(pages)
    while any(r is None for r in ready):
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError(f"{sum(r is None for r in ready)} sessions not ready after {timeout_s} s")
        for i, (page, (_, n, text)) in enumerate(zip(pages, urls)):
            if ready[i] is None and page.evaluate(PAGE_READY_JS, [n, text]):
                ready[i] = time.perf_counter() - t0
        time.sleep(0.05)
    for page in pages:
        assert page.locator('[data-testid="stException"]').count() == 0, "an exception was shown"
    for c in contexts:
        c.close()
    return ready


def sequential_visitors(browser, url: str, pid: int, n: int = 5) -> list[dict]:
    """``n`` visitors one after another, each in a new browser context closed before the next
    opens: page-ready time and the server's resident memory after each (a session whose tab
    closed must be released, so neither should grow)."""
    out = []
    for _ in range(n):
        context = browser.new_context(viewport=VIEWPORT)
        ready = time_page(context.new_page(), url, 0, timeout_ms=120_000, text=CASE_READY_TEXT)[1]
        context.close()
        time.sleep(1.0)  # let the server notice the closed websocket
        out.append({"ready_s": round(ready, 2), "server_rss_mb": round(current_rss_mb(pid), 1)})
    return out


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(times: list[float], rss: float) -> dict:
    return {
        "page_ready_s": [round(t, 2) for t in times],
        "p50_s": round(statistics.median(times), 2),
        "p95_s": round(float(np.percentile(times, 95)), 2),
        "all_ready_s": round(max(times), 2),
        "server_peak_rss_mb": round(rss, 1),
    }


def main() -> None:
    from lemof import open_bundle

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    synthetic = open_bundle(default_cohort()).stays
    physionet = open_bundle(physionet_cohort()).stays
    syn = synthetic[synthetic["split"] == "test"]
    phy = physionet[(physionet["split"] == "test") & physionet["has_signal"]]
    picks = [f"?stay={int(s)}" for s in syn["stay_id"].iloc[: n - n // 4]]  # the case page's first screen: no chart, ready when its reasons show
    picks += [f"?cohort=physionet2012&stay={int(s)}" for s in phy["stay_id"].iloc[: n // 4]]

    with chromium() as browser:
        procs = []
        with streamlit_server(on_start=procs.append) as url:
            times = sessions_at_once(browser, [(f"{url}/{q}", 0, CASE_READY_TEXT) for q in picks])
            app = summary(times, peak_rss_mb(procs[0].pid))
            # five more visitors, one after another, on stays nobody opened yet
            fresh = syn[syn["has_signal"]]["stay_id"].iloc[n : n + 5]
            visitors = []
            for sid in fresh:
                visitors += sequential_visitors(browser, f"{url}/?stay={int(sid)}", procs[0].pid, n=1)
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "trivial.py"
            script.write_text(TRIVIAL_APP)
            procs = []
            with streamlit_server(script=script, on_start=procs.append) as url:
                times = sessions_at_once(browser, [(url, 5, None)] * n)
                trivial = summary(times, peak_rss_mb(procs[0].pid))
    save(
        "app_sessions",
        {
            "sessions": n,
            "stays": picks,
            "lemof_explorer": app,
            "trivial_app_five_plotly_charts": trivial,
            "ratio_all_ready": round(app["all_ready_s"] / trivial["all_ready_s"], 2),
            "ratio_p50": round(app["p50_s"] / trivial["p50_s"], 2),
            "goal_ratio": 1.5,
            "goal_peak_rss_mb": 800,
            "sequential_visitors_after": visitors,
            "fifth_over_first_visitor": round(visitors[-1]["ready_s"] / visitors[0]["ready_s"], 2),
        },
    )


if __name__ == "__main__":
    main()
