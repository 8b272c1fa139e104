"""This run's predictions on this cohort: one decision (read or computed) for every consumer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from testkit.paths import REPO
from lemof import RunError, load_run, open_bundle


def test_own_cohort_reads_another_cohort_computes(tiny_run, tiny_cohort, tmp_path):
    from lemof.data.synthetic import generate_synthetic
    from lemof.evaluation.predictions import reads_stored, run_predictions

    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    rows = bundle.rows("test")
    stored = run_predictions(run, bundle, rows)
    assert stored.origin == "stored" and reads_stored(run, bundle)
    table = run.predictions.set_index("stay_id").loc[bundle.stays["stay_id"].to_numpy()[rows]]
    assert np.array_equal(stored.arrays["los_days"], table["los_days"].to_numpy()), "read as stored, not recomputed"
    network = run_predictions(run, bundle, rows, mode="network")
    assert network.origin == "computed"
    # the network again, on this machine: float32 rounding only (|d log1p| <= 2e-5, see test_shipped_run)
    assert np.allclose(network.arrays["final"], stored.arrays["final"], rtol=0, atol=2e-5)
    generate_synthetic(tmp_path / "other", n=40, seed=9)
    other = open_bundle(tmp_path / "other")
    assert not reads_stored(run, other) and run_predictions(run, other, other.rows("all")).origin == "computed"
    with pytest.raises(RunError, match="only for the cohort it was trained on"):
        run_predictions(run, other, other.rows("all"), mode="stored")
    with pytest.raises(ValueError, match="mode must be one of"):
        run_predictions(run, bundle, rows, mode="cache")


def test_stored_rows_name_a_missing_stay(tiny_run):
    run = load_run(tiny_run)
    ids = run.predictions["stay_id"].to_numpy()[:3]
    assert list(run.stored_rows(ids).index) == list(ids)
    with pytest.raises(RunError, match="no prediction for stay 123"):
        run.stored_rows(np.array([ids[0], 123]))


def test_stored_predictions_and_the_compare_table_need_no_torch(tiny_run, tiny_cohort):
    code = (
        "import sys; from lemof import load_run, open_bundle; from lemof.evaluation.compare import compare_runs; "
        f"run, b = load_run({str(tiny_run)!r}), open_bundle({str(tiny_cohort)!r}); comp = compare_runs([run], b); "
        "assert comp.runs[0].origin == 'stored'; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
