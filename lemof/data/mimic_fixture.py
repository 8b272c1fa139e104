"""A MIMIC-IV + MIMIC-IV-ECG look-alike, written in exactly their formats, for tests and benchmarks.

Gzip CSVs with MIMIC's headers and timestamp format (``hosp/``, ``icu/``), and an ECG tree
(``record_list.csv`` + ``files/pXXXX/pXXXXXXXX/sXXXXXXXX/XXXXXXXX.{hea,dat}`` written with
``wfdb``). The physiology comes from the synthetic cohort's generator, so the loader's hourly
grid can be checked value by value against ``FixtureTruth``.

Real-world quirks included on purpose: ``labevents.hadm_id`` null, ``valuenum`` null with a
numeric text ``value`` (kept) or a non-numeric one (dropped), duplicated timestamps, values
outside physiological limits, events before ICU admission and after the observation window,
itemids the loader asks for that never occur (225309/225310/225312, arterial BP "ART BP"),
temperatures in Fahrenheit, children, short stays, second stays, ECGs after the observation
window (must not be used), and one WFDB record whose header and data disagree.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lemof.data import ecg_synth, synthetic
from lemof.data.mimic_schema import (
    ADMISSION_TYPES,
    CARE_UNITS,
    CHART_ITEMS,
    COLUMNS,
    ECG_LEADS_MIMIC_ORDER,
    FEATURES,
    LAB_ITEMS,
    RECORD_LIST_COLUMNS,
    TIMESTAMP_FORMAT,
)

HOURS = 24
_FEATURE_INDEX = {name: j for j, name in enumerate(FEATURES)}
_NOISE_ITEMS = np.array([220046, 220047, 220056, 220058, 223834, 224082, 224086, 224093, 227969, 220001], dtype=np.int64)
_UOM = {"hr": "bpm", "sbp": "mmHg", "dbp": "mmHg", "mbp": "mmHg", "rr": "insp/min", "spo2": "%", "gcs": ""}
_LAB_UOM = {"creatinine": "mg/dL", "lactate": "mmol/L", "wbc": "K/uL", "hemoglobin": "g/dL", "platelets": "K/uL", "sodium": "mEq/L",
            "potassium": "mEq/L", "bicarbonate": "mEq/L", "bun": "mg/dL", "glucose": "mg/dL", "bilirubin": "mg/dL"}
_LAB_OF = {f: item for item, f in LAB_ITEMS.items()}


@dataclass
class FixtureTruth:
    """What the loader should recover (for the stays the cohort definition keeps)."""

    stays: pd.DataFrame  # stay_id, subject_id, hadm_id, intime, los, age, gender, first_careunit, admission_type
    values: np.ndarray  # (n_stays, 24, 19) in the features' units; NaN where nothing was charted
    ecg_study: dict[int, int] = field(default_factory=dict)  # stay_id -> study_id the loader must match
    broken_ecg_studies: list[int] = field(default_factory=list)
    chartevents_rows: int = 0
    labevents_rows: int = 0


def _ts(values: np.ndarray) -> pa.Array:
    """datetime64[s] -> MIMIC timestamp strings."""
    return pc.strftime(pa.array(values.astype("datetime64[s]")), format=TIMESTAMP_FORMAT)


_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none")


def _write_csv(table: pa.Table, path: Path, columns: list[str]) -> None:
    """One table as MIMIC writes it: unquoted header and fields, empty for null, gzip for .gz."""
    stream = _StreamedCsv(path, columns)
    stream.write(table)
    stream.close()


class _StreamedCsv:
    """A CSV (gzip for .gz) written in batches, so MIMIC-scale tables never sit in memory."""

    def __init__(self, path: Path, columns: list[str]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = columns
        # gzip level 1: the same format MIMIC ships, written fast enough for 50 M rows
        self.sink = gzip.open(path, "wb", compresslevel=1) if path.suffix == ".gz" else open(path, "wb")
        self.sink.write((",".join(columns) + "\n").encode())
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        pacsv.write_csv(table.select(self.columns), self.sink, write_options=_CSV_OPTIONS)
        self.rows += table.num_rows

    def close(self) -> None:
        self.sink.close()


def _gcs_components(total: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    motor = np.clip(total - 2, 1, 6)
    rest = total - motor
    verbal = np.clip(rest - 1, 1, 5)
    return rest - verbal, verbal, motor  # eye 1-4, verbal 1-5, motor 1-6


def _fmt(values: np.ndarray, decimals: int) -> pa.Array:
    """Numbers as MIMIC writes them in ``value``: shortest form, no trailing ``.0`` (80, 37.2)."""
    return pc.cast(pa.array(np.round(np.asarray(values, dtype=np.float64), decimals)), pa.string())


def write_mimic_fixture(
    out: str | Path,
    n_patients: int = 100,
    seed: int = 0,
    *,
    extra_chartevents: int = 0,
    record_list_rows: int = 0,
    ecg: bool = True,
    log: Callable[[str], None] | None = None,
) -> FixtureTruth:
    """Write a MIMIC-IV (+ ECG) fixture under ``out`` (``mimic/`` and ``ecg/``) and return the truth.

    ``extra_chartevents`` adds that many rows of other itemids (MIMIC-scale benchmarks);
    ``record_list_rows`` pads ``record_list.csv`` with ECGs of other patients.
    """
    out = Path(out)
    rng = np.random.default_rng([seed, 4242])
    say = log or (lambda _m: None)

    # --- patients and stays -------------------------------------------------------------
    second = rng.uniform(size=n_patients) < 0.25
    n = int(n_patients + second.sum())
    subj_of_stay = np.concatenate([np.arange(n_patients), np.flatnonzero(second)])
    order = np.argsort(subj_of_stay, kind="stable")
    subj_of_stay = subj_of_stay[order]
    is_second = np.r_[False, subj_of_stay[1:] == subj_of_stay[:-1]]
    lat = synthetic._latents(rng, n)
    hr = synthetic._true_hr(rng, lat)
    values, mask = synthetic._ehr(rng, lat, hr)
    values = np.round(np.where(mask.astype(bool), values, np.nan).astype(np.float64), 2)  # undo float32
    los = np.round(synthetic.los_days_from_latents(lat) * rng.uniform(0.95, 1.05, n), 4)
    subject_id = 10_000_000 + subj_of_stay * 7 + 3
    child = rng.uniform(size=n_patients) < 0.04
    age = lat["age"].copy()
    age[child[subj_of_stay]] = 16
    for i in np.flatnonzero(is_second):
        age[i] = age[i - 1]
    gender = np.where(lat["male"], "M", "F")
    for i in np.flatnonzero(is_second):
        gender[i] = gender[i - 1]
    base = np.datetime64("2150-01-01T00:00:00") + (rng.uniform(0, 40 * 365, n) * 86400).astype("timedelta64[s]")
    intime = base.copy()
    for i in np.flatnonzero(is_second):
        intime[i] = intime[i - 1] + np.timedelta64(int(los[i - 1] * 86400), "s") + np.timedelta64(int(rng.uniform(30, 300) * 86400), "s")
    intime = intime.astype("datetime64[m]").astype("datetime64[s]")
    outtime = intime + (los * 86400).astype("timedelta64[s]")
    stay_id = 30_000_000 + np.arange(n) * 11 + 5
    hadm_id = 20_000_000 + np.arange(n) * 13 + 1
    unit = np.array(CARE_UNITS)[rng.integers(0, len(CARE_UNITS), n)]
    adm_type = np.where(lat["elective"], "ELECTIVE", np.where(lat["urgent"], "URGENT", np.array(ADMISSION_TYPES)[rng.choice([0, 3, 4], n)]))
    year_in = intime.astype("datetime64[Y]").astype(int) + 1970
    first_of = {}
    for i, s in enumerate(subj_of_stay):
        first_of.setdefault(s, i)
    anchor_year = np.array([year_in[first_of[s]] for s in range(n_patients)]) - rng.integers(0, 3, n_patients)
    anchor_age = np.array([int(age[first_of[s]]) - (year_in[first_of[s]] - anchor_year[s]) for s in range(n_patients)])
    p_subject = 10_000_000 + np.arange(n_patients) * 7 + 3
    p_gender = np.array([gender[first_of[s]] for s in range(n_patients)])
    mimic = out / "mimic"
    _write_csv(
        pa.table(
            {
                "subject_id": p_subject,
                "gender": p_gender,
                "anchor_age": anchor_age,
                "anchor_year": anchor_year,
                "anchor_year_group": pa.array(np.array(["2008 - 2010", "2011 - 2013", "2014 - 2016", "2017 - 2019"])[rng.integers(0, 4, n_patients)]),
                "dod": pa.nulls(n_patients, pa.string()),
            }
        ),
        mimic / "hosp" / "patients.csv.gz",
        COLUMNS["hosp/patients"],
    )
    admit = intime - (rng.uniform(0.5, 30, n) * 3600).astype("timedelta64[s]")
    disch = outtime + (rng.uniform(0.2, 6, n) * 86400).astype("timedelta64[s]")
    null_str = pa.nulls(n, pa.string())
    _write_csv(
        pa.table(
            {
                "subject_id": subject_id, "hadm_id": hadm_id, "admittime": _ts(admit), "dischtime": _ts(disch), "deathtime": null_str,
                "admission_type": adm_type, "admit_provider_id": pa.array([f"P{k:05d}" for k in rng.integers(0, 99999, n)]),
                "admission_location": pa.array(["EMERGENCY ROOM"] * n), "discharge_location": pa.array(["HOME"] * n),
                "insurance": pa.array(["Other"] * n), "language": pa.array(["ENGLISH"] * n), "marital_status": null_str,
                "race": pa.array(["UNKNOWN"] * n), "edregtime": null_str, "edouttime": null_str, "hospital_expire_flag": np.zeros(n, dtype=np.int64),
            }
        ),
        mimic / "hosp" / "admissions.csv.gz",
        COLUMNS["hosp/admissions"],
    )
    _write_csv(
        pa.table(
            {
                "subject_id": subject_id, "hadm_id": hadm_id, "stay_id": stay_id, "first_careunit": unit, "last_careunit": unit,
                "intime": _ts(intime), "outtime": _ts(outtime), "los": los,
            }
        ),
        mimic / "icu" / "icustays.csv.gz",
        COLUMNS["icu/icustays"],
    )
    say(f"{n_patients} patients, {n} ICU stays")

    # --- chartevents ----------------------------------------------------------------------
    arterial = rng.uniform(size=n) < 0.3
    fahrenheit = rng.uniform(size=n) < 0.3
    rr_alt = rng.uniform(size=n) < 0.2
    rows_i, rows_t, rows_item, rows_val, rows_text = [], [], [], [], []
    minute = rng.integers(0, 60, size=(n, HOURS))

    def add(i: np.ndarray, t: np.ndarray, item: np.ndarray, val: np.ndarray, decimals: int) -> None:
        rows_i.append(i)
        rows_t.append(t)
        rows_item.append(item)
        rows_val.append(val)
        rows_text.append(_fmt(val, decimals))

    for feat in ("hr", "sbp", "dbp", "mbp", "rr", "spo2", "temp", "gcs"):
        i, t = np.nonzero(mask[:, :, _FEATURE_INDEX[feat]])
        v = values[i, t, _FEATURE_INDEX[feat]]
        if feat == "hr":
            add(i, t, np.full(len(i), 220045), v, 0)
        elif feat in ("sbp", "dbp", "mbp"):
            nibp, art = {"sbp": (220179, 220050), "dbp": (220180, 220051), "mbp": (220181, 220052)}[feat]
            add(i, t, np.where(arterial[i], art, nibp), v, 0)
        elif feat == "rr":
            add(i, t, np.where(rr_alt[i], 224690, 220210), v, 0)
        elif feat == "spo2":
            add(i, t, np.full(len(i), 220277), v, 0)
        elif feat == "temp":
            f = fahrenheit[i]
            add(i[~f], t[~f], np.full((~f).sum(), 223762), v[~f], 1)
            v_f = np.round(v[f] * 9 / 5 + 32, 1)
            values[i[f], t[f], _FEATURE_INDEX["temp"]] = (v_f - 32) * 5 / 9  # what a Fahrenheit chart says in °C
            add(i[f], t[f], np.full(f.sum(), 223761), v_f, 1)
        else:
            eye, verbal, motor = _gcs_components(v.astype(int))
            for item, comp in ((220739, eye), (223900, verbal), (223901, motor)):
                add(i, t, np.full(len(i), item), comp.astype(float), 0)
    ci = np.concatenate(rows_i)
    ct = np.concatenate(rows_t)
    citem = np.concatenate(rows_item)
    cval = np.concatenate(rows_val)
    ctext = pa.concat_arrays(rows_text)
    cminute = minute[ci, ct]
    # duplicated timestamps (same item, same time, same value), 2 %
    dup = np.flatnonzero(rng.uniform(size=len(ci)) < 0.02)
    # values outside the limits, charted in hours where HR was not charted (truth stays empty)
    free_i, free_t = np.nonzero(~mask[:, :, _FEATURE_INDEX["hr"]].astype(bool))
    pick = rng.choice(len(free_i), size=min(len(free_i), max(1, n // 10)), replace=False)
    bad_val = np.where(rng.uniform(size=len(pick)) < 0.5, 0.0, 999.0)
    # events before admission and after the observation window (must be ignored)
    k_out = 4
    out_i = np.repeat(np.arange(n), k_out)
    before = rng.uniform(size=len(out_i)) < 0.25
    after_h = rng.uniform(HOURS, np.maximum(HOURS + 1, los[out_i] * 24), len(out_i))
    out_h = np.where(before, -rng.uniform(0.05, 3, len(out_i)), after_h)
    out_items = np.array([220045, 220277, 223762, 220179])[np.arange(len(out_i)) % 4]
    out_vals = np.select([out_items == 220045, out_items == 220277, out_items == 223762], [rng.normal(85, 10, len(out_i)), rng.normal(96, 2, len(out_i)), rng.normal(37, 0.5, len(out_i))], rng.normal(120, 15, len(out_i)))
    offsets = np.concatenate(
        [
            (ct * 3600 + cminute * 60).astype(np.int64),
            (ct[dup] * 3600 + cminute[dup] * 60).astype(np.int64),
            (free_t[pick] * 3600 + rng.integers(0, 60, len(pick)) * 60).astype(np.int64),
            (out_h * 3600).astype(np.int64) // 60 * 60,
        ]
    )
    stay_idx = np.concatenate([ci, ci[dup], free_i[pick], out_i])
    items = np.concatenate([citem, citem[dup], np.full(len(pick), 220045), out_items])
    nums = np.concatenate([cval, cval[dup], bad_val, np.round(out_vals, 1)])
    texts = pa.concat_arrays([ctext, ctext.take(pa.array(dup)), _fmt(bad_val, 0), _fmt(np.round(out_vals, 1), 1)])
    order = np.lexsort((items, offsets, stay_idx))
    chart_time = intime[stay_idx] + offsets.astype("timedelta64[s]")
    uom = pa.array([{220045: "bpm", 220277: "%", 223762: "°C", 223761: "°F", 220210: "insp/min", 224690: "insp/min"}.get(int(k), "mmHg" if k in (220179, 220180, 220181, 220050, 220051, 220052) else "") for k in items])
    chart = pa.table(
        {
            "subject_id": subject_id[stay_idx][order],
            "hadm_id": hadm_id[stay_idx][order],
            "stay_id": stay_id[stay_idx][order],
            "caregiver_id": rng.integers(1000, 99999, len(order)),
            "charttime": _ts(chart_time[order]),
            "storetime": _ts((chart_time + (rng.integers(1, 30, len(chart_time)) * 60).astype("timedelta64[s]"))[order]),
            "itemid": items[order],
            "value": texts.take(pa.array(order)),
            "valuenum": nums[order],
            "valueuom": uom.take(pa.array(order)),
            "warning": np.zeros(len(order), dtype=np.int64),
        }
    )
    chart_path = mimic / "icu" / "chartevents.csv.gz"
    stream = _StreamedCsv(chart_path, COLUMNS["icu/chartevents"])
    stream.write(chart)
    written = 0
    batch = 1_000_000
    while written < extra_chartevents:
        m = min(batch, extra_chartevents - written)
        s_idx = rng.integers(0, n, m)
        offs = (rng.uniform(0, 1, m) * los[s_idx] * 86400).astype(np.int64) // 60 * 60
        item = _NOISE_ITEMS[rng.integers(0, len(_NOISE_ITEMS), m)]
        val = np.round(rng.normal(50, 20, m), 1)
        t = intime[s_idx] + offs.astype("timedelta64[s]")
        noise = pa.table(
            {
                "subject_id": subject_id[s_idx], "hadm_id": hadm_id[s_idx], "stay_id": stay_id[s_idx],
                "caregiver_id": rng.integers(1000, 99999, m), "charttime": _ts(t), "storetime": _ts(t + np.timedelta64(300, "s")),
                "itemid": item, "value": _fmt(val, 1), "valuenum": val, "valueuom": pa.array(["mmHg"] * m), "warning": np.zeros(m, dtype=np.int64),
            }
        )
        stream.write(noise)
        written += m
        say(f"chartevents: {stream.rows:,} rows")
    stream.close()
    say(f"chartevents: {stream.rows:,} rows")

    # --- labevents ------------------------------------------------------------------------
    lab_rows = []
    for feat, item in _LAB_OF.items():
        i, t = np.nonzero(mask[:, :, _FEATURE_INDEX[feat]])
        lab_rows.append((i, t, np.full(len(i), item), values[i, t, _FEATURE_INDEX[feat]], feat))
    li = np.concatenate([r[0] for r in lab_rows])
    lt = np.concatenate([r[1] for r in lab_rows])
    litem = np.concatenate([r[2] for r in lab_rows])
    lval = np.concatenate([r[3] for r in lab_rows])
    decimals = {"creatinine": 2, "lactate": 1, "wbc": 1, "hemoglobin": 1, "platelets": 0, "sodium": 0, "potassium": 1, "bicarbonate": 0, "bun": 0, "glucose": 0, "bilirubin": 1}
    ltext = pa.concat_arrays([_fmt(r[3], decimals[r[4]]) for r in lab_rows])
    lmin = rng.integers(0, 60, len(li))
    # labs before admission and after the window; non-numeric text in hours with no result
    k = max(1, n // 4)
    oi = rng.integers(0, n, k)
    oh = np.where(rng.uniform(size=k) < 0.5, -rng.uniform(1, 20, k), rng.uniform(HOURS, HOURS + 48, k))
    hi_i, hi_t = np.nonzero(~mask[:, :, _FEATURE_INDEX["potassium"]].astype(bool))
    hsel = rng.choice(len(hi_i), size=min(len(hi_i), max(1, n // 8)), replace=False)
    l_stay = np.concatenate([li, oi, hi_i[hsel]])
    l_off = np.concatenate([(lt * 3600 + lmin * 60), (oh * 3600).astype(np.int64) // 60 * 60, hi_t[hsel] * 3600 + 1800]).astype(np.int64)
    l_item = np.concatenate([litem, np.full(k, 50983), np.full(len(hsel), 50971)])
    sodium_outside = np.round(rng.normal(139, 3, k))
    l_num = np.concatenate([lval, sodium_outside, np.full(len(hsel), np.nan)])
    l_text = pa.concat_arrays([ltext, _fmt(sodium_outside, 0), pa.array(["HEMOLYZED"] * len(hsel))])
    n_lab = len(l_stay)
    valuenum_null = rng.uniform(size=n_lab) < 0.05  # numeric text, valuenum missing
    l_num_written = np.where(valuenum_null | np.isnan(l_num), np.nan, l_num)
    hadm_null = rng.uniform(size=n_lab) < 0.1
    l_time = intime[l_stay] + l_off.astype("timedelta64[s]")
    lorder = np.lexsort((l_item, l_off, l_stay))
    lab = pa.table(
        {
            "labevent_id": np.arange(1, n_lab + 1),
            "subject_id": subject_id[l_stay][lorder],
            "hadm_id": pa.array(np.where(hadm_null, 0, hadm_id[l_stay])[lorder], mask=hadm_null[lorder]),
            "specimen_id": rng.integers(1_000_000, 99_999_999, n_lab),
            "itemid": l_item[lorder],
            "order_provider_id": pa.nulls(n_lab, pa.string()),
            "charttime": _ts(l_time[lorder]),
            "storetime": _ts((l_time + np.timedelta64(3600, "s"))[lorder]),
            "value": l_text.take(pa.array(lorder)),
            "valuenum": pa.array(l_num_written[lorder], mask=np.isnan(l_num_written[lorder])),
            "valueuom": pa.array([_LAB_UOM[LAB_ITEMS[int(x)]] for x in l_item[lorder]]),
            "ref_range_lower": pa.nulls(n_lab, pa.float64()),
            "ref_range_upper": pa.nulls(n_lab, pa.float64()),
            "flag": pa.nulls(n_lab, pa.string()),
            "priority": pa.array(np.where(rng.uniform(size=n_lab) < 0.3, "STAT", "ROUTINE")),
            "comments": pa.nulls(n_lab, pa.string()),
        }
    )
    _write_csv(lab, mimic / "hosp" / "labevents.csv.gz", COLUMNS["hosp/labevents"])
    d_items = pa.table(
        {
            "itemid": sorted(CHART_ITEMS) + list(_NOISE_ITEMS),
            "label": [f"item {k}" for k in sorted(CHART_ITEMS)] + [f"other {k}" for k in _NOISE_ITEMS],
            "abbreviation": [f"i{k}" for k in sorted(CHART_ITEMS)] + [f"o{k}" for k in _NOISE_ITEMS],
            "linksto": ["chartevents"] * (len(CHART_ITEMS) + len(_NOISE_ITEMS)),
            "category": ["Routine Vital Signs"] * (len(CHART_ITEMS) + len(_NOISE_ITEMS)),
            "unitname": pa.nulls(len(CHART_ITEMS) + len(_NOISE_ITEMS), pa.string()),
            "param_type": ["Numeric"] * (len(CHART_ITEMS) + len(_NOISE_ITEMS)),
            "lownormalvalue": pa.nulls(len(CHART_ITEMS) + len(_NOISE_ITEMS), pa.float64()),
            "highnormalvalue": pa.nulls(len(CHART_ITEMS) + len(_NOISE_ITEMS), pa.float64()),
        }
    )
    _write_csv(d_items, mimic / "icu" / "d_items.csv.gz", COLUMNS["icu/d_items"])
    _write_csv(
        pa.table({"itemid": list(LAB_ITEMS), "label": list(LAB_ITEMS.values()), "fluid": ["Blood"] * len(LAB_ITEMS), "category": ["Chemistry"] * len(LAB_ITEMS)}),
        mimic / "hosp" / "d_labitems.csv.gz",
        COLUMNS["hosp/d_labitems"],
    )
    truth = FixtureTruth(
        stays=pd.DataFrame(
            {
                "stay_id": stay_id, "subject_id": subject_id, "hadm_id": hadm_id, "intime": intime, "los": los, "age": age,
                "gender": gender, "first_careunit": unit, "admission_type": adm_type, "is_second": is_second,
            }
        ),
        values=values,
        chartevents_rows=stream.rows,
        labevents_rows=n_lab,
    )
    if ecg:
        _write_ecgs(out / "ecg", rng, truth, lat, hr, record_list_rows)
        say(f"ECG: {len(truth.ecg_study)} stays with an ECG in their window")
    return truth


def _write_ecgs(root: Path, rng: np.random.Generator, truth: FixtureTruth, lat: dict, hr: np.ndarray, padding: int) -> None:
    import wfdb

    stays = truth.stays
    n = len(stays)
    has = lat["has_ecg"]
    hour = rng.uniform(-6, HOURS - 0.5, n)  # in the window [intime - 12 h, intime + 24 h]
    late = has & (rng.uniform(size=n) < 0.15)  # a second ECG after the window: must not be used
    only_late = ~has & (rng.uniform(size=n) < 0.3)  # no ECG in the window, one after it
    rows = []
    study = 40_000_000
    for i in range(n):
        entries = []
        if has[i]:
            entries.append(("in", hour[i]))
        if late[i] or only_late[i]:
            entries.append(("late", HOURS + rng.uniform(0.5, 30)))
        for kind, h in entries:
            study += int(rng.integers(1, 50))
            when = stays["intime"].iloc[i] + np.timedelta64(int(h * 3600), "s")
            rows.append((i, kind, study, when, h))
    n_rec = len(rows)
    hr_at = np.array([hr[i, int(np.clip(h, 0, HOURS - 1))] for i, _k, _s, _w, h in rows])
    idx = np.array([r[0] for r in rows])
    signal = ecg_synth.synthesize_ecg(rng, hr_at, lat["af"][idx], lat["territory"][idx], lat["st_mv"][idx], lat["wide_qrs"][idx])
    to_mimic = [ecg_synth.LEADS.index(name) for name in ECG_LEADS_MIMIC_ORDER]
    broken = rows[int(rng.integers(0, n_rec))][2] if n_rec else None
    paths = []
    for k, (i, kind, sid, when, _h) in enumerate(rows):
        subject = int(stays["subject_id"].iloc[i])
        rel = f"files/p{str(subject)[:4]}/p{subject}/s{sid}"
        folder = root / rel
        folder.mkdir(parents=True, exist_ok=True)
        ts = pd.Timestamp(when)
        wfdb.wrsamp(
            str(sid), fs=500, units=["mV"] * 12, sig_name=list(ECG_LEADS_MIMIC_ORDER),
            p_signal=signal[k][to_mimic].T.astype(np.float64), fmt=["16"] * 12, adc_gain=[200.0] * 12, baseline=[0] * 12,
            base_time=ts.time(), base_date=ts.date(), write_dir=str(folder),
        )
        if sid == broken:  # header says 5000 samples, the data stop at 3000
            dat = folder / f"{sid}.dat"
            dat.write_bytes(dat.read_bytes()[: 3000 * 12 * 2])
            truth.broken_ecg_studies.append(sid)
        paths.append(f"{rel}/{sid}")
        if kind == "in" and sid != broken:
            truth.ecg_study[int(stays["stay_id"].iloc[i])] = sid
    table = pd.DataFrame(
        {
            "subject_id": [int(stays["subject_id"].iloc[r[0]]) for r in rows],
            "study_id": [r[2] for r in rows],
            "file_name": [str(r[2]) for r in rows],
            "ecg_time": [pd.Timestamp(r[3]).strftime(TIMESTAMP_FORMAT) for r in rows],
            "path": paths,
        }
    )
    if padding:
        other = rng.integers(19_000_000, 19_999_999, padding)
        sids = 50_000_000 + np.arange(padding)
        times = np.datetime64("2150-01-01T00:00:00") + (rng.uniform(0, 40 * 365, padding) * 86400).astype("timedelta64[s]")
        pad = pd.DataFrame(
            {
                "subject_id": other,
                "study_id": sids,
                "file_name": sids.astype(str),
                "ecg_time": pc.strftime(pa.array(times), format=TIMESTAMP_FORMAT).to_pylist(),
                "path": [f"files/p{str(s)[:4]}/p{s}/s{d}/{d}" for s, d in zip(other, sids)],
            }
        )
        table = pd.concat([table, pad], ignore_index=True)
    root.mkdir(parents=True, exist_ok=True)
    table[RECORD_LIST_COLUMNS].to_csv(root / "record_list.csv", index=False)
