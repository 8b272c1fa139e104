"""How long an audit entry takes to write (flock, read the tail, one write, fsync, the head file),
from one process and from several at once, and how long `audit verify` takes per entry.

    python -m benchmarks.bench_audit [--entries 2000] [--processes 8]

Prints and saves benchmarks/results/audit.json. The log is written in a temporary folder on the
same filesystem as the system's temp dir (fsync cost is the disk's)."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import save

from testkit.paths import REPO

_WRITER = """
import json, sys, time
from lemof.audit import AuditLog
log = AuditLog(sys.argv[1]); n = int(sys.argv[2]); times = []
for i in range(n):
    t = time.perf_counter()
    log.append("stay.view", user=f"bench{sys.argv[3]}", role="viewer", page="case review", cohort="synthetic", run="synthetic-gru+resnet1d", stay=30000000 + i)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def _run_writers(path: Path, processes: int, each: int) -> tuple[list[float], float]:
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(each), str(p)], cwd=REPO, stdout=subprocess.PIPE, text=True) for p in range(processes)]
    latencies = [t for p in procs for t in json.loads(p.communicate()[0])]
    return latencies, time.perf_counter() - start


def _summary(latencies: list[float], wall: float) -> dict:
    ms = sorted(1000 * t for t in latencies)
    return {"entries": len(ms), "wall_s": round(wall, 3), "entries_per_s": round(len(ms) / wall, 1),
            "latency_ms_p50": round(statistics.median(ms), 3), "latency_ms_p99": round(ms[int(0.99 * (len(ms) - 1))], 3), "latency_ms_max": round(ms[-1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--processes", type=int, default=8)
    args = ap.parse_args()
    from lemof.audit import verify_log

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.jsonl"
        single = _summary(*_run_writers(one, 1, args.entries))
        many = Path(tmp) / "many.jsonl"
        concurrent = _summary(*_run_writers(many, args.processes, args.entries // args.processes))
        concurrent["processes"] = args.processes
        t = time.perf_counter()
        result = verify_log(many)
        verify_s = time.perf_counter() - t
        assert result.ok and result.entries == concurrent["entries"], result.summary()
        size = many.stat().st_size
    out = {"single_process": single, "concurrent": concurrent,
           "verify": {"entries": result.entries, "seconds": round(verify_s, 3), "entries_per_s": round(result.entries / verify_s), "bytes_per_entry": round(size / result.entries)}}
    print(json.dumps(out, indent=2))
    print("saved", save("audit", out))


if __name__ == "__main__":
    main()
