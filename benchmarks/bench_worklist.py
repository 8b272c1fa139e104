"""The worklist of a 20,000-stay cohort: time until a new visitor sees it, against the trivial app.

Generates (once, into the cache) a synthetic cohort of ``--n`` stays (default 20,000), fills a
fresh review database (SQLite, as the embedded default) with ``--reviews`` reviews by five
reviewers and 300 stays assigned to the local user, starts the app on it and opens
``/?page=worklist&cohort=…&scope=all`` (every stay) in headless Chromium: once on the fresh
server (the shipped synthetic run predicts every stay with its network: this first visit includes
that, once per server), then five new visitors on the warm server. The page is ready when the
table and the line under it have drawn and no script runs. The floor is the trivial five-chart
app (``bench_app_start.trivial_app_floor``); the issue's goal: a new visitor within 1.5x of it.

    python -m benchmarks.bench_worklist [--n 20000] [--reviews 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from benchmarks._common import save
from benchmarks.bench_app_start import trivial_app_floor
from testkit.browser import chromium, streamlit_server, time_page
from testkit.paths import REPO

READY_TEXT = "stays shown. Click a column"


def fill_reviews(url: str, run, bundle, n_reviews: int, me: str) -> None:
    from lemof.reviews import ReviewKey, ReviewStore

    store = ReviewStore(url)
    rng = np.random.default_rng(0)
    ids = bundle.stays["stay_id"].to_numpy()
    users = [me] + [f"reviewer{k}@hospital.org" for k in range(1, 5)]
    picks = rng.choice(ids, size=n_reviews, replace=False)
    for i, stay in enumerate(picks):
        key = ReviewKey(run.run_id, run.weights_sha256, "bench", bundle.fingerprint, int(stay))
        store.save(key, users[i % len(users)], ("agree", "partly", "disagree")[i % 3], estimate_days=float(1 + i % 9), note=f"bench {i}")
    store.assign("bench", bundle.fingerprint, [int(s) for s in rng.choice(ids, size=300, replace=False)], me, assigned_by="bench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--reviews", type=int, default=2_000)
    args = ap.parse_args()
    import getpass

    from lemof import load_run, open_bundle
    from lemof.data.synthetic import ensure_synthetic

    t = time.perf_counter()
    cohort = ensure_synthetic(args.n, 0)
    build_s = time.perf_counter() - t
    bundle = open_bundle(cohort)
    run = load_run(REPO / "assets" / "models" / "synthetic-gru+resnet1d")
    me = f"local:{getpass.getuser()}"
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'reviews.db'}"
        t = time.perf_counter()
        fill_reviews(db, run, bundle, args.reviews, me)
        fill_s = time.perf_counter() - t
        env = {"LEMOF_DATABASE_URL": db, "LEMOF_AUDIT_LOG": str(Path(tmp) / "audit.jsonl"), "LEMOF_CACHE_DIR": os.environ.get("LEMOF_CACHE_DIR", "")}
        env = {k: v for k, v in env.items() if v}
        tail = "/?" + urlencode({"page": "worklist", "cohort": f"dir:{cohort}", "run": run.run_id, "scope": "all"})
        times = []
        with chromium() as browser:
            with streamlit_server(env=env) as url:
                for _ in range(6):
                    page = browser.new_page(viewport={"width": 1440, "height": 900})
                    times.append(time_page(page, url + tail, 0, text=READY_TEXT, timeout_ms=900_000)[1])
                    text = page.inner_text('[data-testid="stMain"]')
                    page.close()
                    assert f"{args.n:,} stays" in text, text[:500]
            floor = trivial_app_floor(browser)
    warm = statistics.median(times[1:])
    save("worklist", {
        "stays": args.n, "reviews": args.reviews, "assigned_to_me": 300, "cohort_build_s": round(build_s, 1), "fill_reviews_s": round(fill_s, 1),
        "first_visit_fresh_server_s": round(times[0], 2), "warm_server_new_visitor_s": [round(x, 2) for x in times[1:]], "warm_median_s": round(warm, 2),
        "trivial_app_five_plotly_charts": floor, "ratio_new_visitor_to_trivial": round(warm / floor["new_visitor_s"], 2), "goal_ratio": 1.5,
    })


if __name__ == "__main__":
    main()
