"""MIMIC-IV + MIMIC-IV-ECG loader against a fixture written in MIMIC's exact formats."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from lemof.data.bundle import open_bundle
from lemof.data.ecg_synth import LEADS
from lemof.data.mimic import MimicOptions, build_mimic
from lemof.data.mimic_schema import COLUMNS, DIAGNOSES, FEATURES
from lemof.errors import CohortError


def _expected_cohort(truth, first_only=True):
    s = truth.stays.sort_values(["subject_id", "intime", "stay_id"])
    s = s[(s["age"] >= 18) & (s["los"] * 24 >= 24)]
    if first_only:
        s = s.drop_duplicates("subject_id", keep="first")
    return s


def test_fixture_is_in_mimic_format(mimic_fixture):
    root, _ = mimic_fixture
    for table, columns in COLUMNS.items():
        with gzip.open(root / "mimic" / f"{table}.csv.gz", "rt") as fh:
            assert fh.readline().strip() == ",".join(columns), table
            first = fh.readline()
        if table == "icu/chartevents":
            fields = first.strip().split(",")
            assert len(fields) == len(columns)
            assert len(fields[4]) == 19 and fields[4][10] == " " and fields[4][13] == ":"  # 2163-10-05 10:54:00
    hea = next((root / "ecg" / "files").rglob("*.hea")).read_text().splitlines()
    name, n_sig, fs, n_samples = hea[0].split()[:4]
    assert (n_sig, fs, n_samples) == ("12", "500", "5000")
    assert " 16 200.0(0)/mV " in hea[1]
    assert (root / "ecg" / "record_list.csv").read_text().splitlines()[0] == "subject_id,study_id,file_name,ecg_time,path"


def test_cohort_definition(mimic_fixture, mimic_bundle):
    _, truth = mimic_fixture
    b = open_bundle(mimic_bundle)
    expected = _expected_cohort(truth)
    assert sorted(b.stays["stay_id"]) == sorted(expected["stay_id"])
    assert (b.stays["los_days"].to_numpy() * 24 >= 24).all()
    assert set(b.stays["split"]) == {"train", "val", "test"}, "a demo-sized install still gets valid splits"
    reasons = {(d["what"], d["reason"]) for d in b.provenance["dropped"]}
    assert ("stays", "excluded, younger than 18") in reasons
    assert ("stays", "excluded, not the patient's first eligible stay") in reasons
    all_stays = build_mimic(mimic_fixture[0] / "mimic", mimic_bundle.parent / "all", options=MimicOptions(first_stay_only=False))
    assert all_stays and len(open_bundle(mimic_bundle.parent / "all")) == len(_expected_cohort(truth, first_only=False))


def test_hourly_grid_matches_what_was_charted(mimic_fixture, mimic_bundle):
    """Vitals (incl. °F -> °C and GCS from its three parts) and labs (incl. null hadm_id and
    null valuenum) land in the right hour; events outside the window and impossible values do not."""
    _, truth = mimic_fixture
    b = open_bundle(mimic_bundle)
    index = {sid: i for i, sid in enumerate(truth.stays["stay_id"])}
    rows = [index[s] for s in b.stays["stay_id"]]
    expected = truth.values[rows]  # (n, 24, 19)
    got = np.where(np.asarray(b.ehr_mask).astype(bool), np.asarray(b.ehr_values, dtype=float), np.nan)
    assert np.array_equal(np.isfinite(got), np.isfinite(expected)), "observed cells must match exactly"
    names = list(FEATURES)
    for j, name in enumerate(names):
        tol = 1e-3 if name != "temp" else 1e-3
        ok = np.isfinite(expected[:, :, j])
        assert np.allclose(got[:, :, j][ok], expected[:, :, j][ok], rtol=1e-5, atol=tol), name


def test_quirks_are_counted(mimic_bundle):
    prov = open_bundle(mimic_bundle).provenance
    counts = prov["counts"]
    assert counts["labevents rows: null hadm_id, matched by subject and time"] > 0
    assert counts["labevents rows: null valuenum, read from the text value"] > 0
    assert counts["chartevents rows: sharing a timestamp with another of the same item (averaged)"] > 0
    dropped = {(d["what"], d["reason"]): d["count"] for d in prov["dropped"]}
    assert dropped[("labevents rows", "dropped, no numeric value")] > 0  # "HEMOLYZED"
    assert dropped[("chartevents rows", "dropped, outside physiological limits")] > 0
    assert prov["missing_itemids"] == [225309, 225310, 225312]
    assert any("225309" in w for w in prov["warnings"])


def test_ecg_matching_never_looks_past_the_window(mimic_fixture, mimic_bundle):
    root, truth = mimic_fixture
    b = open_bundle(mimic_bundle)
    stays = b.stays.set_index("stay_id")
    for sid, row in stays.iterrows():
        expected = truth.ecg_study.get(int(sid))
        if expected is None:
            assert not row["has_signal"]
        else:
            assert row["has_signal"] and row["ecg_study_id"] == expected
    with_ecg = stays[stays["has_signal"]]
    assert (with_ecg["signal_time_h"] <= 24).all() and (with_ecg["signal_time_h"] >= -12).all()
    dropped = {(d["what"], d["reason"]) for d in b.provenance["dropped"]}
    assert any(w == "ECG records" and "unreadable" in r for w, r in dropped), "the header/data mismatch is reported"
    # leads land in the project's order although MIMIC stores aVF before aVL
    import wfdb

    sid = int(with_ecg.index[0])
    rel = f"files/p{str(int(with_ecg.loc[sid, 'subject_id']))[:4]}/p{int(with_ecg.loc[sid, 'subject_id'])}/s{int(with_ecg.loc[sid, 'ecg_study_id'])}/{int(with_ecg.loc[sid, 'ecg_study_id'])}"
    rec = wfdb.rdrecord(str(root / "ecg" / rel))
    sig = b.signal_physical(b.row_of(sid))
    for lead in ("aVL", "aVF", "V1"):
        assert np.allclose(sig[LEADS.index(lead)], rec.p_signal[:, rec.sig_name.index(lead)], atol=0.0011)


def test_parquet_conversions_give_the_same_bundle(mimic_fixture, tmp_path, mimic_bundle):
    import duckdb

    root, _ = mimic_fixture
    parquet = tmp_path / "mimic-parquet"
    for table in COLUMNS:
        (parquet / table).parent.mkdir(parents=True, exist_ok=True)
        src = str(root / "mimic" / f"{table}.csv.gz")
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{src}', header=true, all_varchar=true)) TO '{parquet / table}.parquet' (FORMAT parquet)")
    # keep the same column types a CSV would be read with: cast in the loader
    fp = build_mimic(parquet, tmp_path / "from-parquet", ecg_dir=root / "ecg")
    assert fp == open_bundle(mimic_bundle).fingerprint


def test_missing_tables_and_folders_name_the_expected_path(mimic_fixture, tmp_path):
    root, _ = mimic_fixture
    with pytest.raises(CohortError, match="does not exist"):
        build_mimic(tmp_path / "nope", tmp_path / "out")
    partial = tmp_path / "partial"
    shutil.copytree(root / "mimic", partial)
    (partial / "icu" / "chartevents.csv.gz").unlink()
    with pytest.raises(CohortError, match=r"icu/chartevents not found: expected .*icu/chartevents\.csv\.gz"):
        build_mimic(partial, tmp_path / "out")
    shutil.rmtree(partial / "hosp")
    with pytest.raises(CohortError, match="has no hosp/ folder"):
        build_mimic(partial, tmp_path / "out")
    with pytest.raises(CohortError, match="record_list.csv"):
        (tmp_path / "ecg-empty").mkdir()
        build_mimic(root / "mimic", tmp_path / "out", ecg_dir=tmp_path / "ecg-empty")
    assert not (tmp_path / "out").exists(), "nothing half-written is left behind"


def _planted(truth, stay_ids):
    """The planted diagnosis flags per stay (row order of ``stay_ids``), via the stay's hadm_id."""
    hadm = truth.stays.set_index("stay_id").loc[list(stay_ids), "hadm_id"].to_numpy()
    return truth.diagnoses.set_index("hadm_id").loc[hadm].reset_index()


def test_diagnosis_flags_are_the_planted_icd9_and_icd10_codes(mimic_fixture, mimic_bundle):
    _, truth = mimic_fixture
    b = open_bundle(mimic_bundle)
    got = b.outcomes()
    assert list(got["stay_id"]) == list(b.stays["stay_id"]) and list(got.columns) == ["stay_id", "has_diagnoses", *DIAGNOSES]
    want = _planted(truth, b.stays["stay_id"])
    assert np.array_equal(got["has_diagnoses"].to_numpy(), want["has_diagnoses"].to_numpy())
    assert (~want["has_diagnoses"]).any(), "some admissions have no diagnoses_icd row"
    for col in DIAGNOSES:
        assert got[col].dtype == bool
        assert np.array_equal(got[col].to_numpy(), want[col].to_numpy()), col
        for version in (9, 10):  # each diagnosis is recognised under both code systems
            assert got.loc[(want["icd_version"] == version).to_numpy(), col].sum() > 0, (col, version)
    # decoys (995.90, 585, 427.5, R65.10, N18, I20, ...) and other admissions of the patient did not match
    assert not got.loc[~want[list(DIAGNOSES)].any(axis=1).to_numpy(), list(DIAGNOSES)].to_numpy().any()
    dx = b.provenance["diagnoses"]
    assert dx["model_input"] is False and dx["positives"] == {c: int(want[c].sum()) for c in DIAGNOSES}
    assert "outcomes.parquet" not in b.provenance["file_sha256"], "not part of the fingerprint"
    for name in ("stays.parquet", "features.json"):
        assert "dx_" not in (mimic_bundle / name).read_bytes().decode("latin-1"), name


def test_a_copy_without_diagnoses_builds_with_identical_model_inputs(mimic_fixture, mimic_bundle, tmp_path):
    from lemof.data.preprocess import Preprocessor
    from lemof.explain.concepts import cohort_concepts, cohort_has_concepts

    root, _ = mimic_fixture
    bare = tmp_path / "mimic"
    shutil.copytree(root / "mimic", bare)
    (bare / "hosp" / "diagnoses_icd.csv.gz").unlink()
    fp = build_mimic(bare, tmp_path / "bundle", ecg_dir=root / "ecg")
    b, full = open_bundle(tmp_path / "bundle"), open_bundle(mimic_bundle)
    assert b.outcomes() is None and not (tmp_path / "bundle" / "outcomes.parquet").exists()
    assert b.provenance["diagnoses"] is None and any("diagnoses_icd not found" in w for w in b.provenance["warnings"])
    assert fp == full.fingerprint, "the diagnoses are outside the fingerprint: model inputs are the same"
    rows = full.rows("all")
    pre_a, pre_b = Preprocessor.fit(full, full.rows("train")), Preprocessor.fit(b, b.rows("train"))
    assert np.array_equal(pre_a.ehr(full, rows), pre_b.ehr(b, rows), equal_nan=True)
    assert b.stays.equals(full.stays)
    names = [c.name for c in cohort_concepts(b)[0]]
    assert cohort_has_concepts(b) and "shock" in names and not any(n.endswith("(ICD)") for n in names)


def test_cohort_concepts_of_a_mimic_bundle_hold_the_diagnoses(mimic_fixture, mimic_bundle):
    from lemof.explain.concepts import cohort_concepts, cohort_has_concepts

    _, truth = mimic_fixture
    b = open_bundle(mimic_bundle)
    concepts, values = cohort_concepts(b)
    assert cohort_has_concepts(b) and len(values) == len(b)
    names = [c.name for c in concepts]
    assert {"surgical ICU", "shock", "lactate > 2", "AKI", "GCS <= 8"} <= set(names)
    want = _planted(truth, b.stays["stay_id"])
    for name, col in (("sepsis (ICD)", "dx_sepsis"), ("AKI (ICD)", "dx_aki"), ("heart failure (ICD)", "dx_heart_failure"),
                      ("MI (ICD)", "dx_mi"), ("AF (ICD)", "dx_af")):
        expected = np.where(want["has_diagnoses"], want[col].astype(float), np.nan)
        assert np.array_equal(values[name].to_numpy(), expected, equal_nan=True), name
    unit = b.stays["first_careunit"].to_numpy()
    surgical = values["surgical ICU"].to_numpy()
    assert (surgical[unit == "Medical Intensive Care Unit (MICU)"] == 0).all() and (surgical[unit == "Trauma SICU (TSICU)"] == 1).all()
    assert np.isnan(surgical[unit == "Medical/Surgical Intensive Care Unit (MICU/SICU)"]).all()


def test_a_broken_outcomes_file_is_a_one_line_error(mimic_bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(mimic_bundle, copy)
    (copy / "outcomes.parquet").write_bytes(b"not parquet")
    with pytest.raises(CohortError, match="outcomes.parquet is not a readable Parquet table") as err:
        open_bundle(copy).outcomes()
    assert "\n" not in str(err.value)


def test_a_mimic_bundle_trains_and_explains_like_any_other(mimic_bundle, mimic_run):
    from lemof import explain_stay, load_run, stay_attention

    run, b = load_run(mimic_run), open_bundle(mimic_bundle)
    assert run.cohort.source == "mimic-iv"
    sid = int(b.stays.loc[b.stays["has_signal"], "stay_id"].iloc[0])
    e = explain_stay(run, b, sid)["heads"]
    assert stay_attention(run, b, sid) is not None
    assert abs(e.base + e.total - e.output) < 1e-5
    from lemof.runs.concepts_file import CONCEPTS_FILE, read_level_concepts

    stored = read_level_concepts(mimic_run / CONCEPTS_FILE)
    assert stored is not None, "a LeMoF run on MIMIC-IV stores its concept probes"
    assert {"sepsis (ICD)", "AKI (ICD)", "heart failure (ICD)", "MI (ICD)", "AF (ICD)", "shock"} <= set(stored["concepts"])
    assert "ehr.L1" in stored["levels"] and stored["cohort_fingerprint"] == b.fingerprint


def test_the_ecg_carts_measurements_are_read_and_agree_with_ours(mimic_fixture, mimic_bundle):
    """machine_measurements.csv (ms offsets, 29999 = not measured) becomes heart rate, PR, QRS, QT and
    axis per matched stay, never a model input; our measurements agree with the cart's."""
    from lemof.ecg.findings import machine_text
    from lemof.ecg.measure import measure
    from lemof.ecg.record import EcgRecord, normalise_lead

    root, truth = mimic_fixture
    machine = pd.read_csv(root / "ecg" / "machine_measurements.csv").set_index("study_id")
    bundle = open_bundle(mimic_bundle)
    assert "heart_rate_bpm" not in bundle.stays.columns, "not a model input: outside the stays table"
    hr_diff = []
    in_cohort = set(bundle.stays["stay_id"].astype(int))
    for stay_id, study in truth.ecg_study.items():
        if stay_id not in in_cohort:  # the fixture plants ECGs for stays the cohort definition leaves out too
            continue
        row = bundle.row_of(stay_id)
        if not bundle.stays["has_signal"].iloc[row]:
            continue
        values = bundle.ecg_machine(stay_id)
        cart = machine.loc[study]
        assert values["heart_rate_bpm"] == pytest.approx(60000.0 / cart["rr_interval"])
        assert values["qrs_ms"] == pytest.approx(cart["qrs_end"] - cart["qrs_onset"])
        if cart["p_onset"] == 29999:
            assert values["pr_ms"] is None and values["qt_ms"] is None, "29999 is 'not measured', never a number"
        ours = measure(EcgRecord(np.asarray(bundle.signal_physical(row), dtype=float), tuple(normalise_lead(c) for c in bundle.signal_channels), bundle.signal_fs))
        if ours.heart_rate_bpm is not None:
            hr_diff.append(ours.heart_rate_bpm - values["heart_rate_bpm"])
        text = machine_text(ours, values)
        assert text.startswith("rate ") and "(ours" in text
    assert len(hr_diff) >= 10
    assert float(np.mean(np.abs(hr_diff))) < 5.0, "heart rate agrees with the cart's within 5 bpm on average (its RR carries 2 % noise)"
    no_ecg = int(bundle.stays.loc[~bundle.stays["has_signal"], "stay_id"].iloc[0])
    assert bundle.ecg_machine(no_ecg) is None
