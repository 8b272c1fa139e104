"""MIMIC-IV (hosp + icu) + MIMIC-IV-ECG -> cohort bundle, out of core with DuckDB (DATA.md section 3).

Cohort (configurable, ``MimicOptions``): adult ICU stays (age at admission from
``anchor_age`` and ``anchor_year``), long enough that the observation window exists (default:
the first 24 h), first stay per patient or all; label ``icustays.los``.

EHR: the vitals (chartevents) and labs (labevents) with the itemids of ``mimic_schema``,
units unified (°F -> °C), values outside physiological limits dropped, hourly means with
masks; GCS total = eye + verbal + motor when all three were charted in the hour. Labs are
matched by ``subject_id`` and time (``labevents.hadm_id`` is often null); a null
``valuenum`` falls back to a numeric text ``value`` (``<0.5`` -> 0.5).

ECG: ``record_list.csv`` is joined on ``subject_id`` and ``ecg_time`` inside
[intime - ``ecg_before_hours``, end of the observation window] -- never later, so nothing from
the future leaks in -- and the latest such ECG is read with ``wfdb``. Stays without one, or
whose record cannot be read (for example a header and data that disagree), take the
missing-modality path. Only the matched records are opened.

Diagnoses (optional, ``hosp/diagnoses_icd``): per stay, one flag per diagnosis of
``mimic_schema.DIAGNOSES`` (ICD-9 and ICD-10 code prefixes), matched by the stay's ``hadm_id``,
written to ``outcomes.parquet``. They are administrative codes of the whole admission -- they can
postdate the observation window -- so they are **never a model input**: they are not in
``stays.parquet`` or the arrays, and not in the fingerprint. They only serve the concept probes.
A copy without the table still builds; the provenance says so and the concepts are absent.

DuckDB streams the tables (``.csv.gz``, ``.csv`` or Parquet with MIMIC's names) and aggregates
them to per-(stay, hour, item) sums; memory does not grow with the number of chartevents rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lemof.data.bundle import ECG_MACHINE_FILE, OUTCOMES_FILE, NpyStreamWriter, finalize_bundle, table_sha256
from lemof.data.ecg_synth import LEADS
from lemof.data.mimic_schema import (
    ADMISSION_TYPES,
    CARE_UNITS,
    CHART_ITEMS,
    COLUMNS,
    DIAGNOSES,
    FEATURES,
    GCS_COMPONENTS,
    LAB_ITEMS,
    VITAL_GROUP,
)
from lemof.data.schema import ecg_signal, icu_static_features
from lemof.data.splits import assign_splits
from lemof.progress import Progress
from lemof.data.tally import Tally
from lemof.errors import CohortError
from lemof.paths import atomic_directory, confined

SOURCE = "mimic-iv"
BUILDER_VERSION = 1
ECG_FS, ECG_SAMPLES, ECG_GAIN_PER_MV = 500, 5000, 1000
_TYPES = {
    "subject_id": "BIGINT", "hadm_id": "BIGINT", "stay_id": "BIGINT", "itemid": "BIGINT", "study_id": "BIGINT",
    "valuenum": "DOUBLE", "value": "VARCHAR", "los": "DOUBLE", "anchor_age": "INTEGER", "anchor_year": "INTEGER",
    "charttime": "TIMESTAMP", "intime": "TIMESTAMP", "outtime": "TIMESTAMP", "ecg_time": "TIMESTAMP", "path": "VARCHAR",
    "gender": "VARCHAR", "first_careunit": "VARCHAR", "admission_type": "VARCHAR", "storetime": "VARCHAR",
    "anchor_year_group": "VARCHAR", "dod": "VARCHAR", "caregiver_id": "VARCHAR", "valueuom": "VARCHAR",
    "seq_num": "INTEGER", "icd_code": "VARCHAR", "icd_version": "INTEGER",
}
_SUFFIXES = ((".csv.gz", "csv"), (".csv", "csv"), (".parquet", "parquet"))


@dataclass
class MimicOptions:
    window_hours: int = 24  # observation window from ICU admission
    min_los_hours: float | None = None  # default: the window, so it exists
    min_age: int = 18
    first_stay_only: bool = True
    ecg_before_hours: float = 12.0  # ECGs from this long before ICU admission up to the window's end
    memory_limit: str = "1GB"  # DuckDB's, spilling to disk beyond it
    threads: int = 2

    def __post_init__(self) -> None:
        if self.window_hours < 1:
            raise CohortError(f"window_hours must be at least 1, got {self.window_hours}")
        if self.ecg_before_hours < 0:
            raise CohortError(f"ecg_before_hours must be >= 0, got {self.ecg_before_hours}")

    @property
    def min_los(self) -> float:
        return float(self.min_los_hours if self.min_los_hours is not None else self.window_hours)


def _has_table(root: Path, name: str) -> bool:
    return any((root / f"{name}{suffix}").exists() for suffix, _ in _SUFFIXES)


def _table(root: Path, name: str) -> str:
    """A DuckDB scan of MIMIC table ``name`` (e.g. ``icu/chartevents``) in any published form."""
    for suffix, reader in _SUFFIXES:
        path = root / f"{name}{suffix}"
        if path.exists():
            quoted = str(path).replace("'", "''")
            if reader == "parquet":  # cast, since conversions differ in the types they keep
                casts = ", ".join(f"CAST({k} AS {v}) AS {k}" for k, v in _TYPES.items() if k in COLUMNS[name])
                return f"(SELECT * REPLACE ({casts}) FROM read_parquet('{quoted}'))"
            types = ", ".join(f"'{k}': '{v}'" for k, v in _TYPES.items() if k in COLUMNS[name])
            return f"read_csv('{quoted}', header=true, types={{{types}}}, timestampformat='%Y-%m-%d %H:%M:%S', nullstr='', auto_detect=true, sample_size=20000)"
    raise CohortError(f"MIMIC-IV table {name} not found: expected {root / name}.csv.gz (or .csv / .parquet)")


def _connect(options: MimicOptions, tmp: Path):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit='{options.memory_limit}'")
    con.execute(f"SET threads={int(options.threads)}")
    con.execute(f"SET temp_directory='{str(tmp).replace(chr(39), '')}'")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET enable_progress_bar=false")  # a library must not draw on stdout
    return con


def _fail(exc: Exception, what: str) -> CohortError:
    first = str(exc).strip().splitlines()[0]
    return CohortError(f"reading {what} failed: {first}")


def _frame(con, sql: str, what: str) -> pd.DataFrame:
    import duckdb

    try:
        return con.sql(sql).df()
    except duckdb.Error as exc:
        raise _fail(exc, what) from None


def _batches(con, sql: str, what: str):
    """Stream a query's result as pandas frames of at most 200,000 rows."""
    import duckdb

    try:
        reader = con.sql(sql).to_arrow_reader(200_000)
        for batch in reader:
            yield batch.to_pandas()
    except duckdb.Error as exc:
        raise _fail(exc, what) from None


def _cohort(con, root: Path, options: MimicOptions, tally: Tally) -> pd.DataFrame:
    sql = f"""
        SELECT i.stay_id, i.subject_id, i.hadm_id, i.first_careunit, i.intime, i.los,
               p.gender, p.anchor_age + (year(i.intime) - p.anchor_year) AS age, a.admission_type
        FROM {_table(root, 'icu/icustays')} i
        LEFT JOIN {_table(root, 'hosp/patients')} p USING (subject_id)
        LEFT JOIN {_table(root, 'hosp/admissions')} a USING (hadm_id)
        ORDER BY i.subject_id, i.intime, i.stay_id
    """
    stays = _frame(con, sql, "icustays, patients and admissions")
    tally.count("stays: in icustays", len(stays))
    drop = {
        "no patient row (age unknown)": stays["age"].isna(),
        f"younger than {options.min_age}": stays["age"] < options.min_age,
        "los missing": stays["los"].isna(),
        f"shorter than {options.min_los:g} h (observation window must exist)": stays["los"] * 24 < options.min_los,
    }
    keep = pd.Series(True, index=stays.index)
    for reason, bad in drop.items():
        bad = bad & keep
        tally.drop("stays", f"excluded, {reason}", int(bad.sum()))
        keep &= ~bad
    stays = stays[keep]
    if options.first_stay_only:
        later = stays.duplicated("subject_id", keep="first")
        tally.drop("stays", "excluded, not the patient's first eligible stay", int(later.sum()))
        stays = stays[~later]
    stays = stays.reset_index(drop=True)
    stays["row"] = np.arange(len(stays))
    stays["obs_end"] = stays["intime"] + pd.Timedelta(hours=options.window_hours)
    return stays


def _accumulate(batches, n: int, hours: int, columns: list[str], tally: Tally) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Sum and count per (row, hour, column) from streamed batches; returns the items seen."""
    sums = np.zeros((n, hours, len(columns)), dtype=np.float32)  # 73k stays x 24 h x 18 items: 126 MB
    cnts = np.zeros((n, hours, len(columns)), dtype=np.float32)
    col_of = {c: j for j, c in enumerate(columns)}
    seen: set[int] = set()
    for df in batches:
        if df.empty:
            continue
        seen.update(int(x) for x in df["itemid"].unique())
        j = df["column"].map(col_of).to_numpy()
        r, h = df["row"].to_numpy(), df["hour"].to_numpy()
        np.add.at(sums, (r, h, j), df["total"].fillna(0).to_numpy())
        np.add.at(cnts, (r, h, j), df["n_ok"].to_numpy())
        for key in [c for c in df.columns if c.startswith(("count: ", "drop: "))]:
            tally.record(key, int(df[key].sum()))
    return sums, cnts, seen


def _vitals(con, root: Path, options: MimicOptions, n: int, tally: Tally) -> tuple[np.ndarray, np.ndarray, set[int]]:
    items = pd.DataFrame(
        [
            (item, feat, conv == "fahrenheit", *(GCS_COMPONENTS.get(feat) or FEATURES[feat][2:4]))
            for item, (feat, conv) in CHART_ITEMS.items()
        ],
        columns=["itemid", "column", "fahrenheit", "low", "high"],
    )
    con.register("chart_items", items)
    sql = f"""
        WITH ev AS (
            SELECT c."row" AS "row", CAST(floor(epoch(e.charttime - c.intime) / 3600) AS INTEGER) AS hour,
                   e.itemid, m."column", e.charttime,
                   CASE WHEN m.fahrenheit THEN (e.valuenum - 32) * 5 / 9 ELSE e.valuenum END AS v, m.low, m.high
            FROM (SELECT stay_id, charttime, itemid, valuenum FROM {_table(root, 'icu/chartevents')}
                  WHERE itemid IN ({', '.join(str(i) for i in CHART_ITEMS)})) e
            JOIN cohort c USING (stay_id)
            JOIN chart_items m USING (itemid)
            WHERE e.charttime >= c.intime AND e.charttime < c.obs_end
        )
        SELECT "row", hour, itemid, "column",
               sum(v) FILTER (WHERE v BETWEEN low AND high) AS total,
               count(*) FILTER (WHERE v BETWEEN low AND high) AS n_ok,
               count(*) AS "count: chartevents rows: used (in window, known itemid)",
               count(*) FILTER (WHERE v IS NULL) AS "drop: chartevents rows: dropped, valuenum null",
               count(*) FILTER (WHERE v IS NOT NULL AND NOT (v BETWEEN low AND high)) AS "drop: chartevents rows: dropped, outside physiological limits",
               count(*) - count(DISTINCT charttime) AS "count: chartevents rows: sharing a timestamp with another of the same item (averaged)"
        FROM ev GROUP BY ALL
    """
    columns = list(dict.fromkeys(m for m, _ in CHART_ITEMS.values()))
    sums, cnts, seen = _accumulate(_batches(con, sql, "chartevents"), n, options.window_hours, columns, tally)
    means = np.where(cnts > 0, sums / np.maximum(cnts, 1), np.nan)
    out = np.full((n, options.window_hours, len(VITAL_GROUP) + len(LAB_ITEMS)), np.nan)
    names = list(FEATURES)
    for feat in names:
        if feat in columns:
            out[:, :, names.index(feat)] = means[:, :, columns.index(feat)]
    eye, verbal, motor = (means[:, :, columns.index(c)] for c in ("gcs_eye", "gcs_verbal", "gcs_motor"))
    out[:, :, names.index("gcs")] = eye + verbal + motor  # NaN unless all three were charted that hour
    return out, cnts, seen


def _labs(con, root: Path, options: MimicOptions, n: int, tally: Tally) -> tuple[np.ndarray, set[int]]:
    limits = pd.DataFrame([(item, feat, *FEATURES[feat][2:4]) for item, feat in LAB_ITEMS.items()], columns=["itemid", "column", "low", "high"])
    con.register("lab_items", limits)
    sql = f"""
        WITH ev AS (
            SELECT c."row" AS "row", CAST(floor(epoch(l.charttime - c.intime) / 3600) AS INTEGER) AS hour,
                   l.itemid, m."column", l.charttime, l.hadm_id, l.valuenum,
                   coalesce(l.valuenum, TRY_CAST(regexp_replace(trim(l.value), '^[<>=]+\\s*', '') AS DOUBLE)) AS v, m.low, m.high
            FROM (SELECT subject_id, hadm_id, itemid, charttime, value, valuenum FROM {_table(root, 'hosp/labevents')}
                  WHERE itemid IN ({', '.join(str(i) for i in LAB_ITEMS)})) l
            JOIN cohort c ON l.subject_id = c.subject_id AND l.charttime >= c.intime AND l.charttime < c.obs_end
            JOIN lab_items m USING (itemid)
        )
        SELECT "row", hour, itemid, "column",
               sum(v) FILTER (WHERE v BETWEEN low AND high) AS total,
               count(*) FILTER (WHERE v BETWEEN low AND high) AS n_ok,
               count(*) AS "count: labevents rows: used (in window, known itemid)",
               count(*) FILTER (WHERE hadm_id IS NULL) AS "count: labevents rows: null hadm_id, matched by subject and time",
               count(*) FILTER (WHERE valuenum IS NULL AND v IS NOT NULL) AS "count: labevents rows: null valuenum, read from the text value",
               count(*) FILTER (WHERE v IS NULL) AS "drop: labevents rows: dropped, no numeric value",
               count(*) FILTER (WHERE v IS NOT NULL AND NOT (v BETWEEN low AND high)) AS "drop: labevents rows: dropped, outside physiological limits",
               count(*) - count(DISTINCT charttime) AS "count: labevents rows: sharing a timestamp with another of the same item (averaged)"
        FROM ev GROUP BY ALL
    """
    columns = list(dict.fromkeys(LAB_ITEMS.values()))
    sums, cnts, seen = _accumulate(_batches(con, sql, "labevents"), n, options.window_hours, columns, tally)
    return np.where(cnts > 0, sums / np.maximum(cnts, 1), np.nan), seen


def _match_ecgs(con, ecg_dir: Path, options: MimicOptions) -> pd.DataFrame:
    """The latest ECG per stay in [intime - before, end of observation window], from record_list.csv only."""
    path = ecg_dir / "record_list.csv"
    if not path.exists():
        raise CohortError(f"MIMIC-IV-ECG record list not found: expected {path}")
    quoted = str(path).replace("'", "''")
    sql = f"""
        SELECT c."row" AS "row", r.study_id, r.path, r.ecg_time,
               epoch(r.ecg_time - c.intime) / 3600 AS hours_from_intime
        FROM read_csv('{quoted}', header=true, types={{'subject_id': 'BIGINT', 'study_id': 'BIGINT', 'ecg_time': 'TIMESTAMP', 'path': 'VARCHAR', 'file_name': 'VARCHAR'}},
                      timestampformat='%Y-%m-%d %H:%M:%S') r
        JOIN cohort c ON r.subject_id = c.subject_id
             AND r.ecg_time >= c.intime - to_seconds(CAST({round(options.ecg_before_hours * 3600)} AS BIGINT)) AND r.ecg_time <= c.obs_end
        QUALIFY row_number() OVER (PARTITION BY c."row" ORDER BY r.ecg_time DESC, r.study_id DESC) = 1
    """
    return _frame(con, sql, "record_list.csv")


MACHINE_MISSING = 29999  # MIMIC-IV-ECG's code for "not measured" in machine_measurements.csv


def _machine_measurements(con, ecg_dir: Path, study_ids: np.ndarray) -> pd.DataFrame | None:
    """The ECG cart's measurements of the matched studies (``machine_measurements.csv``: intervals
    as sample offsets in ms from the record's start, ``rr_interval`` in ms), as heart rate, PR, QRS,
    QT and QRS axis; None when the file is absent. Never a model input."""
    path = ecg_dir / "machine_measurements.csv"
    if not path.exists() or len(study_ids) == 0:
        return None
    quoted = str(path).replace("'", "''")
    wanted = ",".join(str(int(s)) for s in study_ids)
    sql = f"""
        SELECT study_id,
               CASE WHEN rr_interval > 0 AND rr_interval < {MACHINE_MISSING} THEN 60000.0 / rr_interval END AS heart_rate_bpm,
               CASE WHEN p_onset < {MACHINE_MISSING} AND qrs_onset < {MACHINE_MISSING} THEN qrs_onset - p_onset END AS pr_ms,
               CASE WHEN qrs_onset < {MACHINE_MISSING} AND qrs_end < {MACHINE_MISSING} THEN qrs_end - qrs_onset END AS qrs_ms,
               CASE WHEN qrs_onset < {MACHINE_MISSING} AND t_end < {MACHINE_MISSING} THEN t_end - qrs_onset END AS qt_ms,
               CASE WHEN qrs_axis < {MACHINE_MISSING} THEN qrs_axis END AS axis_deg
        FROM read_csv('{quoted}', header=true, union_by_name=true,
                      types={{'study_id': 'BIGINT', 'rr_interval': 'DOUBLE', 'p_onset': 'DOUBLE', 'qrs_onset': 'DOUBLE', 'qrs_end': 'DOUBLE',
                              't_end': 'DOUBLE', 'qrs_axis': 'DOUBLE'}})
        WHERE study_id IN ({wanted})
        QUALIFY row_number() OVER (PARTITION BY study_id ORDER BY study_id) = 1
    """
    return _frame(con, sql, "machine_measurements.csv")


def _read_ecg(root: Path, rel: str) -> np.ndarray:
    """(12, 5000) int16 microvolts in the project's lead order; raises ValueError with a reason."""
    import wfdb

    record = wfdb.rdrecord(str(confined(root, rel, what="record_list.csv path", check_links=False)))  # the list names files inside the ECG tree only
    if record.fs != ECG_FS or record.sig_len != ECG_SAMPLES:
        raise ValueError(f"rate {record.fs} Hz / {record.sig_len} samples instead of {ECG_FS} Hz / {ECG_SAMPLES}")
    missing = [lead for lead in LEADS if lead not in record.sig_name]
    if missing:
        raise ValueError(f"leads {missing} missing")
    sig = record.p_signal[:, [record.sig_name.index(lead) for lead in LEADS]].T  # (12, 5000) mV
    return np.clip(np.round(np.nan_to_num(sig) * ECG_GAIN_PER_MV), -32767, 32767).astype(np.int16)


def _diagnoses(con, root: Path, stays: pd.DataFrame, tally: Tally) -> pd.DataFrame:
    """Per stay (row order of ``stays``): ``stay_id``, ``has_diagnoses`` (its admission has any
    row in diagnoses_icd) and one bool per ``DIAGNOSES`` column, matched by ``hadm_id``."""
    rules = pd.DataFrame(
        [(col, int(version), prefix) for col, (_, codes) in DIAGNOSES.items() for version, prefixes in codes.items() for prefix in prefixes],
        columns=["dx", "icd_version", "prefix"],
    )
    con.register("dx_rules", rules)
    con.register("dx_admissions", pd.DataFrame({"hadm_id": stays["hadm_id"].dropna().astype(np.int64).unique()}))
    sql_rows = f"""
        SELECT d.hadm_id, d.icd_version, upper(replace(trim(d.icd_code), '.', '')) AS code
        FROM (SELECT hadm_id, icd_code, icd_version FROM {_table(root, 'hosp/diagnoses_icd')}) d
        SEMI JOIN dx_admissions a ON d.hadm_id = a.hadm_id
    """
    codes = _frame(con, f"SELECT hadm_id, count(*) AS n FROM ({sql_rows}) GROUP BY hadm_id", "diagnoses_icd")
    hits = _frame(
        con,
        f"""SELECT DISTINCT c.hadm_id, r.dx FROM ({sql_rows}) c
            JOIN dx_rules r ON c.icd_version = r.icd_version AND starts_with(c.code, r.prefix)""",
        "diagnoses_icd",
    )
    hadm = stays["hadm_id"].to_numpy()
    out = pd.DataFrame({"stay_id": stays["stay_id"].astype(np.int64).to_numpy(), "has_diagnoses": np.isin(hadm, codes["hadm_id"].to_numpy())})
    for col in DIAGNOSES:
        out[col] = np.isin(hadm, hits.loc[hits["dx"] == col, "hadm_id"].to_numpy()) & out["has_diagnoses"].to_numpy()
    tally.count("diagnoses_icd rows: of the cohort's admissions", int(codes["n"].sum()))
    tally.count("stays: no diagnoses_icd row for the admission (diagnosis concepts unknown)", int((~out["has_diagnoses"]).sum()))
    return out


_STEPS = ("cohort", "chartevents", "labevents", "ECG", "writing")


def build_mimic(
    mimic_dir: str | Path,
    out: str | Path,
    *,
    ecg_dir: str | Path | None = None,
    options: MimicOptions | None = None,
    overwrite: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> str:
    """Build a cohort bundle from a MIMIC-IV install (and MIMIC-IV-ECG); returns its fingerprint."""
    options = options or MimicOptions()
    root = Path(mimic_dir)
    if not root.is_dir():
        raise CohortError(f"MIMIC-IV directory {root} does not exist (expected hosp/ and icu/ inside)")
    for sub in ("hosp", "icu"):
        if not (root / sub).is_dir():
            raise CohortError(f"MIMIC-IV directory {root} has no {sub}/ folder (expected {root / sub})")
    ecg_root = Path(ecg_dir) if ecg_dir is not None else None
    if ecg_root is not None and not ecg_root.is_dir():
        raise CohortError(f"MIMIC-IV-ECG directory {ecg_root} does not exist")

    def step(k: int) -> None:
        if progress is not None:
            progress("building MIMIC-IV", k, 5, _STEPS[k] if k < 5 else "done")

    tally = Tally()
    with atomic_directory(Path(out), overwrite=overwrite) as tmp:
        con = _connect(options, tmp)
        stays = _cohort(con, root, options, tally)
        if len(stays) < 3:
            raise CohortError(f"only {len(stays)} ICU stays in {root} meet the cohort definition; need at least 3")
        con.register("cohort_df", stays[["row", "stay_id", "subject_id", "intime", "obs_end"]])
        con.execute("CREATE TABLE cohort AS SELECT * FROM cohort_df")
        step(1)
        n, hours = len(stays), options.window_hours
        values, _cnt, seen_chart = _vitals(con, root, options, n, tally)
        step(2)
        labs, seen_lab = _labs(con, root, options, n, tally)
        names = list(FEATURES)
        for item, feat in LAB_ITEMS.items():
            values[:, :, names.index(feat)] = labs[:, :, list(dict.fromkeys(LAB_ITEMS.values())).index(feat)]
        missing_items = sorted(set(CHART_ITEMS) - seen_chart) + sorted(set(LAB_ITEMS) - seen_lab)
        step(3)
        mask = np.isfinite(values)
        hashes = {}
        for name, arr in (("ehr_values.npy", values.astype(np.float32)), ("ehr_mask.npy", mask.astype(np.uint8))):
            w = NpyStreamWriter(tmp / name, arr.shape, arr.dtype)
            w.write(arr)
            hashes[name] = w.close()
        del values, labs, mask

        # ECG: match from record_list.csv, open only the matched records
        has_signal = np.zeros(n, dtype=bool)
        signal_time = np.full(n, np.nan)
        study = np.full(n, -1, dtype=np.int64)
        writer = NpyStreamWriter(tmp / "signal.npy", (n, len(LEADS), ECG_SAMPLES), np.int16)
        if ecg_root is not None:
            matches = _match_ecgs(con, ecg_root, options).set_index("row")
            tally.count("ECG records: matched in the window", len(matches))
            block = 256
            for start in range(0, n, block):
                chunk = np.zeros((min(block, n - start), len(LEADS), ECG_SAMPLES), dtype=np.int16)
                for r in range(start, start + len(chunk)):
                    if r not in matches.index:
                        continue
                    m = matches.loc[r]
                    try:
                        chunk[r - start] = _read_ecg(ecg_root, str(m["path"]))
                    except (ValueError, OSError, IndexError) as exc:
                        tally.drop("ECG records", f"unreadable, stay kept without ECG ({str(exc).splitlines()[0][:80]})")
                        continue
                    has_signal[r], signal_time[r], study[r] = True, float(m["hours_from_intime"]), int(m["study_id"])
                writer.write(chunk)
        else:
            for start in range(0, n, 256):
                writer.write(np.zeros((min(256, n - start), len(LEADS), ECG_SAMPLES), dtype=np.int16))
        hashes["signal.npy"] = writer.close()
        # the ECG cart's own measurements (optional): shown beside ours, never a model input, outside the fingerprint
        machine = _machine_measurements(con, ecg_root, study[study >= 0]) if ecg_root is not None else None
        if machine is not None:
            by_study = dict(zip(study, stays["stay_id"].astype(np.int64)))
            machine.insert(0, "stay_id", machine["study_id"].map(by_study).astype(np.int64))
            machine.drop(columns="study_id").to_parquet(tmp / ECG_MACHINE_FILE, index=False)
            tally.count("ECG records: with the cart's machine measurements", len(machine))
        # diagnoses (optional): concept probes only, never a model input, outside the fingerprint
        diagnoses = _diagnoses(con, root, stays, tally) if _has_table(root, "hosp/diagnoses_icd") else None
        if diagnoses is not None:
            diagnoses.to_parquet(tmp / OUTCOMES_FILE, index=False)  # inside the atomic directory
        step(4)
        con.close()

        unit = stays["first_careunit"].where(stays["first_careunit"].isin(CARE_UNITS), "other")
        adm = stays["admission_type"].where(stays["admission_type"].isin(ADMISSION_TYPES), "other")
        table = pd.DataFrame(
            {
                "stay_id": stays["stay_id"].astype(np.int64),
                "subject_id": stays["subject_id"].astype(np.int64),
                "los_days": stays["los"].astype(float),
                "has_signal": has_signal,
                "signal_time_h": signal_time,
                "ecg_study_id": study,
                "age": stays["age"].astype(float),
                "sex": stays["gender"].fillna("unknown").astype(str),
                "admission_type": adm.fillna("other").astype(str),
                "first_careunit": unit.fillna("other").astype(str),
            }
        )
        table.insert(3, "split", assign_splits(table["subject_id"].to_numpy(), seed).astype(str))
        features = {
            "ehr": {
                "n_steps": hours,
                "step_hours": 1.0,
                "features": [
                    {"name": f, "label": lab, "unit": u, "group": "vital" if f in VITAL_GROUP else "lab", "display_range": [lo, hi]}
                    for f, (lab, u, lo, hi) in FEATURES.items()
                ],
            },
            "static": icu_static_features(ADMISSION_TYPES, CARE_UNITS),
            "signal": ecg_signal("12-lead ECG (MIMIC-IV-ECG)", ECG_GAIN_PER_MV),
        }
        provenance = {
            "source": SOURCE,
            "name": f"mimic-iv-{hours}h{'-first' if options.first_stay_only else '-all'}",
            "version": f"user copy; builder-v{BUILDER_VERSION}",
            "seed": seed,
            "options": asdict(options),
            "with_ecg": ecg_root is not None,
            "n_stays": n,
            "n_without_signal": int((~has_signal).sum()),
            "missing_itemids": missing_items,
            "warnings": [f"itemid {i} was asked for but does not occur in the data" for i in missing_items]
            + ([] if diagnoses is not None else [f"hosp/diagnoses_icd not found in {root}: no diagnosis concepts ({OUTCOMES_FILE} not written)"]),
            "diagnoses": (
                {
                    "table": "hosp/diagnoses_icd",
                    "file": OUTCOMES_FILE,
                    "model_input": False,
                    "matched_by": "hadm_id",
                    "codes": {col: {"concept": name, **{f"icd{v}": list(p) for v, p in codes.items()}} for col, (name, codes) in DIAGNOSES.items()},
                    "n_stays_with_codes": int(diagnoses["has_diagnoses"].sum()),
                    "positives": {col: int(diagnoses[col].sum()) for col in DIAGNOSES},
                    "file_sha256": table_sha256(diagnoses),
                }
                if diagnoses is not None
                else None
            ),
            "counts": tally.counts(),
            "dropped": tally.dropped(),
            "citation": (
                "Johnson AEW et al. MIMIC-IV (PhysioNet); Gow B et al. MIMIC-IV-ECG (PhysioNet); "
                "Goldberger AL et al. Circulation 2000;101(23):e215-e220. Credentialed access; not redistributable."
            ),
        }
        fingerprint = finalize_bundle(tmp, table, features, provenance, hashes)
        step(5)
    return fingerprint
