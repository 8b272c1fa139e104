"""Reading the PhysioNet/CinC Challenge 2012 files into one long table, counting what is wrong.

Accepts the layout PhysioNet publishes -- for each set X a folder ``set-X/`` of
``RecordID.txt`` files with ``Outcomes-X.txt`` beside it (sets a, b and c exist; any subset
may be present) -- as a directory or a ``.tar.gz``, and the compact Parquet conversion
vendored in ``assets/data/physionet2012/``. Each record file is CSV ``Time,Parameter,Value``
with ``Time`` as ``HH:MM`` since ICU admission.

The result is a ``LongRecords``: one row per readable line (record, set, minutes, parameter,
value) plus the outcomes table and counts of every file and line that could not be read.
Cleaning (limits, unknown parameters, duplicates) happens in ``physionet2012.py``, the same
way for every source.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from lemof.errors import CohortError

VENDORED_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "data" / "physionet2012"
_RECORD = re.compile(r"(?:^|/)set-([a-z])/(\d+)\.txt$")
_OUTCOMES = re.compile(r"(?:^|/)Outcomes-([a-z])\.txt$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
OUTCOME_COLUMNS = ("RecordID", "SAPS-I", "SOFA", "Length_of_stay", "Survival", "In-hospital_death")

@dataclass
class LongRecords:
    rows: pd.DataFrame  # record_id int32, set str, minutes int32, parameter str, value float32
    outcomes: pd.DataFrame  # record_id, set, los_days (+ the other outcome columns)
    sets: list[str]
    problems: Counter = field(default_factory=Counter)  # reason -> count of files or lines
    record_sets: dict[int, str] = field(default_factory=dict)  # every record file seen, readable or not

    def only(self, sets) -> "LongRecords":
        """The records of ``sets`` only (e.g. ``["a"]``), for a cohort whose stays never mix with
        another set's (external validation). Read problems are counted over every file read."""
        wanted = sorted({str(s).strip().lower() for s in sets})
        unknown = [s for s in wanted if s not in self.sets]
        if not wanted or unknown:
            raise CohortError(f"PhysioNet 2012 set(s) {', '.join(unknown) or '(none)'} not in this source; it has set(s) {', '.join(self.sets)}")
        record_sets = {r: s for r, s in self.record_sets.items() if s in wanted}
        return LongRecords(
            self.rows[self.rows["set"].isin(wanted)].reset_index(drop=True),
            self.outcomes[self.outcomes["record_id"].isin(list(record_sets))].reset_index(drop=True),
            wanted, Counter(self.problems), record_sets,
        )


def _parse_record(text: str, problems: Counter) -> list[tuple[int, str, float]] | None:
    """(minutes, parameter, value) of each readable line; None if the file is not this CSV."""
    lines = text.splitlines()
    if not lines or lines[0].strip().replace(" ", "") != "Time,Parameter,Value":
        return None
    out = []
    for line in lines[1:]:
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 3:
            problems["line: not three comma-separated fields"] += 1
            continue
        time, param, value = (p.strip() for p in parts)
        m = _TIME.match(time)
        if m is None:
            problems["line: time not HH:MM"] += 1
            continue
        try:
            number = float(value)
        except ValueError:
            problems["line: value not a number"] += 1
            continue
        out.append((int(m.group(1)) * 60 + int(m.group(2)), param, number))
    return out


def _read_outcomes(text: str, set_name: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CohortError(f"Outcomes-{set_name}.txt is not a readable CSV ({exc})") from None
    missing = [c for c in ("RecordID", "Length_of_stay") if c not in table.columns]
    if missing:
        raise CohortError(f"Outcomes-{set_name}.txt lacks the column(s) {missing}; expected {', '.join(OUTCOME_COLUMNS)}")
    table = table.rename(columns={"RecordID": "record_id", "Length_of_stay": "los_days"})
    table["set"] = set_name
    return table


def _iter_tar(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile():
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield member.name, fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CohortError(f"{path} is not a readable tar archive ({exc})") from None


def _iter_dir(path: Path) -> Iterator[tuple[str, bytes]]:
    for f in sorted(path.rglob("*")):
        if f.is_file():
            yield f.relative_to(path).as_posix(), f.read_bytes()


def read_raw(source: Path) -> LongRecords:
    """Read a PhysioNet 2012 directory or ``.tar.gz``; every problem is counted, not fatal."""
    source = Path(source)
    if not source.exists():
        raise CohortError(f"PhysioNet 2012 source {source} does not exist (expected a directory with set-a/ … or a .tar.gz)")
    files = _iter_tar(source) if source.is_file() else _iter_dir(source)
    problems: Counter = Counter()
    chunks: list[pd.DataFrame] = []
    outcomes: list[pd.DataFrame] = []
    record_sets: dict[int, str] = {}
    for name, data in files:
        if (m := _OUTCOMES.search(name)) is not None:
            outcomes.append(_read_outcomes(data.decode("utf-8", errors="replace"), m.group(1)))
            continue
        m = _RECORD.search(name)
        if m is None:
            continue
        set_name, record_id = m.group(1), int(m.group(2))
        record_sets[record_id] = set_name
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            problems["file: not UTF-8 text"] += 1
            continue
        rows = _parse_record(text, problems)
        if rows is None:
            problems["file: not a Time,Parameter,Value CSV"] += 1
            continue
        if rows:
            minutes, params, values = zip(*rows)
            chunks.append(
                pd.DataFrame(
                    {
                        "record_id": np.int32(record_id),
                        "set": set_name,
                        "minutes": np.asarray(minutes, dtype=np.int32),
                        "parameter": params,
                        "value": np.asarray(values, dtype=np.float64).astype(np.float32),
                    }
                )
            )
    if not record_sets:
        raise CohortError(f"{source} holds no set-X/RecordID.txt files (the PhysioNet 2012 layout)")
    if not outcomes:
        raise CohortError(f"{source} holds no Outcomes-X.txt file, so no stay has a LOS label")
    rows = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=["record_id", "set", "minutes", "parameter", "value"])
    sets = sorted(set(record_sets.values()))
    return LongRecords(rows, pd.concat(outcomes, ignore_index=True), sets, problems, record_sets)


def write_vendored(records: LongRecords, out: Path) -> None:
    """Write the compact conversion (Parquet, about 7 MB) that ships in the repository.

    Every readable line is kept, in file order within each record (records sorted by id), so
    building a bundle from it gives the same bundle as building from the original files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rows = records.rows.drop(columns=["set"]).sort_values("record_id", kind="stable")
    rows = rows.astype({"record_id": np.int32, "minutes": np.int16, "value": np.float32})
    pq.write_table(
        pa.Table.from_pandas(rows, preserve_index=False),
        out / "records.parquet",
        compression="zstd",
        compression_level=19,
        use_dictionary=["parameter"],
        column_encoding={"record_id": "DELTA_BINARY_PACKED", "minutes": "DELTA_BINARY_PACKED"},
    )
    files = pd.DataFrame({"record_id": list(records.record_sets), "set": list(records.record_sets.values())})
    files.sort_values("record_id").to_parquet(out / "record_files.parquet", index=False, compression="zstd")
    records.outcomes.to_parquet(out / "outcomes.parquet", index=False, compression="zstd")
    (out / "read_problems.json").write_text(json.dumps(dict(records.problems), indent=2, sort_keys=True) + "\n")


def read_vendored(path: Path = VENDORED_DIR) -> LongRecords:
    """Read the vendored Parquet conversion (same content as the files it came from)."""
    needed = ("records.parquet", "record_files.parquet", "outcomes.parquet")
    missing = [n for n in needed if not (path / n).exists()]
    if missing:
        raise CohortError(f"vendored PhysioNet 2012 data at {path} lacks {', '.join(missing)}")
    rows = pd.read_parquet(path / "records.parquet")
    files = pd.read_parquet(path / "record_files.parquet")
    record_sets = dict(zip(files["record_id"].astype(int), files["set"].astype(str)))
    rows = rows.astype({"record_id": np.int32, "minutes": np.int32, "parameter": str})
    rows.insert(1, "set", rows["record_id"].map(record_sets).astype(str))
    outcomes = pd.read_parquet(path / "outcomes.parquet")
    problems_path = path / "read_problems.json"
    problems = Counter(json.loads(problems_path.read_text())) if problems_path.exists() else Counter()
    return LongRecords(rows, outcomes, sorted(set(record_sets.values())), problems, record_sets)
