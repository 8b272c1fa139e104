"""PhysioNet/CinC Challenge 2012 -> cohort bundle (DATA.md section 2).

Modality split: the **biosignal** is the dense bedside-monitor series (HR, invasive and
non-invasive pressures, respiratory rate, SaO2, temperature, urine output) on a 30-minute grid
over the first 48 h, with an observation mask; the **EHR** is the descriptors (static) plus
labs, blood gases, GCS, FiO2, ventilation and weight on an hourly grid with masks. The label
is ``Length_of_stay`` (days since ICU admission); stays with ``-1`` (unknown) are excluded.

Real files have quirks; each is survived and counted in ``provenance.json["dropped"]``:
empty or unknown parameter names, duplicated descriptor lines, ``-1`` and physiologically
impossible values (limits per variable below), values after 48 h, records with no time series,
files that are not the expected CSV, records without an outcome row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lemof.data.bundle import NpyStreamWriter, finalize_bundle
from lemof.data.physionet2012_source import LongRecords, read_raw, read_vendored
from lemof.data.sources import register_source
from lemof.data.splits import assign_splits
from lemof.progress import Progress
from lemof.data.tally import Tally
from lemof.errors import CohortError
from lemof.paths import atomic_directory

SOURCE = "physionet2012"
BUILDER_VERSION = 1
EHR_HOURS = 48
SIG_BIN_MINUTES = 30
SIG_BINS = EHR_HOURS * 60 // SIG_BIN_MINUTES  # 96
DESCRIPTORS = ("RecordID", "Age", "Gender", "Height", "ICUType")
ICU_TYPES = {1: "CCU", 2: "CSRU", 3: "MICU", 4: "SICU"}  # coronary, cardiac surgery recovery, medical, surgical
DESCRIPTOR_LIMITS = {"Age": (15, 110), "Height": (100, 250), "Weight": (20, 400)}

# name: (label, unit, low, high) -- values outside [low, high] (and -1) are impossible and dropped.
SIGNAL_CHANNELS = {
    "HR": ("Heart rate", "bpm", 1, 300),
    "SysABP": ("Invasive systolic BP", "mmHg", 1, 300),
    "DiasABP": ("Invasive diastolic BP", "mmHg", 1, 250),
    "MAP": ("Invasive mean BP", "mmHg", 1, 300),
    "NISysABP": ("Non-invasive systolic BP", "mmHg", 1, 300),
    "NIDiasABP": ("Non-invasive diastolic BP", "mmHg", 1, 250),
    "NIMAP": ("Non-invasive mean BP", "mmHg", 1, 300),
    "RespRate": ("Respiratory rate", "breaths/min", 1, 80),
    "SaO2": ("Arterial O2 saturation", "%", 1, 100),
    "Temp": ("Temperature", "°C", 20, 45),
    "Urine": ("Urine output", "mL", 0, 10000),
}
# what-if edits of a bedside channel stay within these limits (lemof.data.sources)
register_source(SOURCE, los_definition="length of stay from ICU admission to the end of the hospitalisation: ward days after the ICU included (PhysioNet 2012's Length_of_stay)",
                channel_limits={name: (float(lo), float(hi)) for name, (_, _, lo, hi) in SIGNAL_CHANNELS.items()})

EHR_VARIABLES = {
    "GCS": ("GCS", "points", 3, 15, "score"),
    "FiO2": ("FiO2", "fraction", 0.21, 1.0, "ventilation"),
    "MechVent": ("Mechanical ventilation", "flag", 0, 1, "ventilation"),
    "pH": ("Arterial pH", "", 6.5, 8.0, "blood gas"),
    "PaCO2": ("PaCO2", "mmHg", 5, 200, "blood gas"),
    "PaO2": ("PaO2", "mmHg", 10, 800, "blood gas"),
    "HCT": ("Haematocrit", "%", 5, 80, "lab"),
    "K": ("Potassium", "mEq/L", 1, 12, "lab"),
    "Platelets": ("Platelets", "10^9/L", 1, 2000, "lab"),
    "Creatinine": ("Creatinine", "mg/dL", 0.05, 30, "lab"),
    "BUN": ("BUN", "mg/dL", 1, 300, "lab"),
    "HCO3": ("Bicarbonate", "mmol/L", 1, 60, "lab"),
    "Mg": ("Magnesium", "mmol/L", 0.2, 10, "lab"),
    "Na": ("Sodium", "mEq/L", 90, 200, "lab"),
    "Glucose": ("Glucose", "mg/dL", 10, 2000, "lab"),
    "WBC": ("WBC", "10^9/L", 0.05, 300, "lab"),
    "Lactate": ("Lactate", "mmol/L", 0.1, 40, "lab"),
    "Bilirubin": ("Bilirubin", "mg/dL", 0.05, 80, "lab"),
    "AST": ("AST", "IU/L", 1, 20000, "lab"),
    "ALT": ("ALT", "IU/L", 1, 20000, "lab"),
    "ALP": ("ALP", "IU/L", 1, 5000, "lab"),
    "Albumin": ("Albumin", "g/dL", 0.5, 7, "lab"),
    "TroponinT": ("Troponin T", "μg/L", 0.0, 50, "lab"),
    "TroponinI": ("Troponin I", "μg/L", 0.0, 100, "lab"),
    "Cholesterol": ("Cholesterol", "mg/dL", 20, 1000, "lab"),
    "Weight": ("Weight", "kg", 20, 400, "vital"),
}
_SUMMED = {"Urine"}  # per bin: total volume, not mean
_MAXED = {"MechVent"}



def _limits_mask(rows: pd.DataFrame, table: dict) -> pd.Series:
    low = rows["parameter"].map({k: v[2] for k, v in table.items()})
    high = rows["parameter"].map({k: v[3] for k, v in table.items()})
    return (rows["value"] >= low) & (rows["value"] <= high)


def _descriptors(rows: pd.DataFrame, tally: Tally) -> pd.DataFrame:
    """One row of descriptors per record (first line wins; later duplicates are counted)."""
    desc = rows[rows["parameter"].isin(DESCRIPTORS)]
    dup = desc.duplicated(["record_id", "parameter"], keep="first")
    tally.drop("rows", "duplicated descriptor line (first kept)", dup.sum())
    wide = desc[~dup].pivot(index="record_id", columns="parameter", values="value")
    for name in DESCRIPTORS:
        if name not in wide:
            wide[name] = np.nan
    weight = rows[(rows["parameter"] == "Weight") & (rows["minutes"] == 0)].drop_duplicates("record_id")
    wide["Weight"] = weight.set_index("record_id")["value"]
    for name, (low, high) in DESCRIPTOR_LIMITS.items():
        bad = wide[name].notna() & (wide[name] != -1) & ~wide[name].between(low, high)
        tally.drop("descriptors", f"{name} outside {low}-{high} (set missing)", bad.sum())
        wide.loc[bad | (wide[name] == -1), name] = np.nan
    bad_sex = wide["Gender"].notna() & ~wide["Gender"].isin([0, 1, -1])
    tally.drop("descriptors", "Gender not 0/1 (set missing)", bad_sex.sum())
    bad_unit = wide["ICUType"].notna() & ~wide["ICUType"].isin(list(ICU_TYPES))
    tally.drop("descriptors", "ICUType not 1-4 (set missing)", bad_unit.sum())
    return wide


def _clean_series(rows: pd.DataFrame, tally: Tally) -> pd.DataFrame:
    """Time-series rows with a known parameter, inside 48 h and inside physiological limits."""
    empty = rows["parameter"].str.strip() == ""
    tally.drop("rows", "empty parameter name", empty.sum())
    rows = rows[~empty]
    known = set(SIGNAL_CHANNELS) | set(EHR_VARIABLES) | set(DESCRIPTORS)
    unknown = ~rows["parameter"].isin(known)
    for name, n in rows.loc[unknown, "parameter"].value_counts().items():
        tally.drop("rows", f"unknown parameter {name!r}", n)
    series = rows[~unknown & ~rows["parameter"].isin(DESCRIPTORS)]
    # the admission weight at 00:00 is a descriptor; its first line is not a time-series value
    at_zero = series[(series["parameter"] == "Weight") & (series["minutes"] == 0)]
    series = series.drop(index=at_zero.drop_duplicates("record_id", keep="first").index)
    late = series["minutes"] > EHR_HOURS * 60
    tally.drop("rows", "time after 48:00", late.sum())
    series = series[~late]
    table = {**SIGNAL_CHANNELS, **EHR_VARIABLES}
    ok = _limits_mask(series, table)
    for name, n in series.loc[~ok, "parameter"].value_counts().items():
        low, high = table[name][2], table[name][3]
        tally.drop("rows", f"{name} outside {low}-{high} (incl. -1)", n)
    return series[ok]


def _grid(series: pd.DataFrame, row_of: pd.Series, names: list[str], bins: int, bin_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, bins, len(names)) values (NaN where unobserved) and mask, aggregating within a bin."""
    values = np.full((len(row_of), bins, len(names)), np.nan, dtype=np.float32)
    part = series[series["parameter"].isin(names)].copy()
    part["row"] = part["record_id"].map(row_of)
    part = part[part["row"].notna()]
    part["bin"] = np.minimum(part["minutes"].to_numpy() // bin_minutes, bins - 1)
    part["col"] = part["parameter"].map({n: j for j, n in enumerate(names)})
    keys = ["row", "bin", "col"]
    for how, subset in (("sum", _SUMMED), ("max", _MAXED)):
        chosen = part["parameter"].isin(subset)
        agg = part[chosen].groupby(keys)["value"].agg(how).reset_index()
        values[agg["row"].astype(int), agg["bin"], agg["col"]] = agg["value"].astype(np.float32)
        part = part[~chosen]
    agg = part.groupby(keys)["value"].mean().reset_index()
    values[agg["row"].astype(int), agg["bin"], agg["col"]] = agg["value"].astype(np.float32)
    return values, np.isfinite(values).astype(np.uint8)


def _features_meta() -> dict:
    return {
        "ehr": {
            "n_steps": EHR_HOURS,
            "step_hours": 1.0,
            "features": [
                {"name": n, "label": lab, "unit": u, "group": g, "display_range": [lo, hi]} for n, (lab, u, lo, hi, g) in EHR_VARIABLES.items()
            ],
        },
        "static": [
            {"name": "age", "kind": "numeric", "unit": "years"},
            {"name": "sex", "kind": "categorical", "categories": ["F", "M"]},
            {"name": "height_cm", "kind": "numeric", "unit": "cm"},
            {"name": "weight_kg", "kind": "numeric", "unit": "kg"},
            {"name": "first_careunit", "kind": "categorical", "categories": list(ICU_TYPES.values())},
        ],
        "signal": {
            "kind": "bedside",
            "label": "Bedside monitor series (30-min grid)",
            "short_label": "Bedside",
            "channels": list(SIGNAL_CHANNELS),
            "channel_labels": [v[0] for v in SIGNAL_CHANNELS.values()],
            "units": [v[1] for v in SIGNAL_CHANNELS.values()],
            "unit": "mixed",
            "fs_hz": 1.0 / (SIG_BIN_MINUTES * 60),
            "duration_s": EHR_HOURS * 3600.0,
            "scale": 1.0,
            "aggregation": {"Urine": "sum per 30 min"},
        },
    }


_STEPS = ("reading records", "cleaning", "gridding", "writing")


def build_physionet2012(
    source: str | Path | None, out: str | Path, *, progress: Progress | None = None, overwrite: bool = False, seed: int = 0,
    sets: list[str] | tuple[str, ...] | None = None,
) -> str:
    """Build the PhysioNet 2012 bundle from ``source`` (directory, ``.tar.gz``, or None/"vendored"
    for the copy shipped in the repository); returns the bundle fingerprint.

    ``sets`` keeps only the records of those challenge sets (e.g. ``["a"]``: the bundle
    ``physionet2012-seta``, split into train/val/test within set a), so that a model trained on
    one set can be validated externally on another, the records never mixing.

    ``progress`` is told after each of the four steps (read, clean, grid, write).
    """
    vendored = source is None or str(source) == "vendored"

    def step(k: int) -> None:
        if progress is not None:
            progress("building PhysioNet 2012", k, 4, _STEPS[min(k, 3)] if k < 4 else "done")

    records: LongRecords = read_vendored() if vendored else read_raw(Path(source))
    if sets is not None:
        records = records.only(sets)
    step(1)
    tally = Tally()
    for reason, n in records.problems.items():
        tally.drop("files" if reason.startswith("file") else "rows", reason.split(": ", 1)[-1], n)
    rows = records.rows
    desc = _descriptors(rows, tally)
    series = _clean_series(rows, tally)

    outcomes = records.outcomes.drop_duplicates("record_id", keep="first")
    has_file = outcomes["record_id"].isin(list(records.record_sets))
    tally.drop("outcome rows", "no record file for this outcome row", (~has_file).sum())
    ids = pd.Index(sorted(records.record_sets), name="record_id")
    los = outcomes.set_index("record_id")["los_days"].reindex(ids)
    with_series = set(series["record_id"].unique())
    readable = set(rows["record_id"].unique())
    keep = []
    for rid in ids:
        if rid not in readable:
            tally.drop("stays", "record file unreadable or empty", 1)
        elif pd.isna(los.loc[rid]):
            tally.drop("stays", "no outcome row", 1)
        elif los.loc[rid] < 0:
            tally.drop("stays", "unknown length of stay (-1)", 1)
        elif rid not in with_series:
            tally.drop("stays", "no time series (descriptors only)", 1)
        else:
            keep.append(rid)
    if len(keep) < 10:
        raise CohortError(f"only {len(keep)} usable PhysioNet 2012 stays in {source or 'the vendored data'}; need at least 10")
    step(2)
    keep_ids = pd.Index(keep, name="record_id")
    row_of = pd.Series(np.arange(len(keep)), index=keep_ids)

    ehr_names, sig_names = list(EHR_VARIABLES), list(SIGNAL_CHANNELS)
    ehr_values, ehr_mask = _grid(series, row_of, ehr_names, EHR_HOURS, 60)
    sig_values, sig_mask = _grid(series, row_of, sig_names, SIG_BINS, SIG_BIN_MINUTES)
    sig_values = np.transpose(sig_values, (0, 2, 1)).copy()  # (N, C, L)
    sig_mask = np.transpose(sig_mask, (0, 2, 1)).copy()

    step(3)
    d = desc.reindex(keep_ids)
    sex = d["Gender"].map({0.0: "F", 1.0: "M"})
    unit = d["ICUType"].map({float(k): v for k, v in ICU_TYPES.items()})
    stays = pd.DataFrame(
        {
            "stay_id": keep_ids.to_numpy(dtype=np.int64),
            "subject_id": keep_ids.to_numpy(dtype=np.int64),  # the challenge publishes no patient link
            "los_days": los.reindex(keep_ids).to_numpy(dtype=float),
            "has_signal": sig_mask.reshape(len(keep), -1).any(axis=1),
            "age": d["Age"].to_numpy(dtype=float),
            "sex": sex.fillna("unknown").to_numpy(dtype=object),
            "height_cm": d["Height"].to_numpy(dtype=float),
            "weight_kg": d["Weight"].to_numpy(dtype=float),
            "first_careunit": unit.fillna("unknown").to_numpy(dtype=object),
            "set": [records.record_sets[r] for r in keep],
        }
    )
    stays.insert(3, "split", assign_splits(stays["subject_id"].to_numpy(), seed).astype(str))
    with atomic_directory(Path(out), overwrite=overwrite) as tmp:
        hashes = {}
        for name, arr in (("ehr_values.npy", ehr_values), ("ehr_mask.npy", ehr_mask), ("signal.npy", sig_values), ("signal_mask.npy", sig_mask)):
            writer = NpyStreamWriter(tmp / name, arr.shape, arr.dtype)
            writer.write(arr)
            hashes[name] = writer.close()
        provenance = {
            "source": SOURCE,
            "name": f"physionet2012-set{''.join(records.sets)}",
            "version": f"challenge-2012 1.0.0; builder-v{BUILDER_VERSION}",
            "seed": seed,
            "from": "vendored Parquet conversion" if vendored else str(source),
            "sets": records.sets,
            "n_record_files": len(records.record_sets),
            "n_rows_read": int(len(rows)),
            "n_stays": len(keep),
            "n_without_signal": int((~stays["has_signal"]).sum()),
            "dropped": tally.dropped(),
            "citation": (
                "Silva I, Moody G, Scott DJ, Celi LA, Mark RG. Predicting In-Hospital Mortality of ICU Patients: "
                "The PhysioNet/Computing in Cardiology Challenge 2012. Comput Cardiol 2012;39:245-248. "
                "Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 2000;101(23):e215-e220."
            ),
        }
        fingerprint = finalize_bundle(tmp, stays, _features_meta(), provenance, hashes)
    step(4)
    return fingerprint

