"""The cohort bundle: the one on-disk format that training, evaluation and the app read.

A bundle is a directory (see ``docs/COHORT_BUNDLE.md``)::

    stays.parquet        one row per ICU stay: stay_id, subject_id, los_days, split,
                         has_signal, static features, source-specific extras
    ehr_values.npy       (N, T, F) float32, NaN where not observed
    ehr_mask.npy         (N, T, F) uint8, 1 where observed
    signal.npy           (N, C, L) int16 or float32; physical value = stored * scale
    signal_mask.npy      optional (N, C, L) uint8, 1 where observed (sparse series, NaN elsewhere)
    features.json        names, units and groups of every feature and channel
    provenance.json      source, version, seed, counts of what was dropped and why, fingerprint
    latent_causes.parquet   (synthetic cohorts only) ground truth, never read by the model
    outcomes.parquet     optional (MIMIC-IV with diagnoses_icd): stay_id, has_diagnoses and one
                         bool per diagnosis (dx_*); for the concept probes, never read by the model
                         and outside the fingerprint

Arrays are memory-mapped on open, so a bundle of 100,000 stays opens instantly.
Nothing downstream knows which source a bundle came from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lemof.data.display import clinical_features
from lemof.errors import CohortError, StayNotFoundError
from lemof.paths import file_sha256, write_json_atomic

FORMAT_VERSION = 1
REQUIRED_COLUMNS = ("stay_id", "subject_id", "los_days", "split", "has_signal")
ARRAY_FILES = ("ehr_values.npy", "ehr_mask.npy", "signal.npy")
OPTIONAL_ARRAY_FILES = ("signal_mask.npy",)
REQUIRED_FILES = ("stays.parquet", "features.json", "provenance.json", *ARRAY_FILES)
OUTCOMES_FILE = "outcomes.parquet"  # optional, not a model input (see ``CohortBundle.outcomes``)
ECG_MACHINE_FILE = "ecg_machine.parquet"  # optional, not a model input (see ``CohortBundle.ecg_machine``)
ECG_MACHINE_COLUMNS = ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "axis_deg")
_CHECK_CHUNK = 4096


def feature_title(meta: dict) -> str:
    """A feature's display name from its entry of ``bundle.features`` (clinical names and units,
    ``lemof.data.display``): ``Heart rate (bpm)``; no empty brackets when it has no unit."""
    label, unit = meta.get("label", meta["name"]), str(meta.get("unit", "") or "").strip()
    return f"{label} ({unit})" if unit else label


class NpyStreamWriter:
    """Write a ``.npy`` file of known shape chunk by chunk along axis 0, hashing as it goes.

    Memory stays bounded by one chunk (no memmap whose dirty pages count as resident).
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype | str):
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.rows_written = 0
        self.sha = hashlib.sha256()
        self._fh = open(self.path, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._fh, header)

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        if chunk.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path.name}: chunk shape {chunk.shape} does not fit {self.shape}")
        if self.rows_written + chunk.shape[0] > self.shape[0]:
            raise ValueError(f"{self.path.name}: more rows than the declared {self.shape[0]}")
        data = chunk.tobytes()
        self.sha.update(data)
        self._fh.write(data)
        self.rows_written += chunk.shape[0]

    def close(self) -> str:
        self._fh.close()
        if self.rows_written != self.shape[0]:
            raise ValueError(f"{self.path.name}: wrote {self.rows_written} rows of {self.shape[0]}")
        return self.sha.hexdigest()


def table_sha256(table: pd.DataFrame) -> str:
    """Content hash of a table (names, dtypes, values): independent of the Parquet writer."""
    sha = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in table.dtypes.items()]).encode())
    sha.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return sha.hexdigest()


def finalize_bundle(
    out_dir: Path,
    stays: pd.DataFrame,
    features: dict[str, Any],
    provenance: dict[str, Any],
    array_hashes: dict[str, str],
    latent_causes: pd.DataFrame | None = None,
) -> str:
    """Write the table and JSON parts of a bundle whose arrays are already written.

    Returns the bundle fingerprint (a hash over the content of every model-visible file).
    """
    out_dir = Path(out_dir)
    stays = stays.reset_index(drop=True)
    stays.to_parquet(out_dir / "stays.parquet", index=False)
    features = {"format_version": FORMAT_VERSION, **features}
    write_json_atomic(out_dir / "features.json", features)
    if latent_causes is not None:
        latent_causes.reset_index(drop=True).to_parquet(out_dir / "latent_causes.parquet", index=False)
    parts = {name: array_hashes[name] for name in ARRAY_FILES + OPTIONAL_ARRAY_FILES if name in array_hashes}
    parts["stays.parquet"] = table_sha256(stays)
    parts["features.json"] = file_sha256(out_dir / "features.json")
    fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    provenance = {"format_version": FORMAT_VERSION, **provenance, "fingerprint": fingerprint, "file_sha256": parts}
    write_json_atomic(out_dir / "provenance.json", provenance)
    return fingerprint


@dataclass
class CohortBundle:
    """An opened cohort bundle. Arrays are read-only memory maps (an edited copy, as the what-if
    builds, may hold its own arrays). The row index by stay id is built from ``stays`` here, so
    every bundle, however made, finds its stays; and ``features`` gets the family's clinical names,
    units, decimals and reference ranges here (``lemof.data.display.clinical_features``; the file
    on disk is not touched), so every reader of ``features`` shows them."""

    path: Path
    stays: pd.DataFrame
    features: dict[str, Any]
    provenance: dict[str, Any]
    ehr_values: np.ndarray  # (N, T, F) float32, NaN where not observed
    ehr_mask: np.ndarray  # (N, T, F) uint8
    signal: np.ndarray  # (N, C, L) stored dtype; physical = stored * signal_scale
    signal_mask: np.ndarray | None = None  # (N, C, L) uint8 for sparse series; None: all observed
    _row_of: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._row_of = {int(s): i for i, s in enumerate(self.stays["stay_id"].to_numpy())}
        self.features = clinical_features(str(self.provenance.get("source", "")), self.features)

    # --- identity -------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        return str(self.provenance["fingerprint"])

    @property
    def source(self) -> str:
        """Cohort family, e.g. ``synthetic`` or ``physionet2012``; a model is tied to one."""
        return str(self.provenance["source"])

    @property
    def name(self) -> str:
        return str(self.provenance.get("name", self.path.name))

    def __len__(self) -> int:
        return len(self.stays)

    # --- metadata -------------------------------------------------------------------
    @property
    def ehr_feature_names(self) -> list[str]:
        return [f["name"] for f in self.features["ehr"]["features"]]

    @property
    def ehr_step_hours(self) -> float:
        return float(self.features["ehr"]["step_hours"])

    @property
    def static_features(self) -> list[dict[str, Any]]:
        return list(self.features["static"])

    @property
    def signal_channels(self) -> list[str]:
        return list(self.features["signal"]["channels"])

    @property
    def signal_fs(self) -> float:
        return float(self.features["signal"]["fs_hz"])

    @property
    def signal_scale(self) -> float:
        return float(self.features["signal"]["scale"])

    @property
    def sig_label(self) -> str:
        """Short name of the cohort's biosignal ("ECG", "Bedside"), for labels and captions."""
        return str(self.features["signal"].get("short_label", "Signal"))

    # --- rows -----------------------------------------------------------------------
    def row_of(self, stay_id: int | str) -> int:
        """Row index of ``stay_id``; raises ``StayNotFoundError`` with a readable message."""
        try:
            key = int(stay_id)
        except (TypeError, ValueError):
            raise StayNotFoundError(f"stay id {stay_id!r} is not a number (cohort {self.name!r})") from None
        if key not in self._row_of:
            raise StayNotFoundError(f"stay {key} is not in cohort {self.name!r} ({len(self)} stays)")
        return self._row_of[key]

    def rows(self, split: str) -> np.ndarray:
        """Row indices of a split (``train``, ``val``, ``test``) or ``all``."""
        if split == "all":
            return np.arange(len(self))
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be one of train, val, test, all; got {split!r}")
        return np.flatnonzero(self.stays["split"].to_numpy() == split)

    def signal_physical(self, row: int) -> np.ndarray:
        """The stored biosignal of one stay in physical units, (C, L) float32 (NaN where unobserved)."""
        values = np.asarray(self.signal[row], dtype=np.float32) * self.signal_scale
        if self.signal_mask is not None:
            values = np.where(np.asarray(self.signal_mask[row]).astype(bool), values, np.nan)
        return values

    def latent_causes(self) -> pd.DataFrame | None:
        """Ground-truth causes of a synthetic cohort (never fed to a model), else None."""
        path = self.path / "latent_causes.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @cached_property
    def _ecg_machine_table(self) -> pd.DataFrame | None:
        path = self.path / ECG_MACHINE_FILE
        if not path.exists():
            return None
        try:
            return pd.read_parquet(path).set_index("stay_id")
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise CohortError(f"{path} is not a readable Parquet table ({type(exc).__name__})") from None

    def ecg_machine(self, stay_id: int) -> dict[str, float | None] | None:
        """The ECG cart's own measurements of the stay's ECG (MIMIC-IV-ECG ``machine_measurements.csv``,
        ``ecg_machine.parquet``; not a model input), or None when the bundle or the stay has none."""
        table = self._ecg_machine_table
        if table is None:
            return None
        if int(stay_id) not in table.index:
            return None
        row = table.loc[int(stay_id)]
        return {k: (None if pd.isna(row.get(k)) else float(row[k])) for k in ECG_MACHINE_COLUMNS}

    def outcomes(self) -> pd.DataFrame | None:
        """``outcomes.parquet`` in the bundle's row order (stay_id, has_diagnoses, dx_* bools), or
        None if the bundle has none. Not a model input: for concept probes only."""
        path = self.path / OUTCOMES_FILE
        if not path.exists():
            return None
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise CohortError(f"{path} is not a readable Parquet table ({type(exc).__name__})") from None
        if "stay_id" not in table.columns or table["stay_id"].duplicated().any():
            raise CohortError(f"{path} must have a unique stay_id column")
        unknown = sorted(set(self.stays["stay_id"].astype(np.int64)) - set(table["stay_id"].astype(np.int64)))
        if unknown:
            raise CohortError(f"{path} lacks {len(unknown)} stay(s) of stays.parquet, e.g. stay {unknown[0]}")
        return table.set_index("stay_id").reindex(self.stays["stay_id"].to_numpy()).reset_index()


def _load_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except json.JSONDecodeError as exc:
        raise CohortError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(obj, dict):
        raise CohortError(f"{path} must hold a JSON object")
    return obj


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CohortError(f"{path} is not a readable .npy array ({exc})") from None


def open_bundle(path: str | Path, *, check_values: bool = True) -> CohortBundle:
    """Open and validate a cohort bundle; every problem is a ``CohortError`` naming it."""
    path = Path(path)
    if not path.is_dir():
        raise CohortError(f"cohort bundle {path} does not exist or is not a directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).exists()]
    if missing:
        raise CohortError(f"cohort bundle {path} is missing {', '.join(missing)}")
    try:
        stays = pd.read_parquet(path / "stays.parquet")
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise CohortError(f"{path / 'stays.parquet'} is not a readable Parquet table ({exc})") from None
    features = _load_json(path / "features.json")
    provenance = _load_json(path / "provenance.json")
    if features.get("format_version") != FORMAT_VERSION:
        raise CohortError(
            f"cohort bundle {path} has format version {features.get('format_version')!r}; "
            f"this code reads version {FORMAT_VERSION}"
        )
    for key in ("source", "fingerprint"):
        if key not in provenance:
            raise CohortError(f"{path / 'provenance.json'} lacks the field {key!r}")
    absent = [c for c in REQUIRED_COLUMNS if c not in stays.columns]
    absent += [s["name"] for s in features.get("static", []) if s["name"] not in stays.columns]
    if absent:
        raise CohortError(f"{path / 'stays.parquet'} lacks the column(s) {', '.join(absent)}")
    ehr_values = _load_array(path / "ehr_values.npy")
    ehr_mask = _load_array(path / "ehr_mask.npy")
    signal = _load_array(path / "signal.npy")
    signal_mask = _load_array(path / "signal_mask.npy") if (path / "signal_mask.npy").exists() else None
    bundle = CohortBundle(path, stays, features, provenance, ehr_values, ehr_mask, signal, signal_mask)
    _validate(bundle, check_values=check_values)
    return bundle


def _validate(b: CohortBundle, *, check_values: bool) -> None:
    n = len(b.stays)
    where = b.path
    ids = b.stays["stay_id"]
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise CohortError(f"{where}: stay_id {dup} appears more than once in stays.parquet")
    bad_split = sorted(set(b.stays["split"].astype(str)) - {"train", "val", "test"})
    if bad_split:
        raise CohortError(f"{where}: split has unknown value(s) {bad_split}; allowed: train, val, test")
    per_subject = b.stays.groupby("subject_id")["split"].nunique()
    if (per_subject > 1).any():
        raise CohortError(
            f"{where}: subject {per_subject.index[per_subject > 1][0]} has stays in more than one split"
        )
    los = b.stays["los_days"].to_numpy(dtype=float)
    if not np.all(np.isfinite(los)) or np.any(los < 0):
        raise CohortError(f"{where}: los_days must be finite and non-negative for every stay")
    f = len(b.features["ehr"]["features"])
    t = int(b.features["ehr"]["n_steps"])
    c = len(b.features["signal"]["channels"])
    expect = {"ehr_values.npy": (b.ehr_values, (n, t, f)), "ehr_mask.npy": (b.ehr_mask, (n, t, f))}
    for name, (arr, shape) in expect.items():
        if arr.shape != shape:
            raise CohortError(f"{where}: {name} has shape {arr.shape}, expected {shape} from stays and features")
    if b.signal.ndim != 3 or b.signal.shape[:2] != (n, c):
        raise CohortError(f"{where}: signal.npy has shape {b.signal.shape}, expected ({n}, {c}, L)")
    if b.signal_mask is not None and b.signal_mask.shape != b.signal.shape:
        raise CohortError(f"{where}: signal_mask.npy has shape {b.signal_mask.shape}, expected {b.signal.shape}")
    if not check_values:
        return
    def first_bad(values: np.ndarray, observed: np.ndarray | None) -> tuple[int, int, int] | None:
        bad = ~np.isfinite(values) if observed is None else observed.astype(bool) & ~np.isfinite(values)
        return tuple(int(v) for v in np.argwhere(bad)[0]) if bad.any() else None

    for start in range(0, n, _CHECK_CHUNK):
        sl = slice(start, start + _CHECK_CHUNK)
        if (hit := first_bad(np.asarray(b.ehr_values[sl]), np.asarray(b.ehr_mask[sl]))) is not None:
            i, step, j = hit
            raise CohortError(
                f"{where}: observed EHR value is NaN/inf for stay {int(ids.iloc[start + i])}, "
                f"feature {b.ehr_feature_names[j]!r}, step {step}"
            )
        if b.signal.dtype.kind == "f":
            observed = None if b.signal_mask is None else np.asarray(b.signal_mask[sl])
            if (hit := first_bad(np.asarray(b.signal[sl]), observed)) is not None:
                i, ch, t = hit
                raise CohortError(
                    f"{where}: observed biosignal value is NaN/inf for stay {int(ids.iloc[start + i])}, "
                    f"channel {b.signal_channels[ch]!r}, sample {t}"
                )
