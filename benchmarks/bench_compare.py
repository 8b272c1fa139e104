"""The compare page with three runs: time until every chart is drawn, on a warm server.

Opens `/?page=compare&runs=A,B,C` (the three shipped LeMoF encoder configurations of the
synthetic cohort, what the page opens on) in headless Chromium: once on a fresh server (cold), then five new visitors
on the warm server (the comparison — aligned predictions of all test stays, bootstrap CIs,
calibration — is cached per set of runs). Also times building the comparison in-process.

    python benchmarks/bench_compare.py
"""

from __future__ import annotations

import statistics
from urllib.parse import urlencode
import time

from _common import REPO, save

from tests.browser import CHARTS_READY_JS, CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_until_idle  # _common put the repository root on sys.path
from bench_app_start import trivial_app_floor  # noqa: E402


def main() -> None:
    from playwright.sync_api import sync_playwright

    from lemof import list_runs, load_run, open_bundle
    from lemof.evaluation.compare import compare_runs
    from lemof.data.synthetic import ensure_synthetic

    bundle = open_bundle(ensure_synthetic())
    entries = [e for e in list_runs(source="synthetic")[0] if e.shipped]
    picks = [e for e in entries if e.fusion == "lemof"][:3]  # what the page opens on: the LeMoF encoder configurations
    runs = [load_run(e.path) for e in picks]
    t = time.perf_counter()
    comp = compare_runs(runs, bundle)
    align = time.perf_counter() - t
    t = time.perf_counter()
    comp.metrics()
    metrics = time.perf_counter() - t
    t = time.perf_counter()
    comp.calibration()
    calibration = time.perf_counter() - t
    n_charts = 5 + 3 * sum(r.is_lemof for r in runs)
    stays = bundle.stays
    stay = int(stays.loc[(stays["split"] == "test") & stays["has_signal"], "stay_id"].iloc[0])  # with an ECG: every chart applies
    url_tail = "/?" + urlencode({"page": "compare", "runs": ",".join(e.run_id for e in picks), "stay": stay})
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with streamlit_server() as url:
            for _ in range(6):
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                t = time.perf_counter()
                page.goto(url + url_tail)
                page.wait_for_function(CHARTS_READY_JS, arg=n_charts, timeout=180_000)
                times.append(time.perf_counter() - t)
                wait_until_idle(page)
                page.close()
        floor = trivial_app_floor(browser)
        browser.close()
    save(
        "compare_page",
        {
            "runs": [e.run_id for e in picks],
            "stay": stay,
            "test_stays_in_scatter": len(comp.stays),
            "charts": n_charts,
            "in_process_s": {"align_predictions": round(align, 3), "metrics_bootstrap_400": round(metrics, 3), "calibration": round(calibration, 3)},
            "first_visit_fresh_server_s": round(times[0], 2),
            "warm_server_new_visitor_s": [round(t, 2) for t in times[1:]],
            "warm_median_s": round(statistics.median(times[1:]), 2),
            "trivial_app_five_plotly_charts": floor,
            "ratio_new_visitor_to_trivial": round(statistics.median(times[1:]) / floor["new_visitor_s"], 2),
            "goal_ratio": 1.5,
        },
    )


if __name__ == "__main__":
    main()
