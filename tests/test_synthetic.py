"""The synthetic cohort: deterministic, calibrated LOS, physiologically consistent ECG."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lemof.data.bundle import open_bundle
from lemof.data.synthetic import generate_synthetic


def _digest(path):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    fa = generate_synthetic(a, n=120, seed=7)
    fb = generate_synthetic(b, n=120, seed=7)
    fc = generate_synthetic(c, n=120, seed=8)
    assert fa == fb and _digest(a) == _digest(b)
    assert fa != fc


def test_los_distribution_matches_data_md(default_cohort):
    los = open_bundle(default_cohort).stays["los_days"].to_numpy()
    log = np.log(los)
    assert 1.9 <= np.median(los) <= 2.5
    q25, q75 = np.percentile(los, [25, 75])
    assert 0.9 <= q25 <= 1.5 and 4.0 <= q75 <= 5.5
    assert 0.34 <= (los > 3).mean() <= 0.44
    assert 0.10 <= (los > 7).mean() <= 0.18
    assert 15 <= los.max() <= 40
    assert 0.6 <= log.mean() <= 1.0 and 0.85 <= log.std() <= 1.15


def test_missing_ecg_share_and_absent_signal_is_empty(default_cohort):
    b = open_bundle(default_cohort)
    has = b.stays["has_signal"].to_numpy()
    assert 0.12 <= 1 - has.mean() <= 0.18
    absent_rows = np.flatnonzero(~has)[:20]
    assert not np.asarray(b.signal[absent_rows]).any()
    assert b.stays.loc[~b.stays["has_signal"], "signal_time_h"].isna().all()


def _r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    x = lead - np.median(lead)
    thr = 0.5 * np.percentile(x, 99.5)
    above = x > thr
    starts = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    keep = [starts[0]] if len(starts) else []
    for s in starts[1:]:
        if s - keep[-1] > 0.25 * fs:
            keep.append(s)
    return np.asarray(keep) / fs


def test_ecg_rate_matches_ehr_heart_rate_and_af_is_irregular(tiny_cohort):
    b = open_bundle(tiny_cohort)
    lat = b.latent_causes()
    lead_ii = b.signal_channels.index("II")
    hr_idx = b.ehr_feature_names.index("hr")
    errors, cv = [], {True: [], False: []}
    for row in np.flatnonzero(b.stays["has_signal"].to_numpy())[:120]:
        peaks = _r_peaks(b.signal_physical(row)[lead_ii], b.signal_fs)
        rr = np.diff(peaks)
        ecg_hr = 60 / rr.mean()
        hour = int(b.stays["signal_time_h"].iloc[row])
        ehr_hr = b.ehr_values[row, hour, hr_idx]
        if b.ehr_mask[row, hour, hr_idx]:
            errors.append(abs(ecg_hr - ehr_hr) / ehr_hr)
        cv[bool(lat["af"].iloc[row])].append(rr.std() / rr.mean())
    assert np.median(errors) < 0.06, "the ECG's rate must agree with the charted heart rate"
    assert np.mean(np.asarray(errors) < 0.15) > 0.85
    assert np.median(cv[True]) > 2 * np.median(cv[False]), "AF must have irregular RR intervals"


def test_latent_causes_are_beside_not_inside_the_model_inputs(tiny_cohort):
    b = open_bundle(tiny_cohort)
    lat = b.latent_causes()
    assert lat is not None and (lat["stay_id"].to_numpy() == b.stays["stay_id"].to_numpy()).all()
    assert not {"severity", "infection", "af", "ischaemia"} & set(b.stays.columns)


def test_generator_rejects_tiny_n(tmp_path):
    with pytest.raises(ValueError, match="at least 10"):
        generate_synthetic(tmp_path / "x", n=3)
