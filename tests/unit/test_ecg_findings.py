"""The ECG's findings (AF pattern, wide QRS, ST deviation) against the synthetic truth, the part of
the beat each instant belongs to, the split of the ECG's driver into findings (it adds up), and
the ``ecg`` object of ``python -m lemof explain``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lemof import CohortResults, load_run, open_bundle
from lemof.ecg.findings import FINDINGS, ecg_findings, wave_part
from lemof.ecg.measure import measure
from lemof.ecg.record import EcgRecord, normalise_lead
from testkit.fresh import lemof_cli


def _auroc(score, label) -> float:
    pos, neg = score[label], score[~label]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


@pytest.fixture(scope="module")
def truth_cohort(tmp_path_factory):
    from lemof.data.synthetic import generate_synthetic

    path = tmp_path_factory.mktemp("ecg-truth") / "c"
    generate_synthetic(path, n=160, seed=11)
    return open_bundle(path), pd.read_parquet(path / "latent_causes.parquet").set_index("stay_id")


def test_finding_scores_separate_the_true_causes(truth_cohort):
    bundle, causes = truth_cohort
    rows = np.flatnonzero(bundle.stays["has_signal"].to_numpy())
    scores = {f: [] for f in FINDINGS}
    ids = []
    for r in rows:
        record = EcgRecord(np.asarray(bundle.signal_physical(int(r)), dtype=float), tuple(normalise_lead(c) for c in bundle.signal_channels), bundle.signal_fs)
        found = {f.finding: f for f in ecg_findings(measure(record))}
        for f in FINDINGS:
            scores[f].append(np.nan if found[f].score is None else found[f].score)
        ids.append(int(bundle.stays["stay_id"].iloc[r]))
    for finding, cause, floor in (("af", "af", 0.95), ("wide_qrs", "wide_qrs", 0.9), ("st_deviation", "ischaemia", 0.85)):
        s = np.asarray(scores[finding], dtype=float)
        label = causes.loc[ids, cause].to_numpy(dtype=bool)
        ok = np.isfinite(s)
        assert label[ok].sum() >= 5 and (~label[ok]).sum() >= 5, (finding, label.sum())
        assert _auroc(s[ok], label[ok]) >= floor, finding


def test_every_instant_belongs_to_one_part_of_the_beat(truth_cohort):
    bundle, _ = truth_cohort
    r = int(np.flatnonzero(bundle.stays["has_signal"].to_numpy())[0])
    m = measure(EcgRecord(np.asarray(bundle.signal_physical(r), dtype=float), tuple(normalise_lead(c) for c in bundle.signal_channels), bundle.signal_fs))
    t = np.arange(0, 10, 0.002)
    part = wave_part(t, m)
    assert set(part) == {"rhythm", "qrs", "st_t"}
    peaks = np.asarray(m.beats) / m.fs_hz
    assert all(part[int(round(p / 0.002))] == "qrs" for p in peaks if p < 9.99), "every R peak lies in a QRS part"
    qrs_share = (part == "qrs").mean()
    assert qrs_share == pytest.approx(len(peaks) * m.qrs_ms / 1000 / 10, rel=0.2)


def test_the_ecg_driver_split_into_findings_adds_up(tiny_run, tiny_cohort, stay_ids):
    from lemof.explain.drivers import drivers_attribution

    stay = CohortResults(load_run(tiny_run), open_bundle(tiny_cohort)).stay(stay_ids["with_signal"])
    assert stay.ecg is not None
    whole = drivers_attribution(stay.input_gradients, stay.bundle, los_days=stay.prediction.los_days)
    split = drivers_attribution(stay.input_gradients, stay.bundle, los_days=stay.prediction.los_days, ecg=stay.ecg)
    ecg_whole = sum(v for v, g in zip(whole.values, whole.groups) if g == "signal")
    parts = [(k, v) for k, v in zip(split.detail["findings"], split.values) if k]
    assert [k for k, _ in parts] == ["af", "wide_qrs", "st_deviation"] and "signal" not in split.groups
    assert sum(v for _, v in parts) == pytest.approx(ecg_whole, rel=1e-9, abs=1e-12), "the findings share the ECG's part exactly"
    assert split.total == pytest.approx(whole.total, rel=1e-9, abs=1e-12)


def test_explain_carries_the_ecg_and_takes_several_stays(tiny_run, tiny_cohort, stay_ids):
    proc = lemof_cli("explain", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"]), "--stay", str(stay_ids["without_signal"]))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert isinstance(out, list) and [o["prediction"]["stay_id"] for o in out] == [stay_ids["with_signal"], stay_ids["without_signal"]]
    ecg = out[0]["ecg"]
    assert {"heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "rr_irregularity", "st_deviation_mv", "axis_deg", "quality"} <= set(ecg["measurements"])
    assert [f["finding"] for f in ecg["findings"]] == ["af", "wide_qrs", "st_deviation"]
    assert all(set(f) == {"finding", "present", "score", "text"} for f in ecg["findings"])
    assert "ecg" not in out[1], "no ECG, no ECG object"


def test_st_changes_with_a_wide_qrs_are_not_read_as_ischaemia(truth_cohort):
    import dataclasses

    from lemof.ecg.findings import _leads_text

    bundle, _ = truth_cohort
    r = int(np.flatnonzero(bundle.stays["has_signal"].to_numpy())[0])
    m = measure(EcgRecord(np.asarray(bundle.signal_physical(r), dtype=float), tuple(normalise_lead(c) for c in bundle.signal_channels), bundle.signal_fs))
    st = {lead: 0.0 for lead in m.st_deviation_mv} | {"II": 0.2, "III": 0.25, "aVF": 0.22}
    narrow = {f.finding: f for f in ecg_findings(dataclasses.replace(m, qrs_ms=90.0, st_deviation_mv=st))}
    wide = {f.finding: f for f in ecg_findings(dataclasses.replace(m, qrs_ms=150.0, st_deviation_mv=st))}
    assert narrow["st_deviation"].present and narrow["st_deviation"].text == "ST elevation up to 0.25 mV in II, III, aVF"
    assert wide["wide_qrs"].present and not wide["st_deviation"].present and "secondary to the wide QRS" in wide["st_deviation"].text
    assert wide["st_deviation"].score == narrow["st_deviation"].score == pytest.approx(0.25), "the score still ranks"
    assert _leads_text(["I", "V2", "V3", "V4", "V6"]) == "I, V2–V4, V6"
