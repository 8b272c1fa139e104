"""The cohort bundle: validation errors name the problem; splits are by patient."""

from __future__ import annotations

import json

import numpy as np
import pytest

from testkit.cohorts import copy_bundle, inject_nan
from lemof.data.bundle import open_bundle
from lemof.data.splits import assign_splits
from lemof.errors import CohortError, StayNotFoundError
from lemof.paths import atomic_directory, safe_name


def test_splits_group_patients_and_are_deterministic():
    subjects = np.repeat(np.arange(500), 2)  # two stays per patient
    a = assign_splits(subjects, seed=0)
    b = assign_splits(subjects[::-1], seed=0)[::-1]
    assert (a == b).all(), "split must not depend on row order"
    for s in np.unique(subjects):
        assert len(set(a[subjects == s])) == 1
    shares = {k: np.mean(a == k) for k in ("train", "val", "test")}
    assert shares == pytest.approx({"train": 0.70, "val": 0.15, "test": 0.15}, abs=0.01)
    assert (assign_splits(subjects, seed=1) != a).any()


def test_tiny_cohorts_still_get_every_split():
    labels = assign_splits(np.arange(5), seed=0)
    assert set(labels) == {"train", "val", "test"}


def test_open_bundle_reads_shapes(tiny_cohort):
    b = open_bundle(tiny_cohort)
    n = len(b)
    assert b.ehr_values.shape[0] == b.ehr_mask.shape[0] == b.signal.shape[0] == n == 300
    assert set(b.stays["split"]) == {"train", "val", "test"}
    assert b.stays.groupby("subject_id")["split"].nunique().max() == 1
    assert b.row_of(b.stays["stay_id"].iloc[7]) == 7


def test_every_bundle_indexes_its_own_stays(tiny_cohort):
    """The row index is the bundle's own (built from its stays), not set from outside: a copy with
    other stays, or the what-if's one-stay bundle, finds exactly its stays."""
    import dataclasses

    from lemof.explain.whatif import Edit, edited_stay

    b = open_bundle(tiny_cohort)
    sid = int(b.stays["stay_id"].iloc[7])
    tail = dataclasses.replace(b, stays=b.stays.iloc[5:].reset_index(drop=True))
    assert tail.row_of(sid) == 2
    with pytest.raises(StayNotFoundError):
        tail.row_of(int(b.stays["stay_id"].iloc[0]))
    one = edited_stay(b, sid, [Edit("hide_signal")])
    assert one.row_of(sid) == 0 and len(one) == 1 and b.row_of(sid) == 7


def test_unknown_stay_is_a_clear_error(tiny_cohort):
    b = open_bundle(tiny_cohort)
    with pytest.raises(StayNotFoundError, match="stay 123 is not in cohort"):
        b.row_of(123)
    with pytest.raises(StayNotFoundError, match="not a number"):
        b.row_of("abc")


def test_missing_bundle_and_missing_file(tiny_cohort, tmp_path):
    with pytest.raises(CohortError, match="does not exist"):
        open_bundle(tmp_path / "nope")
    bad = copy_bundle(tiny_cohort, tmp_path / "bad")
    (bad / "ehr_mask.npy").unlink()
    with pytest.raises(CohortError, match="missing ehr_mask.npy"):
        open_bundle(bad)


def test_nan_in_an_observed_value_names_stay_and_feature(tiny_cohort, tmp_path):
    bad = copy_bundle(tiny_cohort, tmp_path / "nan")
    i, t, _ = inject_nan(bad, which=10)
    stay = int(open_bundle(tiny_cohort).stays["stay_id"].iloc[i])
    with pytest.raises(CohortError, match=rf"NaN/inf for stay {stay}, feature '\w+', step {t}"):
        open_bundle(bad)


def test_corrupt_table_and_wrong_shapes(tiny_cohort, tmp_path):
    bad = copy_bundle(tiny_cohort, tmp_path / "corrupt")
    (bad / "stays.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(CohortError, match="not a readable Parquet table"):
        open_bundle(bad)
    bad2 = copy_bundle(tiny_cohort, tmp_path / "shape")
    np.save(bad2 / "ehr_mask.npy", np.zeros((3, 3, 3), dtype=np.uint8))
    with pytest.raises(CohortError, match="ehr_mask.npy has shape"):
        open_bundle(bad2)
    bad3 = copy_bundle(tiny_cohort, tmp_path / "version")
    feats = json.loads((bad3 / "features.json").read_text())
    feats["format_version"] = 99
    (bad3 / "features.json").write_text(json.dumps(feats))
    with pytest.raises(CohortError, match="format version 99"):
        open_bundle(bad3)


def test_safe_name_keeps_paths_inside():
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("gru+resnet1d run 1") == "gru+resnet1d-run-1"
    with pytest.raises(ValueError):
        safe_name("///")


def test_atomic_directory_leaves_old_content_on_failure(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(final, overwrite=True) as tmp:
            (tmp / "keep.txt").write_text("new, half written")
            raise RuntimeError("crash")
    assert (final / "keep.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    with pytest.raises(FileExistsError):
        with atomic_directory(final):
            pass
