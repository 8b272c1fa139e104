"""Synthetic cohort generation: wall time and peak RSS, one process per size.

    python -m benchmarks.bench_cohort            # 4,000 and 100,000 stays
    python -m benchmarks.bench_cohort 4000       # one size
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks._common import save
from testkit.fresh import run_json

CHILD = """
import json, time
from lemof.data.synthetic import generate_synthetic
from benchmarks._common import peak_rss_mb
t = time.perf_counter()
generate_synthetic({out!r}, n={n}, seed=0)
print(json.dumps({{"n": {n}, "seconds": round(time.perf_counter() - t, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}}))
"""


def run_size(n: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="lemof-bench-"))
    try:
        out = tmp / "cohort"
        result = run_json(CHILD.format(out=str(out), n=n))
        result["bundle_bytes"] = sum(p.stat().st_size for p in out.iterdir())
        result["stays_per_second"] = round(n / result["seconds"], 1)
        print(result, flush=True)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [4000, 100_000]
    save("cohort_generation", {"runs": [run_size(n) for n in sizes], "targets": {"4000_seconds": 30, "100000_peak_rss_mb": 2048}})
