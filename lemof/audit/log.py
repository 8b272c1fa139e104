"""Appending to the audit log: one entry per action, under an exclusive file lock, written and
fsynced before ``append`` returns, so an action that has completed is on disk.

Several sessions of one server (threads) and several processes (replicas on one host, the CLI)
share a log safely: each append opens the file, takes ``flock`` on it, reads the last entry to
link to, writes one whole line with a single ``write`` and fsyncs. A writer that waited for the
lock while the log was rotated notices that its file is no longer the log and starts over.

Next to the log, ``<log>.head`` records the last entry's number, hash and the log's size (written
atomically after each append): it is what tells a log cut short at the end from an intact one.
If a crash interrupts a write, the log ends in an incomplete line; the next append ends that line
and records a ``log.recovered`` entry naming it (``verify`` reports both), then goes on.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import hashlib
import json
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lemof.audit.chain import FORMAT, GENESIS, seal
from lemof.errors import LemofError
from lemof.paths import cache_dir, write_json_atomic

ENV = "LEMOF_AUDIT_LOG"
_TAIL_BLOCK = 1 << 16
_thread_lock = threading.Lock()  # flock already excludes other file descriptions; this keeps one process's threads polite


class AuditError(LemofError):
    """The audit log cannot be written (or read): the action it records must not go ahead."""


def default_log_path() -> Path:
    """``$LEMOF_AUDIT_LOG`` (chosen by the operator), else ``<cache>/audit/audit.jsonl``."""
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else cache_dir() / "audit" / "audit.jsonl"


def audit_log() -> "AuditLog":
    """The log this process writes to (read from the environment on every call: tests and
    replicas set it per process)."""
    return AuditLog(default_log_path())


def cli_actor() -> str:
    """Who runs a command at the shell: ``cli:<login>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return f"cli:uid{os.getuid()}"


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def head_path(log: Path) -> Path:
    return log.with_name(log.name + ".head")


def _last_line(fd: int, size: int) -> tuple[bytes | None, bytes]:
    """(last complete line without its newline, or None; the bytes after the last newline: a torn write)."""
    start, buf = size, b""
    while start > 0 and buf.count(b"\n") < 2:  # read back until the last complete line is whole
        start = max(0, start - _TAIL_BLOCK)
        buf = os.pread(fd, size - start, start)
    cut = buf.rfind(b"\n")
    if cut < 0:
        return None, buf
    body, torn = buf[:cut], buf[cut + 1:]
    return body[body.rfind(b"\n") + 1:], torn


def _link(line: bytes | None) -> tuple[int, str]:
    """(number of the last entry, hash to link to) from the log's last complete line."""
    if line is None:
        return 0, GENESIS
    try:
        entry = json.loads(line)
        return int(entry["seq"]), str(entry["hash"])
    except (ValueError, KeyError, TypeError):
        # Not an entry (edited by hand, or a torn write ended by an earlier recovery): link to its
        # bytes; ``verify`` reports the line itself.
        return -1, hashlib.sha256(line).hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class AuditLog:
    """An append-only, hash-chained JSON Lines log at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def head_path(self) -> Path:
        return head_path(self.path)

    def _open_locked(self) -> int:
        """An O_APPEND descriptor of the current log file, exclusively locked."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise AuditError(f"cannot create the audit log's folder {self.path.parent}: {exc.strerror or exc}") from exc
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror or exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    return fd
            except FileNotFoundError:
                pass  # rotated away while we waited: open the new one
            except OSError as exc:
                os.close(fd)
                raise AuditError(f"cannot lock the audit log {self.path}: {exc.strerror or exc}") from exc
            os.close(fd)
        raise AuditError(f"the audit log {self.path} keeps being replaced while writing to it")

    def _append_locked(self, fd: int, fields: dict[str, Any]) -> dict:
        size = os.fstat(fd).st_size
        line, torn = _last_line(fd, size)
        seq, prev = _link(line)
        if seq < 0:
            seq = _count_lines(fd, size)
        out = b""
        if torn:
            # A write was interrupted (crash): end that line, record the recovery, then go on.
            out += b"\n"
            entry, raw = seal({"seq": seq + 1, "ts": now_utc(), "event": "log.recovered", "user": "lemof", "role": None,
                               "torn_bytes": len(torn), "torn_sha256": hashlib.sha256(torn).hexdigest(),
                               "prev": hashlib.sha256(torn).hexdigest(), "after_hash": prev, "v": FORMAT})
            out += raw
            seq, prev = seq + 1, entry["hash"]
        entry, raw = seal({**fields, "seq": seq + 1, "prev": prev, "v": FORMAT})
        self._commit(fd, size, out + raw, entry)
        return entry

    def _commit(self, fd: int, size: int, data: bytes, last: dict) -> None:
        """Append ``data`` (whole lines) to the locked log of ``size`` bytes, fsync it, then record
        ``last`` (its final entry) in the head file."""
        _write_all(fd, data)
        os.fsync(fd)
        write_json_atomic(self.head_path, {"seq": last["seq"], "hash": last["hash"], "bytes": size + len(data)})

    def append(self, event: str, *, user: str, role: str | None = None, **fields: Any) -> dict:
        """Write one entry (``event`` by ``user``, with ``fields``) and return it, once it is on disk.

        Raises ``AuditError`` if it cannot be written: the caller must then not do what it records.
        """
        record = _record(event, user, role, fields)
        try:
            json.dumps(record, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise AuditError(f"audit entry {event!r} has a value that is not JSON: {exc}") from exc
        with _thread_lock:
            fd = self._open_locked()
            try:
                return self._append_locked(fd, record)
            except OSError as exc:
                raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror or exc}") from exc
            finally:
                os.close(fd)  # releases the lock

    def rotate(self, *, user: str, stamp: str | None = None) -> Path:
        """Move the log aside as ``<stem>-<UTC time><suffix>`` (with its head) and start a new one
        whose first entry, ``log.rotated``, links to the old one's last hash. Returns the old file's
        new path."""
        with _thread_lock:
            fd = self._open_locked()
            try:
                size = os.fstat(fd).st_size
                line, torn = _last_line(fd, size)
                if line is None and not torn:
                    raise AuditError(f"the audit log {self.path} is empty: nothing to rotate")
                seq, prev = _link(line)
                stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                archive = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
                if archive.exists():
                    raise AuditError(f"cannot rotate the audit log: {archive} exists")
                os.rename(self.path, archive)
                if self.head_path.exists():
                    os.rename(self.head_path, head_path(archive))
                _fsync_dir(self.path.parent)
            finally:
                os.close(fd)
            fd = self._open_locked()
            try:
                fields = _record("log.rotated", user, None, {"from_file": archive.name, "from_hash": prev})
                entry, raw = seal({**fields, "seq": max(seq, 0) + 1, "prev": prev, "v": FORMAT})
                self._commit(fd, 0, raw, entry)
            finally:
                os.close(fd)
            return archive


def _record(event: str, user: str, role: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields before it is numbered and linked: who, when, where, and ``fields`` (None left out)."""
    record = {k: v for k, v in fields.items() if v is not None}
    record.update(ts=now_utc(), event=str(event), user=str(user), role=role, host=socket.gethostname(), pid=os.getpid())
    return record


def _count_lines(fd: int, size: int) -> int:
    count, offset = 0, 0
    while offset < size:
        block = os.pread(fd, min(1 << 20, size - offset), offset)
        count += block.count(b"\n")
        offset += len(block)
    return count


def _fsync_dir(path: Path) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(dfd)
