"""The case-review page on the server alone: its first run on a fresh server, a new stay, a rerun.

Runs the app in Streamlit's AppTest (no browser) in a fresh process per repeat, on the default
cohort and run: (1) the first run of a fresh server (imports, loading the cohort and the run,
the page script); (2) a second stay in the same process (a new visitor on a warm server);
(2b) a validation stay, whose reasons are not stored (Integrated Gradients after the first
paint, and the network built first); (3) the same stay again (a rerun: every part is read from the shared results object); (4) the
"Inputs over time" view opened (Integrated Gradients, in one compute slot). Also records every
pass of the network before that view was opened, by batch size: none — the first screen (the
reasons in days, the ECG's findings, the similar stays) is read from the run for its own
cohort's test stays.

    python -m benchmarks.bench_case_server [repeats]
"""

from __future__ import annotations

import statistics
import sys

from benchmarks._common import save
from testkit.fresh import run_json
from testkit.paths import APP

ONE = r"""
import json, time
from streamlit.testing.v1 import AppTest
calls = []
if {count!r}:  # importing the inference module imports torch: only in the counting process
    import lemof.models.inference as inference
    real = inference.forward_arrays
    inference.forward_arrays = lambda *a, **k: calls.append(len(a[1])) or real(*a, **k)
def run(at):
    t = time.perf_counter(); at.run(); assert not at.exception, [e.value for e in at.exception]; return time.perf_counter() - t
at = AppTest.from_file({app!r}, default_timeout=300)
at.query_params["stay"] = "30000001"
first = run(at)
at2 = AppTest.from_file({app!r}, default_timeout=300)
at2.query_params["stay"] = "30000003"  # another held-out test stay: its reasons are stored too
second = run(at2)
first_paint_passes = list(calls)  # two stored stays' first screens
at3 = AppTest.from_file({app!r}, default_timeout=300)
at3.query_params["stay"] = "30000002"  # a validation stay: its reasons are computed after the first paint
not_stored = run(at3)
rerun = run(at2)
at2.button_group(key="case_view").set_value("Inputs over time")
drivers = run(at2)
print(json.dumps({{"first_run_s": first, "new_stay_warm_s": second, "stay_without_stored_reasons_s": not_stored, "rerun_s": rerun, "inputs_view_opened_s": drivers,
                   "network_passes_before_drivers": first_paint_passes}}))
"""


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    def once(count: bool) -> dict:
        return run_json(ONE.format(app=str(APP), count=count))

    runs = [once(False) for _ in range(repeats)]  # timed: nothing imported beforehand
    passes = once(True)["network_passes_before_drivers"]  # counted, in a process of its own
    med = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0] if k.endswith("_s")}
    save("case_server", {"runs": runs, "median": med, "network_passes_before_drivers_by_batch_size": passes})


if __name__ == "__main__":
    main()
