"""PhysioNet 2012 bundle build time: from the original tarball and from the vendored copy.

    python -m benchmarks.bench_physionet [--tarball ../shared/data/physionet2012-setab.tar.gz]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks._common import peak_rss_mb, save

from testkit.paths import REPO

from lemof.data.bundle import open_bundle
from lemof.data.physionet2012 import build_physionet2012


def timed_build(source, out: Path) -> dict:
    t = time.perf_counter()
    fingerprint = build_physionet2012(source, out)
    seconds = time.perf_counter() - t
    bundle = open_bundle(out)
    return {"seconds": round(seconds, 1), "stays": len(bundle), "fingerprint": fingerprint, "dropped": bundle.provenance["dropped"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tarball", type=Path, default=REPO.parent / "shared" / "data" / "physionet2012-setab.tar.gz")
    args = ap.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.tarball.exists():
            result["from_tarball"] = timed_build(args.tarball, Path(tmp) / "tar")
        result["from_vendored"] = timed_build("vendored", Path(tmp) / "vendored")
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if "from_tarball" in result:
        result["same_bundle"] = result["from_tarball"]["fingerprint"] == result["from_vendored"]["fingerprint"]
    save("physionet2012_build", result)


if __name__ == "__main__":
    main()
