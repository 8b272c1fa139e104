"""Synthetic cohort generation: wall time and peak RSS, one process per size.

    python benchmarks/bench_cohort.py            # 4,000 and 100,000 stays
    python benchmarks/bench_cohort.py 4000       # one size
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, save

CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
from lemof.data.synthetic import generate_synthetic
from _common import peak_rss_mb
t = time.perf_counter()
generate_synthetic({out!r}, n={n}, seed=0)
print(json.dumps({{"n": {n}, "seconds": round(time.perf_counter() - t, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}}))
"""


def run_size(n: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="lemof-bench-"))
    try:
        out = tmp / "cohort"
        code = CHILD.format(repo=str(REPO), out=str(out), n=n)
        proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["bundle_bytes"] = sum(p.stat().st_size for p in out.iterdir())
        result["stays_per_second"] = round(n / result["seconds"], 1)
        print(result, flush=True)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [4000, 100_000]
    save("cohort_generation", {"runs": [run_size(n) for n in sizes], "targets": {"4000_seconds": 30, "100000_peak_rss_mb": 2048}})
