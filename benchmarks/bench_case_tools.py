"""What-if updates and similar-stay lookups: how long a clinician waits.

- what-if: one edit (hide the ECG, set a value, shift a series) → the stay's new prediction,
  interval, exact level SHAP and head contributions, warm (the network built), on the CPU;
- similar stays: building the index of the default cohort's training stays (their fused
  representations), then exact cosine search; and exact search among 100,000 stays (random unit
  vectors of the same width, 4d = 128) to see whether an approximate index would be needed.

    python -m benchmarks.bench_case_tools
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from benchmarks._common import save
from testkit.paths import REPO


def timed_ms(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def stats(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 2), "p95_ms": round(float(np.percentile(values, 95)), 2), "n": len(values)}


def main() -> None:
    from lemof import load_run, open_bundle
    from lemof.data.synthetic import ensure_synthetic
    from lemof.explain.results import CohortResults
    from lemof.explain.similar import SimilarityIndex
    from lemof.explain.whatif import Edit, what_if

    run = load_run(REPO / "assets" / "models" / "synthetic-gru+resnet1d")
    bundle = open_bundle(ensure_synthetic())
    stays = bundle.stays[(bundle.stays["split"] == "test") & bundle.stays["has_signal"]]["stay_id"].to_numpy()[:20]
    what_if(run, bundle, int(stays[0]), [])  # builds the network
    edits = {"hide the ECG": [Edit("hide_signal")], "set lactate at hour 18": [Edit("value", "lactate", hour=18, value=4.0)], "shift MBP by -10 mmHg": [Edit("shift", "mbp", delta=-10)]}
    what = {name: stats([t for s in stays for t in timed_ms(lambda s=s, e=e: what_if(run, bundle, int(s), e), 1)]) for name, e in edits.items()}

    t = time.perf_counter()
    index = CohortResults(run, bundle).similarity_index  # stored in the run: read, not encoded
    build_s = time.perf_counter() - t
    # a fresh results object per lookup, so each one reads the stay's vector and searches anew
    lookup = stats([t for s in stays for t in timed_ms(lambda s=s: CohortResults(run, bundle).stay(int(s)).similar(10), 1)])

    rng = np.random.default_rng(0)
    big = rng.standard_normal((100_000, index.vectors.shape[1])).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    big_index = SimilarityIndex(np.arange(100_000), big)
    queries = rng.standard_normal((50, big.shape[1])).astype(np.float32)
    search = stats([t for q in queries for t in timed_ms(lambda q=q: big_index.nearest(q, 10), 1)])
    save(
        "case_tools",
        {
            "run": run.run_id,
            "what_if_warm": what,
            "similar_index_from_stored_vectors_s": {"training_stays": len(index.stay_ids), "seconds": round(build_s, 3)},
            "similar_lookup_incl_encoding_the_query": lookup,
            "exact_search_100k_stays": search,
            "targets_ms": {"what_if": 300, "lookup_100k": 100},
        },
    )


if __name__ == "__main__":
    main()
