"""One stay's explanation (prediction + level SHAP + attention + contributions), warm and cold.

    python benchmarks/bench_explain.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _common import REPO, save

from lemof import explain_stay, load_run, open_bundle
from lemof.data.synthetic import ensure_synthetic

RUN = REPO / "assets" / "models" / "synthetic-gru+resnet1d"


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    t = time.perf_counter()
    run = load_run(RUN)
    bundle = open_bundle(ensure_synthetic())
    load_ms = (time.perf_counter() - t) * 1000
    ids = bundle.stays["stay_id"].to_numpy()[np.linspace(0, len(bundle) - 1, 60).astype(int)]
    first_ms = timed(lambda: explain_stay(run, bundle, int(ids[0])))
    warm = [timed(lambda s=s: explain_stay(run, bundle, int(s))) for s in ids[1:]]
    from lemof.explain.input_attribution import input_attributions

    attr_first = timed(lambda: input_attributions(run, bundle, int(ids[0])))
    attr_warm = [timed(lambda s=s: input_attributions(run, bundle, int(s))) for s in ids[1:11]]
    # A cohort the run was not trained on: level SHAP is computed live (shap's first call compiles).
    run.level_shap = None
    computed_first = timed(lambda: explain_stay(run, bundle, int(ids[1])))
    computed_warm = [timed(lambda s=s: explain_stay(run, bundle, int(s))) for s in ids[2:22]]
    save(
        "explain_stay",
        {
            "run": RUN.name,
            "load_run_and_bundle_ms": round(load_ms, 1),
            "first_stay_ms": round(first_ms, 1),
            "warm_stored_shap_ms": {"median": round(statistics.median(warm), 1), "p95": round(float(np.percentile(warm, 95)), 1), "n": len(warm)},
            "computed_shap_first_call_ms": round(computed_first, 1),
            "computed_shap_warm_ms": {"median": round(statistics.median(computed_warm), 1), "p95": round(float(np.percentile(computed_warm, 95)), 1)},
            "input_attribution_first_ms": round(attr_first, 1),
            "input_attribution_warm_ms": {"median": round(statistics.median(attr_warm), 1), "p95": round(float(np.percentile(attr_warm, 95)), 1), "steps": 128},
            "target_warm_ms": 300,
        },
    )


if __name__ == "__main__":
    main()
