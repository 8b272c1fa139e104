"""The audit log: hash-chained, append-only, exact under concurrency, and `audit verify` names the
first bad line of an edited, reordered, truncated or torn log."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from testkit.paths import REPO
from testkit.fresh import lemof_cli
from lemof.audit import AuditError, AuditLog, export_csv, verify_log
from lemof.audit.chain import entry_hash


def _log(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path)
    for i in range(n):
        log.append("stay.view", user=f"user{i % 2}@hospital.org", role="viewer", page="case review", cohort="synthetic", run="r1", stay=1000 + i)
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(l + b"\n" for l in lines))


def _verify_cli(path: Path) -> subprocess.CompletedProcess:
    return lemof_cli("audit", "verify", "--log", str(path))


def test_an_intact_log_verifies_and_every_entry_links_to_the_one_before(tmp_path):
    path = _log(tmp_path)
    entries = [json.loads(l) for l in _lines(path)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in zip(entries, entries[1:]))
    assert all(e["hash"] == entry_hash(e) for e in entries)
    assert entries[2]["stay"] == 1002 and entries[2]["user"] == "user0@hospital.org" and entries[2]["page"] == "case review"
    proc = _verify_cli(path)
    assert proc.returncode == 0, proc.stderr
    assert "intact, 6 entries" in proc.stdout and entries[-1]["hash"] in proc.stdout
    assert (path.stat().st_mode & 0o777) == 0o600  # patient-related: readable by the server's user only


@pytest.mark.parametrize("tamper, line, says", [
    ("edit_value", 3, "edited"),
    ("edit_spacing", 4, "edited"),
    ("swap", 3, "does not follow line 2"),
    ("remove_middle", 4, "does not follow line 3"),
    ("remove_first", 1, "does not start at its first entry"),
    ("insert_copy", 4, "does not follow line 3"),
])
def test_verify_names_the_first_bad_line(tmp_path, tamper, line, says):
    path = _log(tmp_path)
    lines = _lines(path)
    if tamper == "edit_value":
        lines[2] = lines[2].replace(b'"stay":1002', b'"stay":1003')
    elif tamper == "edit_spacing":
        lines[3] = lines[3].replace(b'","', b'", "', 1)
    elif tamper == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif tamper == "remove_middle":
        del lines[3]
    elif tamper == "remove_first":
        del lines[0]
    elif tamper == "insert_copy":
        lines.insert(3, lines[1])
    _write_lines(path, lines)
    proc = _verify_cli(path)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and f"line {line}:" in err[0] and says in err[0], proc.stderr
    assert verify_log(path).bad_line == line


def test_verify_detects_an_end_cut_short_and_a_missing_head(tmp_path):
    path = _log(tmp_path)
    full = path.read_bytes()
    _write_lines(path, _lines(path)[:-2])
    proc = _verify_cli(path)
    assert proc.returncode == 2 and "cut short: the log ends at entry 4, its head records entry 6" in proc.stderr
    path.write_bytes(full)
    assert _verify_cli(path).returncode == 0
    (path.parent / "audit.jsonl.head").unlink()
    proc = _verify_cli(path)
    assert proc.returncode == 2 and "head file audit.jsonl.head is missing" in proc.stderr


_CRASH = """
import os, sys
import lemof.audit.log as audit_log
def half_then_die(fd, data):
    os.write(fd, data[: len(data) // 2])
    os._exit(9)  # the process dies mid-write: no flush, no cleanup, no head update
audit_log._write_all = half_then_die
audit_log.AuditLog(sys.argv[1]).append("stay.view", user="crash@hospital.org", role="viewer", stay=4242)
"""


def test_a_crash_mid_write_is_reported_precisely_and_recorded_by_the_next_write(tmp_path):
    path = _log(tmp_path, n=3)
    proc = subprocess.run([sys.executable, "-c", _CRASH, str(path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9
    result = verify_log(path)
    assert not result.ok and result.bad_line == 4 and "incomplete last entry" in result.problem and "interrupted" in result.problem
    assert _verify_cli(path).returncode == 2
    AuditLog(path).append("stay.view", user="next@hospital.org", role="viewer", stay=7)
    result = verify_log(path)
    assert result.ok, result.summary()
    assert result.entries == 5 and any("line 4: an interrupted write" in n for n in result.notes)  # 3 + recovery + the new one
    recovered = json.loads(_lines(path)[4])
    assert recovered["event"] == "log.recovered" and recovered["after_hash"] == json.loads(_lines(path)[2])["hash"]
    assert json.loads(_lines(path)[5])["stay"] == 7
    proc = _verify_cli(path)
    assert proc.returncode == 0 and "note:" in proc.stdout and "line 4: an interrupted write" in proc.stdout


_WRITER = """
import sys
from lemof.audit import AuditLog
log = AuditLog(sys.argv[1])
for i in range(int(sys.argv[3])):
    log.append("stay.view", user=f"proc{sys.argv[2]}", role="viewer", stay=i)
"""


def test_concurrent_processes_and_threads_never_lose_or_interleave_a_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(p), "60"], cwd=REPO) for p in range(6)]
    log = AuditLog(path)

    def threads_write(t: int) -> None:
        for i in range(40):
            log.append("stay.view", user=f"thread{t}", role="viewer", stay=i)

    workers = [threading.Thread(target=threads_write, args=(t,)) for t in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(p.wait(timeout=120) == 0 for p in procs)
    result = verify_log(path)
    assert result.ok, result.summary()
    entries = [json.loads(l) for l in _lines(path)]
    assert len(entries) == 6 * 60 + 4 * 40 == result.entries
    pairs = sorted((e["user"], e["stay"]) for e in entries)
    expected = sorted([(f"proc{p}", i) for p in range(6) for i in range(60)] + [(f"thread{t}", i) for t in range(4) for i in range(40)])
    assert pairs == expected  # each exactly once
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))


def test_rotation_continues_the_chain_across_files(tmp_path):
    path = _log(tmp_path, n=4)
    proc = lemof_cli("audit", "rotate", "--log", str(path))
    assert proc.returncode == 0, proc.stderr
    archive = Path(json.loads(proc.stdout)["archived"])
    assert archive.exists() and archive.parent == path.parent and archive.name.startswith("audit-")
    AuditLog(path).append("stay.view", user="a@hospital.org", role="viewer", stay=1)
    first = json.loads(_lines(path)[0])
    assert first["event"] == "log.rotated" and first["from_file"] == archive.name and first["seq"] == 5
    assert first["prev"] == json.loads(_lines(archive)[-1])["hash"]
    both = lemof_cli("audit", "verify", "--log", str(archive), "--log", str(path))
    assert both.returncode == 0, both.stderr
    assert "continues " + archive.name in both.stdout
    wrong = lemof_cli("audit", "verify", "--log", str(path), "--log", str(archive))
    assert wrong.returncode == 2 and "line 1" in wrong.stderr


def test_export_filters_by_date_and_user_and_neutralises_formulas(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append("stay.view", user="ana@hospital.org", role="viewer", page="case review", cohort="synthetic", run="r1", stay=11)
    log.append("auth.refused", user="=HYPERLINK(\"http://evil\")", role=None, reason="no access")
    log.append("report.download", user="ben@hospital.org", role="trainer", cohort="synthetic", run="r1", stay=12, fingerprint="abc")
    proc = lemof_cli("audit", "export", "--since", "2000-01-01", "--log", str(path))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["event"] for r in rows] == ["stay.view", "auth.refused", "report.download"]
    assert rows[0]["stay"] == "11" and rows[0]["page"] == "case review" and rows[0]["user"] == "ana@hospital.org"
    assert rows[1]["user"].startswith("'=")  # a spreadsheet shows it as text, never runs it
    assert json.loads(rows[2]["details"])["fingerprint"] == "abc"
    assert "3 entries since" in proc.stderr
    one = list(csv.DictReader(io.StringIO(lemof_cli("audit", "export", "--since", "2000-01-01", "--user", "ben@hospital.org", "--log", str(path)).stdout)))
    assert [r["stay"] for r in one] == ["12"]
    assert list(csv.DictReader(io.StringIO(lemof_cli("audit", "export", "--since", "2999-01-01", "--log", str(path)).stdout))) == []
    out = io.StringIO()
    assert export_csv([path], out, user="nobody") == 0
    bad = lemof_cli("audit", "export", "--since", "yesterday", "--log", str(path))
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_export_refuses_a_log_that_does_not_verify_unless_told(tmp_path):
    path = _log(tmp_path, n=3)
    lines = _lines(path)
    lines[1] = lines[1].replace(b"1001", b"1009")
    _write_lines(path, lines)
    proc = lemof_cli("audit", "export", "--since", "2000-01-01", "--log", str(path))
    assert proc.returncode == 2 and proc.stdout == "" and "line 2" in proc.stderr
    proc = lemof_cli("audit", "export", "--since", "2000-01-01", "--log", str(path), "--unverified")
    assert proc.returncode == 0 and "warning:" in proc.stderr and len(list(csv.DictReader(io.StringIO(proc.stdout)))) == 3


def test_a_log_that_cannot_be_written_stops_the_action(tmp_path, tiny_run, tiny_cohort, stay_ids):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(AuditError, match="cannot create the audit log's folder"):
        AuditLog(blocker / "audit.jsonl").append("stay.view", user="a", stay=1)
    out = tmp_path / "report.html"
    proc = lemof_cli("report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"]), "--out", str(out),
                 env={"LEMOF_AUDIT_LOG": str(blocker / "audit.jsonl")})
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot create the audit log's folder") and not out.exists()


def test_a_report_path_that_cannot_be_written_is_refused_before_anything_is_logged(tmp_path, tiny_run, tiny_cohort, stay_ids):
    log = tmp_path / "audit.jsonl"
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out in [blocker / "report.html", tmp_path] + ([Path("/proc/x.html")] if Path("/proc").is_dir() else []):
        proc = lemof_cli("report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["with_signal"]), "--out", str(out),
                         env={"LEMOF_AUDIT_LOG": str(log)})
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: cannot write the output file {out}"), proc.stderr
    assert not log.exists(), "nothing was rendered or written: nothing is logged"


def test_a_report_that_fails_to_write_is_logged_as_attempted_and_failed(tmp_path, tiny_run, tiny_cohort, stay_ids, monkeypatch, capsys):
    """The path passed the check but the write fails (a full disk): the ``report.write`` entry
    (before the file, as always) is followed by ``report.write_failed`` with the reason."""
    import errno

    import lemof.report
    from lemof.cli import main

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    log, out = tmp_path / "audit.jsonl", tmp_path / "report.html"
    monkeypatch.setenv("LEMOF_AUDIT_LOG", str(log))
    monkeypatch.setattr(lemof.report, "write_bytes_atomic", full_disk)
    sid = stay_ids["with_signal"]
    assert main(["report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(sid), "--out", str(out)]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert err == [f"error: cannot write the report {out}: No space left on device"]
    attempt, outcome = [json.loads(l) for l in _lines(log)]
    assert attempt["event"] == "report.write" and outcome["event"] == "report.write_failed"
    assert outcome["error"] == "No space left on device" and outcome["stay"] == attempt["stay"] == sid and outcome["out"] == attempt["out"] == str(out.resolve())
    assert not out.exists() and verify_log(log).ok


def test_every_cli_report_is_in_the_log_before_the_file_exists(tmp_path, tiny_run, tiny_cohort, stay_ids):
    log = tmp_path / "audit.jsonl"
    out = tmp_path / "report.html"
    sid = stay_ids["with_signal"]
    proc = lemof_cli("report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(sid), "--out", str(out), env={"LEMOF_AUDIT_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    (entry,) = [json.loads(l) for l in _lines(log)]
    assert entry["event"] == "report.write" and entry["via"] == "cli" and entry["stay"] == sid and entry["user"].startswith("cli:")
    assert entry["out"] == str(out.resolve()) and entry["run"] == tiny_run.name
    missing = lemof_cli("report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", "999999999", "--out", str(tmp_path / "x.html"), env={"LEMOF_AUDIT_LOG": str(log)})
    assert missing.returncode == 2 and len(_lines(log)) == 1  # no report, no entry
