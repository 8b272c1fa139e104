"""ECG reading and measurement (lemof.ecg) and ``python -m lemof ecg measure``: the two real records
(PTB 12-lead at 1000 Hz, 38 s; MIMIC-III monitor II + V at 125 Hz, 8 s), the synthetic truth
(heart rate, AF, wide QRS, ST), windows, missing leads, long records and unreadable ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lemof.ecg.measure import measure
from lemof.ecg.record import STANDARD_LEADS, EcgRecord, normalise_lead, read_record
from lemof.errors import EcgRecordError
from testkit.fresh import lemof_cli
from testkit.paths import REPO

REAL = REPO.parent / "shared" / "data" / "real-ecg"


def _real(name: str) -> EcgRecord:
    if not (REAL / f"{name}.hea").exists():
        pytest.skip(f"real ECG record {REAL / name} absent (../shared/data/real-ecg/ not checked out)")
    return read_record(REAL / name)


@pytest.fixture(scope="module")
def ptb() -> EcgRecord:
    return _real("s0010_re")


@pytest.fixture(scope="module")
def monitor() -> EcgRecord:
    return _real("3000003_0003")


def _plausible(rec: EcgRecord, m) -> None:
    assert 40 <= m.heart_rate_bpm <= 150
    assert 60 <= m.qrs_ms <= 200
    beats = np.asarray(m.beats)
    assert beats.min() >= 0 and beats.max() < rec.n_samples and np.all(np.diff(beats) > 0.25 * rec.fs_hz)
    expected = m.heart_rate_bpm * rec.duration_s / 60.0
    assert abs(len(beats) - expected) <= 0.10 * expected + 1, (len(beats), expected)
    d = m.to_dict()
    json.dumps(d, allow_nan=False)  # None, never NaN
    assert d["qtc_formula"] == "Fridericia" and d["rr_irregularity_index"] == "RMSSD/mean RR"


def test_lead_names_are_normalised() -> None:
    names = ("i", "AVR", "avf", "v1", "V6", "V", "vx", " ii ")
    assert [normalise_lead(n) for n in names] == ["I", "aVR", "aVF", "V1", "V6", "V", "vx", "II"]


def test_ptb_record_is_read_and_measured(ptb: EcgRecord) -> None:
    assert ptb.leads[:12] == STANDARD_LEADS and "vx" in ptb.leads  # Frank leads kept under their own names
    assert ptb.fs_hz == 1000 and abs(ptb.duration_s - 38.4) < 0.01
    m = measure(ptb)
    _plausible(ptb, m)
    assert m.axis_deg is not None and m.rhythm == "regular" and m.p_waves_present
    assert m.pr_ms is not None and m.qt_ms is not None and m.qtc_ms is not None
    assert set(STANDARD_LEADS) <= set(m.st_deviation_mv) and all(m.st_deviation_mv[lead] is not None for lead in STANDARD_LEADS)
    assert all(q.measurable for q in m.quality.values())


def test_monitor_record_is_read_and_measured(monitor: EcgRecord) -> None:
    assert monitor.leads == ("II", "V") and monitor.fs_hz == 125
    m = measure(monitor)
    _plausible(monitor, m)
    assert m.axis_deg is None  # needs I and aVF (or II and III)
    assert set(m.st_deviation_mv) == {"II", "V"}


def test_window_measures_part_and_beats_cover_the_record(ptb: EcgRecord) -> None:
    whole = measure(ptb)
    part = measure(ptb, window=(5.0, 15.0))
    assert part.beats == whole.beats
    in_window = sum(1 for b in whole.beats if 5.0 * ptb.fs_hz <= b < 15.0 * ptb.fs_hz)
    assert part.n_beats == in_window and part.window_s == (5.0, 15.0)
    assert abs(part.heart_rate_bpm - whole.heart_rate_bpm) < 5
    with pytest.raises(EcgRecordError, match="not inside"):
        measure(ptb, window=(50.0, 60.0))


def test_missing_leads_still_measure_what_they_can(ptb: EcgRecord) -> None:
    chest = EcgRecord(ptb.signals[6:12], ptb.leads[6:12], ptb.fs_hz, name="chest only")
    m = measure(chest)
    assert m.axis_deg is None and m.heart_rate_bpm is not None and m.qrs_ms is not None
    assert set(m.st_deviation_mv) == set(STANDARD_LEADS[6:12])
    full_axis = measure(ptb).axis_deg
    limbs = EcgRecord(ptb.signals[1:3], ptb.leads[1:3], ptb.fs_hz, name="II and III")  # axis by Einthoven's law
    axis = measure(limbs).axis_deg
    assert axis is not None and abs((axis - full_axis + 180) % 360 - 180) < 30


def test_long_record_is_windowed_without_lost_or_double_beats(ptb: EcgRecord) -> None:
    lead = ptb.signals[1, : int(36.0 * ptb.fs_hz)]  # 36 s ≈ 49 beats, tiled to 3 min across several 60 s windows
    long = EcgRecord(np.tile(lead, 5)[None, :], ("II",), ptb.fs_hz, name="tiled")
    one = len(measure(EcgRecord(lead[None, :], ("II",), ptb.fs_hz)).beats)
    m = measure(long)
    beats = np.asarray(m.beats)
    assert abs(len(beats) - 5 * one) <= 5
    assert np.all(np.diff(beats) > 0.4 * ptb.fs_hz)  # no beat found twice where windows overlap


def test_flat_lead_is_flagged_and_left_out(ptb: EcgRecord) -> None:
    signals = ptb.signals[:12, :10000].copy()
    signals[4] = 0.0  # aVL disconnected
    signals[7] += np.random.default_rng(0).normal(0, 1.0, signals.shape[1])  # V2 drowned in noise
    m = measure(EcgRecord(signals, ptb.leads[:12], ptb.fs_hz))
    assert m.quality["aVL"].quality == "flat" and not m.quality["aVL"].measurable
    assert not m.quality["V2"].measurable
    assert m.st_deviation_mv["aVL"] is None and m.st_deviation_mv["V2"] is None
    assert m.quality["II"].measurable and m.heart_rate_bpm is not None


def test_synthetic_truth(tmp_path_factory) -> None:
    """Heart-rate MAE ≤ 5 bpm against the generator's true rate (measured: 0.7–1.1 bpm); AF, wide QRS
    and ST agree with the latent causes (ST is reported, and held to a loose bound)."""
    from benchmarks.bench_ecg_measure import synthetic_agreement
    from lemof.data.bundle import open_bundle
    from lemof.data.synthetic import generate_synthetic

    path = tmp_path_factory.mktemp("ecg") / "cohort"
    generate_synthetic(path, n=60, seed=3)
    out = synthetic_agreement(open_bundle(path))
    print(json.dumps(out))
    assert out["n_ecgs"] >= 40 and out["heart_rate_missing"] == 0
    assert out["heart_rate_mae_bpm"] <= 5.0
    assert out["af_auroc_rr_irregularity"] >= 0.95
    assert out["p_waves_present_sinus"] >= 0.95 and out["p_waves_present_af"] <= 0.2
    assert out["qrs_auroc_wide"] >= 0.9
    assert out["st"]["pearson_r_per_lead"] >= 0.8


def test_cli_json_and_summary(monitor: EcgRecord) -> None:
    res = lemof_cli("ecg", "measure", "--record", str(REAL / "3000003_0003"), "--json", "--window", "1", "7")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) >= {"record", "fs_hz", "leads", "beats", "measurements"}
    assert out["fs_hz"] == 125 and out["leads"] == ["II", "V"] and len(out["beats"]) >= 8
    assert out["measurements"]["window_s"] == [1.0, 7.0] and out["measurements"]["axis_deg"] is None
    text = lemof_cli("ecg", "measure", "--record", str(REAL / "3000003_0003.hea"))
    assert text.returncode == 0 and "bpm" in text.stdout and "Fridericia" in text.stdout


@pytest.mark.parametrize("kind", ["missing", "malformed", "no data"])
def test_cli_unreadable_record_exits_2_with_one_line(tmp_path, kind: str) -> None:
    rec = tmp_path / "bad"
    if kind == "malformed":
        (tmp_path / "bad.hea").write_text("this is not a header\n\x00\x01 garbage\n")
    elif kind == "no data":
        (tmp_path / "bad.hea").write_text("bad 2 500 5000\nbad.dat 16 200 16 0 0 0 0 II\nbad.dat 16 200 16 0 0 0 0 V\n")
    res = lemof_cli("ecg", "measure", "--record", str(rec), "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.stderr, res.stderr
