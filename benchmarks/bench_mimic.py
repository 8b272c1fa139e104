"""MIMIC-IV loader at scale: throughput and peak memory vs chartevents rows; ECG matching time.

For each size a MIMIC-format fixture (2,000 patients) is padded with other itemids up to N
chartevents rows (gzip CSV, as MIMIC ships it); the loader then runs in a fresh process whose
peak RSS is reported (DuckDB runs in-process, so its memory is included).

    python -m benchmarks.bench_mimic                 # 1M, 10M, 50M rows + ECG matching
    python -m benchmarks.bench_mimic 1000000         # one size
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import peak_rss_mb, save
from testkit.fresh import run_json

PATIENTS = 2000
CHILD = """
import json, time
from lemof.data.mimic import build_mimic, MimicOptions
from benchmarks._common import peak_rss_mb
t = time.perf_counter()
build_mimic({mimic!r}, {out!r}, options=MimicOptions(memory_limit="1GB", threads=2))
print(json.dumps({{"seconds": round(time.perf_counter() - t, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}}))
"""


def etl_at(rows: int, tmp: Path) -> dict:
    from tests.fixtures.mimic_fixture import write_mimic_fixture

    fixture = tmp / f"fixture-{rows}"
    t = time.perf_counter()
    probe = write_mimic_fixture(tmp / "probe", PATIENTS, seed=1, ecg=False)  # how many real rows 2,000 patients give
    shutil.rmtree(tmp / "probe")
    truth = write_mimic_fixture(fixture, PATIENTS, seed=1, ecg=False, extra_chartevents=max(0, rows - probe.chartevents_rows))
    written_s = time.perf_counter() - t
    gz_bytes = (fixture / "mimic" / "icu" / "chartevents.csv.gz").stat().st_size
    result = run_json(CHILD.format(mimic=str(fixture / "mimic"), out=str(tmp / f"bundle-{rows}")))
    result.update(
        {
            "chartevents_rows": truth.chartevents_rows,
            "chartevents_gzip_mb": round(gz_bytes / 2**20, 1),
            "rows_per_second": round(truth.chartevents_rows / result["seconds"]),
            "fixture_written_in_s": round(written_s, 1),
            "stays_in_icustays": len(truth.stays),
        }
    )
    shutil.rmtree(fixture)
    shutil.rmtree(tmp / f"bundle-{rows}", ignore_errors=True)
    print(result, flush=True)
    return result


def ecg_matching(tmp: Path, rows: int = 800_000) -> dict:
    """Time the join of the cohort with an 800,000-row record_list.csv (no WFDB file is opened)."""
    import numpy as np
    import pandas as pd

    from lemof.data.mimic import MimicOptions, _cohort, _connect, _match_ecgs
    from tests.fixtures.mimic_fixture import write_mimic_fixture
    from lemof.data.mimic_schema import TIMESTAMP_FORMAT

    fixture = tmp / "fixture-ecg"
    truth = write_mimic_fixture(fixture, PATIENTS, seed=2, ecg=False)
    rng = np.random.default_rng(0)
    own = truth.stays.sample(frac=1.0, replace=False, random_state=0)
    n_own = min(len(own) * 3, rows)  # three ECGs per stay, around its admission
    pick = own.iloc[rng.integers(0, len(own), n_own)]
    own_times = pick["intime"].to_numpy() + (rng.uniform(-48, 72, n_own) * 3600).astype("timedelta64[s]")
    n_pad = rows - n_own
    pad_times = np.datetime64("2150-01-01T00:00:00") + (rng.uniform(0, 40 * 365, n_pad) * 86400).astype("timedelta64[s]")
    subjects = np.concatenate([pick["subject_id"].to_numpy(), rng.integers(19_000_000, 19_999_999, n_pad)])
    study = 40_000_000 + np.arange(rows)
    table = pd.DataFrame(
        {
            "subject_id": subjects,
            "study_id": study,
            "file_name": study.astype(str),
            "ecg_time": pd.to_datetime(np.concatenate([own_times, pad_times])).strftime(TIMESTAMP_FORMAT),
            "path": [f"files/p{str(s)[:4]}/p{s}/s{d}/{d}" for s, d in zip(subjects, study)],
        }
    )
    ecg = tmp / "ecg"
    ecg.mkdir()
    table.to_csv(ecg / "record_list.csv", index=False)
    options = MimicOptions()
    con = _connect(options, tmp)
    from collections import Counter

    stays = _cohort(con, fixture / "mimic", options, Counter())
    con.register("cohort_df", stays[["row", "stay_id", "subject_id", "intime", "obs_end"]])
    con.execute("CREATE TABLE cohort AS SELECT * FROM cohort_df")
    t = time.perf_counter()
    matches = _match_ecgs(con, ecg, options)
    seconds = time.perf_counter() - t
    result = {"record_list_rows": rows, "cohort_stays": len(stays), "stays_matched": len(matches), "seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(result, flush=True)
    return result


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, 10_000_000, 50_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [etl_at(n, Path(tmp)) for n in sizes]
    with tempfile.TemporaryDirectory() as tmp:
        matching = ecg_matching(Path(tmp))
    save("mimic_etl", {"patients": PATIENTS, "runs": runs, "ecg_matching": matching, "duckdb": {"memory_limit": "1GB", "threads": 2}})
