"""PhysioNet 2012 loader: real records, every quirk survived and counted, all source forms agree."""

from __future__ import annotations

import shutil
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lemof.data.bundle import open_bundle
from lemof.data.physionet2012 import EHR_VARIABLES, SIG_BIN_MINUTES, SIGNAL_CHANNELS, build_physionet2012
from lemof.data.physionet2012_source import read_raw, read_vendored, write_vendored
from lemof.errors import CohortError
from testkit.paths import REPO

DATA = REPO / "tests" / "data" / "physionet2012"


def _subset(tmp: Path, sets: str) -> Path:
    """A PhysioNet-layout directory with only the given sets of the test excerpt."""
    out = tmp / f"sets-{sets}"
    out.mkdir()
    for s in sets:
        shutil.copytree(DATA / f"set-{s}", out / f"set-{s}")
        shutil.copy(DATA / f"Outcomes-{s}.txt", out / f"Outcomes-{s}.txt")
    return out


def _dropped(bundle_dir: Path) -> Counter:
    return Counter({(d["what"], d["reason"]): d["count"] for d in open_bundle(bundle_dir).provenance["dropped"]})


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("pn")
    out = tmp / "bundle"
    build_physionet2012(_subset(tmp, "ab"), out)
    return out


def test_real_records_become_a_valid_bundle(real_bundle):
    b = open_bundle(real_bundle)
    assert b.source == "physionet2012"
    assert len(b) == 41  # 42 real records, one with Length_of_stay = -1
    assert set(b.stays["set"]) == {"a", "b"}
    assert b.ehr_values.shape == (41, 48, len(EHR_VARIABLES))
    assert b.signal.shape == (41, len(SIGNAL_CHANNELS), 96) and b.signal_mask is not None
    assert b.stays["los_days"].min() >= 1
    assert ("stays", "unknown length of stay (-1)") in _dropped(real_bundle)
    assert set(b.stays["first_careunit"]) <= {"CCU", "CSRU", "MICU", "SICU", "unknown"}


def test_grid_values_match_the_raw_file(real_bundle):
    """Recompute one record's 30-min HR bins and hourly GCS straight from its text file."""
    b = open_bundle(real_bundle)
    sid = int(b.stays["stay_id"].iloc[3])
    path = next(DATA.glob(f"set-*/{sid}.txt"))
    hr_bins: dict[int, list[float]] = {}
    gcs_bins: dict[int, list[float]] = {}
    for line in path.read_text().splitlines()[1:]:
        time, param, value = line.split(",")
        minutes = int(time[:2]) * 60 + int(time[3:])
        if param == "HR" and 0 < float(value) <= 300 and minutes <= 2880:
            hr_bins.setdefault(min(minutes // SIG_BIN_MINUTES, 95), []).append(float(value))
        if param == "GCS" and minutes <= 2880:
            gcs_bins.setdefault(min(minutes // 60, 47), []).append(float(value))
    row = b.row_of(sid)
    hr = b.signal_physical(row)[b.signal_channels.index("HR")]
    assert np.flatnonzero(np.isfinite(hr)).tolist() == sorted(hr_bins)
    for k, vals in hr_bins.items():
        assert hr[k] == pytest.approx(np.mean(vals), rel=1e-6)
    gcs = b.ehr_values[row, :, b.ehr_feature_names.index("GCS")]
    for k, vals in gcs_bins.items():
        assert gcs[k] == pytest.approx(np.mean(vals), rel=1e-6)
    assert b.ehr_mask[row, :, b.ehr_feature_names.index("GCS")].sum() == len(gcs_bins)


def test_each_quirk_is_survived_and_counted(tmp_path):
    build_physionet2012(_subset(tmp_path, "a"), tmp_path / "a")
    build_physionet2012(_subset(tmp_path, "ac"), tmp_path / "ac")
    quirks = _dropped(tmp_path / "ac") - _dropped(tmp_path / "a")
    assert quirks == Counter(
        {
            ("files", "not a Time,Parameter,Value CSV"): 1,  # 900005
            ("files", "not UTF-8 text"): 1,  # 900009
            ("rows", "not three comma-separated fields"): 1,  # 900006
            ("rows", "time not HH:MM"): 1,
            ("rows", "value not a number"): 1,
            ("rows", "time after 48:00"): 1,
            ("rows", "empty parameter name"): 1,  # 900001
            ("rows", "unknown parameter 'FooBar'"): 1,
            ("rows", "duplicated descriptor line (first kept)"): 2,  # 900002
            ("rows", "HR outside 1-300 (incl. -1)"): 1,  # 900003
            ("rows", "Temp outside 20-45 (incl. -1)"): 1,
            ("rows", "pH outside 6.5-8.0 (incl. -1)"): 1,
            ("rows", "Weight outside 20-400 (incl. -1)"): 1,
            ("stays", "record file unreadable or empty"): 2,  # 900005, 900009
            ("stays", "no time series (descriptors only)"): 1,  # 900004
            ("stays", "unknown length of stay (-1)"): 1,  # 900007
            ("stays", "no outcome row"): 1,  # 900008
            ("outcome rows", "no record file for this outcome row"): 1,  # 900099
        }
    )
    b = open_bundle(tmp_path / "ac")
    kept = set(b.stays.loc[b.stays["set"] == "c", "stay_id"])
    assert kept == {900001, 900002, 900003, 900006, 900010}
    row = b.row_of(900002)
    assert b.stays["age"].iloc[row] == 70 and b.stays["first_careunit"].iloc[row] == "MICU"  # first line wins
    row = b.row_of(900010)
    urine = b.signal_physical(row)[b.signal_channels.index("Urine")]
    assert urine[2] == 150  # 01:00 and 01:20 summed in one 30-min bin
    assert b.ehr_values[row, 2, b.ehr_feature_names.index("MechVent")] == 1


def test_directory_tarball_and_vendored_copy_agree(tmp_path):
    src = _subset(tmp_path, "abc")
    tar = tmp_path / "pn.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        for item in sorted(src.iterdir()):
            t.add(item, arcname=item.name)
    fp_dir = build_physionet2012(src, tmp_path / "from-dir")
    fp_tar = build_physionet2012(tar, tmp_path / "from-tar")
    write_vendored(read_raw(src), tmp_path / "vendored")
    again = read_vendored(tmp_path / "vendored")
    assert again.problems == read_raw(src).problems
    assert fp_dir == fp_tar
    import lemof.data.physionet2012 as pn

    original = pn.read_vendored
    pn.read_vendored = lambda: again
    try:
        assert build_physionet2012("vendored", tmp_path / "from-vendored") == fp_dir
    finally:
        pn.read_vendored = original


def test_shipped_vendored_copy_is_complete():
    records = read_vendored()
    assert records.sets == ["a", "b"] and len(records.record_sets) == 8000
    assert len(records.rows) > 3_000_000
    assert set(records.outcomes["set"]) == {"a", "b"}


def test_unusable_sources_are_clear_errors(tmp_path):
    with pytest.raises(CohortError, match="does not exist"):
        build_physionet2012(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CohortError, match="no set-X/RecordID.txt"):
        build_physionet2012(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "bad.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(CohortError, match="not a readable tar archive"):
        build_physionet2012(tmp_path / "bad.tar.gz", tmp_path / "out")
    only_c = _subset(tmp_path, "c")
    with pytest.raises(CohortError, match="only 5 usable"):
        build_physionet2012(only_c, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_one_set_alone_builds_a_cohort_whose_records_never_mix_with_the_other(tmp_path):
    src = _subset(tmp_path, "ab")
    build_physionet2012(src, tmp_path / "ab")
    both = open_bundle(tmp_path / "ab")
    parts = {}
    for s in "ab":
        build_physionet2012(src, tmp_path / f"only-{s}", sets=[s])
        parts[s] = open_bundle(tmp_path / f"only-{s}")
        assert set(parts[s].stays["set"]) == {s} and parts[s].name == f"physionet2012-set{s}"
        assert parts[s].provenance["sets"] == [s]
        assert set(parts[s].stays["split"]) <= {"train", "val", "test"}
    assert not set(parts["a"].stays["stay_id"]) & set(parts["b"].stays["stay_id"])
    assert len(parts["a"]) + len(parts["b"]) == len(both)  # the same cleaning, stay by stay
    a_in_both = both.stays.set_index("stay_id").loc[parts["a"].stays["stay_id"], "los_days"].to_numpy()
    assert np.array_equal(a_in_both, parts["a"].stays["los_days"].to_numpy())
    with pytest.raises(CohortError, match=r"set\(s\) c not in this source; it has set\(s\) a, b"):
        build_physionet2012(src, tmp_path / "only-c", sets=["c"])
