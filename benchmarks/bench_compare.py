"""The compare page with three runs: time until every chart is drawn, on a warm server.

Opens `/?page=compare&runs=A,B,C` (the three shipped LeMoF encoder configurations of the
synthetic cohort, what the page opens on: the metrics, every other view one click away) in headless
Chromium: once on a fresh server (cold), then five new visitors on the warm server; then four new
visitors of a link to one stay (`&stay=…`, which opens the run-against-run and one-stay view with
its charts) (the comparison — aligned predictions of all test stays, bootstrap CIs,
calibration — is cached per set of runs). Also times building the comparison in-process.

    python -m benchmarks.bench_compare
"""

from __future__ import annotations

import statistics
import time
from urllib.parse import urlencode

from benchmarks._common import save
from benchmarks.bench_app_start import trivial_app_floor
from testkit.browser import chromium, streamlit_server, time_page
from testkit.cohorts import default_cohort
from testkit.paths import shipped_runs


def main() -> None:
    from lemof import load_run, open_bundle
    from lemof.evaluation.compare import compare_runs

    bundle = open_bundle(default_cohort())
    picks = shipped_runs("synthetic", "lemof")[:3]  # what the page opens on: the LeMoF encoder configurations
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
    n_stay_charts = 1 + 2 + 3 * sum(r.is_lemof for r in runs)  # metrics; scatter and this stay; per LeMoF run level SHAP, heads, attention
    stays = bundle.stays
    stay = int(stays.loc[(stays["split"] == "test") & stays["has_signal"], "stay_id"].iloc[0])  # with an ECG: every chart applies
    runs_param = ",".join(e.run_id for e in picks)
    url_tail = "/?" + urlencode({"page": "compare", "runs": runs_param})  # what a new visitor opens: the metrics, the rest one click away
    stay_tail = "/?" + urlencode({"page": "compare", "runs": runs_param, "stay": stay})  # a link to one stay: its view opens with it
    times, stay_times = [], []
    with chromium() as browser:
        with streamlit_server() as url:
            for _ in range(6):
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                times.append(time_page(page, url + url_tail, 1)[1])
                page.close()
            for _ in range(4):
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                stay_times.append(time_page(page, url + stay_tail, n_stay_charts)[1])
                page.close()
        floor = trivial_app_floor(browser)
    save(
        "compare_page",
        {
            "runs": [e.run_id for e in picks],
            "stay": stay,
            "test_stays_in_scatter": len(comp.stays),
            "charts": 1,
            "stay_link_charts": n_stay_charts,
            "in_process_s": {"align_predictions": round(align, 3), "metrics_bootstrap_400": round(metrics, 3), "calibration": round(calibration, 3)},
            "first_visit_fresh_server_s": round(times[0], 2),
            "warm_server_new_visitor_s": [round(t, 2) for t in times[1:]],
            "warm_median_s": round(statistics.median(times[1:]), 2),
            "trivial_app_five_plotly_charts": floor,
            "ratio_new_visitor_to_trivial": round(statistics.median(times[1:]) / floor["new_visitor_s"], 2),
            "stay_link_new_visitor_s": [round(t, 2) for t in stay_times],
            "stay_link_median_s": round(statistics.median(stay_times), 2),
            "ratio_stay_link_to_trivial": round(statistics.median(stay_times) / floor["new_visitor_s"], 2),
            "goal_ratio": 1.5,
        },
    )


if __name__ == "__main__":
    main()
