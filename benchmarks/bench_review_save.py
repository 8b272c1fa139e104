"""How long saving a review takes with 8 sessions of one server writing at once: 8 threads sharing
one ``ReviewStore`` (one engine, one pool), each saving N reviews of its own stays, every save with
its entry in a real audit log (``AuditLog`` in a temporary folder, written inside the transaction).
The issue's goal: p95 <= 100 ms. Two loads: ``back_to_back`` (every session saves again the moment
its last save returns: the worst case, where each save waits for the other seven) and ``paced``
(each session pauses 0.2-1 s between saves: still hundreds of times a clinician's pace).

    python -m benchmarks.bench_review_save [--sessions 8] [--saves 50]

On SQLite (a temporary file) and, where Debian's postgresql is installed, on a PostgreSQL server
started by ``testkit.postgres`` (fsync on, as in production). Half of each session's saves create
a review, the other half edit one (version 2, a history row). Prints and saves
benchmarks/results/review_save.json."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._common import save


def _bench(url: str, log_path: Path, sessions: int, saves: int, think: tuple[float, float] = (0.0, 0.0)) -> dict:
    from lemof.audit import AuditLog
    from lemof.reviews import ReviewKey, ReviewStore, upgrade

    upgrade(url)
    store, log = ReviewStore(url), AuditLog(log_path)
    latencies: list[float] = []
    lock, start = threading.Lock(), threading.Barrier(sessions)

    def session(n: int) -> None:
        user = f"reviewer{n}@hospital.org"
        audit = lambda event, **fields: log.append(event, user=user, role="viewer", **fields)  # noqa: E731 - the page's audit callable
        mine = []
        pause = random.Random(n)
        start.wait()
        for i in range(saves):
            stay = 30000000 + n * 100000 + i // 2
            key = ReviewKey(run_id="synthetic-gru+resnet1d", weights_sha256="a" * 64, cohort_key="synthetic", cohort_fingerprint="f" * 64, stay_id=stay)
            t = time.perf_counter()
            store.save(key, user, ("agree", "partly")[i % 2], estimate_days=3.0 + i % 2, note=f"note {i}", ratings={"drivers": "useful"}, audit=audit)
            mine.append(time.perf_counter() - t)
            if think[1] > 0:
                time.sleep(pause.uniform(*think))  # the reviewer reads the next stay
        with lock:
            latencies.extend(mine)

    wall = time.perf_counter()
    threads = [threading.Thread(target=session, args=(n,)) for n in range(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - wall
    ms = sorted(1000 * t for t in latencies)
    assert len(ms) == sessions * saves and len(store.reviews()) == sessions * ((saves + 1) // 2)
    return {"think_s": list(think), "saves": len(ms), "wall_s": round(wall, 3), "saves_per_s": round(len(ms) / wall, 1),
            "p50_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[int(round(0.95 * (len(ms) - 1)))], 2), "max_ms": round(ms[-1], 2),
            "goal_p95_ms": 100, "meets_goal": ms[int(round(0.95 * (len(ms) - 1)))] <= 100}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--saves", type=int, default=50, help="saves per session (default 50)")
    ap.add_argument("--think", type=float, nargs=2, default=(0.2, 1.0), metavar=("MIN_S", "MAX_S"),
                    help="the paced run: each session waits a random time in this range between its saves (default 0.2-1.0 s: "
                         "1-5 saves a second per session, far above a clinician's pace)")
    args = ap.parse_args()
    from testkit.postgres import binaries, postgres_server

    results: dict = {"sessions": args.sessions, "saves_per_session": args.saves}
    modes = {"back_to_back": (0.0, 0.0), "paced": tuple(args.think)}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, think in modes.items():
            results.setdefault("sqlite", {})[mode] = r = _bench(f"sqlite:///{Path(tmp) / f'reviews-{mode}.db'}", Path(tmp) / f"audit-sqlite-{mode}.jsonl",
                                                               args.sessions, args.saves, think)
            print("sqlite", mode, r)
        if binaries() is not None:
            for mode, think in modes.items():
                with postgres_server(durable=True) as url:
                    results.setdefault("postgresql", {})[mode] = r = _bench(url, Path(tmp) / f"audit-pg-{mode}.jsonl", args.sessions, args.saves, think)
                    print("postgresql", mode, r)
        else:
            results["postgresql"] = None
            print("postgresql: not installed, skipped")
    save("review_save", results)


if __name__ == "__main__":
    main()
