"""The 12-lead ECG display (lemof.plots.ecg): layout, paper speed and gain, calibration, weight,
attribution shading, and the two real records (PTB 12-lead at 1000 Hz, MIMIC-III monitor II + V
at 125 Hz)."""

from __future__ import annotations

import numpy as np
import pytest

from lemof.data.ecg_synth import FS_HZ, LEADS, synthesize_ecg
from lemof.plots import alt_text, ecg_figure
from lemof.ecg.record import STANDARD_LEADS, normalise_lead
from lemof.plots.ecg import ROW_PITCH_MV, decimate_minmax
from testkit.paths import REPO

REAL = REPO.parent / "shared" / "data" / "real-ecg"
POINT_BUDGET = 30_000
JSON_BUDGET = 250_000  # bytes


@pytest.fixture(scope="module")
def synth() -> np.ndarray:
    rng = np.random.default_rng(7)
    return synthesize_ecg(rng, np.array([72.0]), np.array([False]), np.array([2]), np.array([0.15]), np.array([True]))[0]


def _record(name: str):
    wfdb = pytest.importorskip("wfdb")
    if not (REAL / f"{name}.hea").exists():
        pytest.skip(f"real ECG record {REAL / name} absent (../shared/data/real-ecg/ not checked out)")
    return wfdb.rdrecord(str(REAL / name))


def _lead_traces(fig):
    return [t for t in fig.data if t.type == "scatter" and t.name not in ("calibration 1 mV, 200 ms", "column boundary")]


def _labels(fig) -> list[str]:
    return [a.text.removeprefix("<b>").removesuffix("</b>") for a in fig.layout.annotations if a.text.startswith("<b>")]


def _points(fig) -> int:
    return sum(len(t.x) for t in _lead_traces(fig))


def test_standard_sheet_has_twelve_leads_and_a_lead_ii_rhythm_strip(synth):
    fig = ecg_figure(synth, LEADS, FS_HZ)
    labels = _labels(fig)
    assert sorted(labels) == sorted([*STANDARD_LEADS, "II"])
    assert labels.count("II") == 2
    traces = {t.name: t for t in _lead_traces(fig)}
    assert len(_lead_traces(fig)) == 13
    # Four columns of consecutive 2.5 s: I shows 0-2.5 s, aVL 2.5-5 s, V3 5-7.5 s, V6 7.5-10 s.
    for lead, k in (("I", 0), ("aVL", 1), ("V3", 2), ("V6", 3)):
        x = np.asarray(traces[lead].x, dtype=float)
        assert 2.5 * k <= x.min() < 2.5 * k + 0.01 and 2.5 * (k + 1) - 0.02 < x.max() < 2.5 * (k + 1)
    # Column k, row 0..2 and the strip: baselines one row pitch apart, the rhythm strip 10 s long.
    strip = [t for t in _lead_traces(fig) if t.name == "II"]
    long = max(strip, key=lambda t: len(t.x))
    assert np.asarray(long.x).max() > 9.9 and np.asarray(long.x).min() < 0.01
    # The drawn trace is the signal (centred on its median) at the times it says.
    v6 = traces["V6"]
    x, y = np.asarray(v6.x, dtype=float), np.asarray(v6.y, dtype=float)
    idx = np.rint(x * FS_HZ).astype(int)
    expected = synth[11, idx] - np.median(synth[11, :5000]) - 2 * ROW_PITCH_MV
    np.testing.assert_allclose(y, expected, atol=1e-4)
    assert "12-lead" in alt_text(fig) and "rhythm strip" in alt_text(fig)


def test_paper_is_25_mm_per_s_and_10_mm_per_mv(synth):
    fig = ecg_figure(synth, LEADS, FS_HZ)
    xa, ya = fig.layout.xaxis, fig.layout.yaxis
    # 1 mV is drawn 10/25 as long as 1 s: y pixels per mV = 0.4 * x pixels per s, at any size or zoom.
    assert ya.scaleanchor == "x" and ya.scaleratio == pytest.approx(10 / 25)
    # The grid: 5-mm boxes are 0.2 s and 0.5 mV, 1-mm lines 0.04 s and 0.1 mV, both from 0.
    assert (xa.dtick, xa.minor.dtick, xa.tick0) == (pytest.approx(0.2), pytest.approx(0.04), 0)
    assert (ya.dtick, ya.minor.dtick, ya.tick0) == (pytest.approx(0.5), pytest.approx(0.1), 0)
    assert xa.minor.showgrid and ya.minor.showgrid and xa.showgrid is not False
    assert xa.constrain == ya.constrain == "domain"
    # Row baselines sit on 5-mm lines, so every row reads against the same grid.
    assert (ROW_PITCH_MV / 0.5) == int(ROW_PITCH_MV / 0.5)
    assert not fig.layout.shapes  # the grid is the axes' own, not thousands of shapes
    assert not xa.fixedrange and not ya.fixedrange  # zoomable


def test_calibration_pulse_is_1_mv_by_200_ms_on_every_row(synth):
    fig = ecg_figure(synth, LEADS, FS_HZ)
    cal = next(t for t in fig.data if t.name == "calibration 1 mV, 200 ms")
    xs, ys = list(cal.x), list(cal.y)
    pulses, cur = [], []
    for x, y in zip(xs, ys):
        if x is None:
            pulses.append(cur)
            cur = []
        else:
            cur.append((x, y))
    assert len(pulses) == 4
    for pulse in pulses:
        x = np.array([p[0] for p in pulse])
        y = np.array([p[1] for p in pulse])
        base = y[0]
        high = x[np.isclose(y, base + 1.0)]
        assert y.max() - base == pytest.approx(1.0)
        assert high.max() - high.min() == pytest.approx(0.2)
        assert x.max() <= 0.0  # before the trace starts


def test_weight_stays_under_budget_at_any_rate(synth):
    fig = ecg_figure(synth, LEADS, FS_HZ)
    assert _points(fig) < POINT_BUDGET
    assert _points(fig) <= 40 * 250 + 100  # 12 x 2.5 s + 10 s, at most 250 points a second
    assert len(fig.to_json()) < JSON_BUDGET
    # 30 s at 2000 Hz: still the first 10 s at <= 250 points a second.
    big = np.repeat(np.tile(synth, (1, 3)), 4, axis=1)
    fig = ecg_figure(big, LEADS, 2000)
    assert _points(fig) < POINT_BUDGET and len(fig.to_json()) < JSON_BUDGET


def test_minmax_decimation_keeps_every_peak():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 0.05, 10_000)
    y[[123, 4567, 9001]] = [2.0, -1.5, 1.7]
    idx, val = decimate_minmax(y, 1000.0)
    assert len(idx) <= 10 * 250 + 2
    assert np.all(np.diff(idx) > 0)
    for peak in (123, 4567, 9001):
        assert peak in idx
    np.testing.assert_array_equal(val, y[idx])
    same_idx, _ = decimate_minmax(y[:1250], 125.0)
    assert len(same_idx) == 1250  # slow records are drawn sample by sample
    gap = y.copy()
    gap[2000:3000] = np.nan
    _, gval = decimate_minmax(gap, 1000.0)
    assert np.isnan(gval).any()  # a gap stays a gap


def test_attribution_is_shaded_on_the_sheet_over_the_signal_length(synth):
    attribution = np.zeros((12, 100))  # 0.1 s per value: resampled to the 5000 samples
    attribution[LEADS.index("V5"), 80:90] = 1.0  # 8-9 s: drawn in the V5 column
    attribution[LEADS.index("III"), 10:20] = -0.5  # 1-2 s: drawn in the III column
    fig = ecg_figure(synth, LEADS, FS_HZ, attribution=attribution)
    heat = next(t for t in fig.data if t.type == "heatmap")
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (4, 250)  # 4 rows x 10 s in 0.04 s columns: the signal's whole length
    assert heat.x0 + heat.dx * (z.shape[1] - 0.5) == pytest.approx(10.0)
    assert np.isfinite(z).all()
    top_down = z[::-1]  # heatmap rows are bottom-up
    t = heat.x0 + heat.dx * np.arange(250)
    v5 = top_down[1]  # row of II / aVL / V2 / V5
    assert v5[(t > 8.05) & (t < 8.95)].min() > 0.9 and abs(v5[t < 7.5]).max() == 0
    iii = top_down[2]
    assert iii[(t > 1.05) & (t < 1.95)].max() < -0.45
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    assert heat.colorscale[0][1].lower() == "#01665e" and heat.colorscale[-1][1].lower() == "#b2182b"  # teal shortens, red lengthens (no blue: blue means EHR)
    assert "lengthens" in heat.colorbar.title.text and "shortens" in heat.colorbar.title.text
    assert "attribution largest at 7.7–8.6 s (leads V5)" in alt_text(fig), "the window of the most attribution, the padded edges left out (lemof.explain.signal_where)"
    with pytest.raises(ValueError):
        ecg_figure(synth, LEADS, FS_HZ, attribution=np.zeros((3, 10)))


def test_fewer_leads_another_rate_and_a_window(synth):
    fig = ecg_figure(synth[[1]], ["II"], FS_HZ)
    assert _labels(fig) == ["II"] and len(_lead_traces(fig)) == 1  # the rhythm strip only
    two = ecg_figure(synth[[1, 7]], ["ii", "v2"], FS_HZ)
    assert _labels(two) == ["II", "V2"]
    x = np.asarray(_lead_traces(two)[1].x, dtype=float)
    assert x.max() > 9.9  # a full 10 s row per lead
    # A longer record: 10 s from start_s, drawn on 0..10 s.
    long = np.tile(synth, (1, 2))
    fig = ecg_figure(long, LEADS, FS_HZ, start_s=5.0)
    strip = max((t for t in _lead_traces(fig) if t.name == "II"), key=lambda t: len(t.x))
    assert np.asarray(strip.x, dtype=float).max() < 10.0
    assert "5.0–15.0 s of 20.0 s" in alt_text(fig)
    with pytest.raises(ValueError):
        ecg_figure(long, LEADS, FS_HZ, start_s=25.0)


def test_lead_names_are_matched_and_shown_literally(synth):
    assert [normalise_lead(n) for n in ("i", "AVR", " v6 ", "MLII")] == ["I", "aVR", "V6", "MLII"]
    fig = ecg_figure(synth[:2], ["<b>x</b>", "II"], FS_HZ, title="<i>t</i>")
    assert "&lt;b&gt;x&lt;/b&gt;" in _labels(fig)
    assert fig.layout.title.text == "&lt;i&gt;t&lt;/i&gt;"


def test_ptb_record_draws_as_a_standard_sheet():
    rec = _record("s0010_re")  # 15 channels (12 leads + Frank X, Y, Z), lower-case names, 1000 Hz, 38 s
    fig = ecg_figure(rec.p_signal.T, rec.sig_name, rec.fs, title="PTB s0010_re")
    assert sorted(_labels(fig)) == sorted([*STANDARD_LEADS, "II"])
    assert _points(fig) < POINT_BUDGET and len(fig.to_json()) < JSON_BUDGET
    assert "0.0–10.0 s of 38.4 s" in alt_text(fig)


def test_monitor_record_draws_its_two_leads():
    rec = _record("3000003_0003")  # II and V at 125 Hz, 8.2 s
    fig = ecg_figure(rec.p_signal.T, rec.sig_name, rec.fs, title="monitor")
    assert _labels(fig) == ["II", "V"]
    assert _points(fig) == 2 * rec.sig_len  # 125 Hz: every sample
    ya = fig.layout.yaxis
    lo = min(np.nanmin(np.asarray(t.y, dtype=float)) for t in _lead_traces(fig))
    assert ya.range[0] <= lo  # deep S waves stay on the sheet


def test_a_lead_without_data_draws_as_a_gap(synth):
    sig = synth.copy()
    sig[3] = np.nan  # aVR not recorded
    fig = ecg_figure(sig, LEADS, FS_HZ)
    avr = next(t for t in _lead_traces(fig) if t.name == "aVR")
    assert np.isnan(np.asarray(avr.y, dtype=float)).all()
    assert sorted(_labels(fig)) == sorted([*STANDARD_LEADS, "II"])
