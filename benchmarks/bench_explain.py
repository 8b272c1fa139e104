"""One stay's explanation: stored (cohort the run was trained on) and computed (another cohort).

- stored: prediction, level SHAP and head contributions read from the run, no network, no torch;
- attention: the cross-modal attention maps (runs the network);
- computed: a stay of a cohort of the same family that the run was *not* trained on (a second
  synthetic draw, seed 7): the network runs and exact level Shapley values are enumerated. Its
  first call is timed in a fresh process, including building the network (and importing torch,
  which the app does in the background when it loads a run), then the second call.

    python -m benchmarks.bench_explain
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import save
from testkit.cohorts import default_cohort, write_tiny_cohort
from testkit.fresh import run_json
from testkit.paths import SHIPPED_RUN

RUN = SHIPPED_RUN

FIRST_CALL = """
import json, time
from lemof import explain_stay, load_run, open_bundle
run, bundle = load_run({run!r}), open_bundle({cohort!r})
sid = int(bundle.stays["stay_id"].iloc[3])
t = time.perf_counter()
e = explain_stay(run, bundle, sid)
first = time.perf_counter() - t
t = time.perf_counter()
explain_stay(run, bundle, int(bundle.stays["stay_id"].iloc[4]))
second = time.perf_counter() - t
print(json.dumps({{"first_ms": first * 1000, "second_ms": second * 1000, "source": e.source}}))
"""


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def stats(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 1), "p95": round(float(np.percentile(values, 95)), 1), "n": len(values)}


def main() -> None:
    from lemof import explain_stay, load_run, open_bundle, stay_attention

    t = time.perf_counter()
    run = load_run(RUN)
    bundle = open_bundle(default_cohort())
    load_ms = (time.perf_counter() - t) * 1000
    ids = bundle.stays["stay_id"].to_numpy()[np.linspace(0, len(bundle) - 1, 60).astype(int)]
    stored_first = timed(lambda: explain_stay(run, bundle, int(ids[0])))
    torch_after_stored = "torch" in sys.modules
    stored = [timed(lambda s=s: explain_stay(run, bundle, int(s))) for s in ids[1:]]
    attention_first = timed(lambda: stay_attention(run, bundle, int(ids[0])))
    attention = [timed(lambda s=s: stay_attention(run, bundle, int(s))) for s in ids[1:21]]
    from lemof.explain.input_attribution import input_attributions

    attr_first = timed(lambda: input_attributions(run, bundle, int(ids[0])))
    attr_warm = [timed(lambda s=s: input_attributions(run, bundle, int(s))) for s in ids[1:11]]

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "synthetic-seed7"
        write_tiny_cohort(other, seed=7)  # 300 stays
        first = run_json(FIRST_CALL.format(run=str(RUN), cohort=str(other)))
        unseen = open_bundle(other)
        unseen_ids = unseen.stays["stay_id"].to_numpy()[:40]
        computed = [timed(lambda s=s: explain_stay(run, unseen, int(s))) for s in unseen_ids]
    save(
        "explain_stay",
        {
            "run": RUN.name,
            "load_run_and_bundle_ms": round(load_ms, 1),
            "stored_first_ms": round(stored_first, 1),
            "stored_imports_torch": torch_after_stored,
            "stored_warm_ms": stats(stored),
            "attention_first_ms_incl_building_network": round(attention_first, 1),
            "attention_warm_ms": stats(attention),
            "other_cohort_first_call_fresh_process_ms": round(first["first_ms"], 1),
            "other_cohort_second_call_fresh_process_ms": round(first["second_ms"], 1),
            "other_cohort_first_call_source": first["source"],
            "other_cohort_warm_ms": stats(computed),
            "input_attribution_first_ms": round(attr_first, 1),
            "input_attribution_warm_ms": {**stats(attr_warm), "steps": 128},
            "target_first_other_cohort_ms": 1000,
        },
    )


if __name__ == "__main__":
    main()
