"""The ECG's findings (AF pattern, wide QRS, ST deviation) against the synthetic truth, the part of
the beat each instant belongs to, the split of the ECG's driver into findings (it adds up), and
the ``ecg`` object of ``python -m lemof explain``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lemof import CohortResults, load_run, open_bundle
from lemof.ecg.findings import FINDINGS, ecg_findings
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


def test_the_ecg_driver_split_into_findings_adds_up(tiny_run, tiny_cohort, stay_ids):
    """With the run's finding effects, the ECG's part becomes one part per measurable finding
    (β · (present − base rate)) and the rest of the ECG; together exactly the ECG's whole part."""
    from lemof.explain.drivers import drivers_attribution
    from lemof.explain.ecg_effects import fit_ecg_effects
    from lemof.explain.explainers import NETWORK_ROUNDING

    cohort = CohortResults(load_run(tiny_run), open_bundle(tiny_cohort))
    effects = fit_ecg_effects(cohort, n=60)
    assert effects is not None and set(effects["beta"]) == set(FINDINGS) and effects["n"] >= 16
    assert all(0.0 <= effects["base_rate"][k] <= 1.0 for k in FINDINGS) and effects["r2"] <= 1.0
    stay = cohort.stay(stay_ids["with_signal"])
    assert stay.ecg is not None
    whole = drivers_attribution(stay.input_gradients, stay.bundle, los_days=stay.prediction.los_days)
    split = drivers_attribution(stay.input_gradients, stay.bundle, los_days=stay.prediction.los_days, ecg=stay.ecg, ecg_effects=effects,
                                network_rounding=NETWORK_ROUNDING)
    ecg_whole = sum(v for v, g in zip(whole.values, whole.groups) if g == "signal")
    found = {f.finding: f for f in stay.ecg_findings()}
    parts = {k: v for k, v in zip(split.detail["findings"], split.values) if k}
    assert set(parts) == {k for k in FINDINGS if found[k].score is not None}
    for k, v in parts.items():
        s = split.detail["days_per_log1p_day"]
        assert v == pytest.approx(s * effects["beta"][k] * (float(found[k].present) - effects["base_rate"][k]), rel=1e-12)
    rest = [v for n, v, g in zip(split.names, split.values, split.groups) if g == "signal"]
    assert len(rest) == 1, "what the findings do not explain is one part: the rest of the ECG"
    assert sum(parts.values()) + rest[0] == pytest.approx(ecg_whole, rel=1e-9, abs=1e-12), "the findings and the rest share the ECG's part exactly"
    assert split.total == pytest.approx(whole.total, rel=1e-9, abs=1e-12)
    assert abs(split.completeness_gap) <= split.tolerance


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
