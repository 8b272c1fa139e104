"""Checking an audit log: every line an entry in the log's own canonical form, every hash right,
every entry linked to the one before, numbered one after it, and the end where the head says.

The first problem found is reported with its line number (1-based) and what it means: an edited
line (its hash no longer matches), a reordered or removed one (the link breaks), an end cut short
(the head records a later entry), or an incomplete last line (a write interrupted by a crash).
A torn write that a later append recorded (``log.recovered``) is not a problem but a note.

What it proves, and what not: the chain is unkeyed, so whoever can write the file could rebuild
every hash after an edit. ``verify`` prints the last entry's hash; recording it elsewhere (the
information-governance office, a write-once store) is what pins the history up to that point.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from lemof.audit.chain import GENESIS, canonical, entry_hash
from lemof.audit.log import AuditError, head_path


@dataclass
class Verification:
    path: Path
    entries: int = 0
    lines: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    first_hash: str | None = None  # what the first entry links to (GENESIS, or the file it was rotated from)
    bad_line: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.ok:
            end = f"last entry {self.last_seq}, hash {self.last_hash}" if self.entries else "no entries"
            return f"{self.path}: intact, {self.entries:,} entries ({end})"
        return f"{self.path}: line {self.bad_line}: {self.problem}" if self.bad_line else f"{self.path}: {self.problem}"


def _fail(result: Verification, line: int | None, problem: str) -> Verification:
    result.bad_line, result.problem = line, problem
    return result


def verify_log(path: str | Path, *, follows: Verification | None = None) -> Verification:
    """Check the log at ``path``. ``follows``: the result of the file it was rotated from (its
    last hash must be what this one's first entry links to)."""
    path = Path(path)
    result = Verification(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditError(f"no audit log at {path}") from None
    except OSError as exc:
        raise AuditError(f"cannot read the audit log {path}: {exc.strerror or exc}") from exc
    lines = data.split(b"\n")
    torn_tail = lines.pop()  # b"" when the file ends with a newline
    result.lines = len(lines) + (1 if torn_tail else 0)
    prev_hash, prev_seq, prev_line = None, None, None
    hashes: dict[int, str] = {}  # entry number → hash, for a head that lags behind
    pending_torn: tuple[int, bytes] | None = None  # a line that is not an entry, waiting for its recovery record
    for number, raw in enumerate(lines, start=1):
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict):
                raise ValueError
        except ValueError:
            if pending_torn is not None:
                return _fail(result, pending_torn[0], "not an audit entry (edited, or an interrupted write with no recovery record)")
            pending_torn = (number, raw)
            continue
        if canonical(entry).encode("ascii", "replace") != raw:
            return _fail(result, number, "edited: the line is not in the form the log writes (changed by hand?)")
        if entry.get("hash") != entry_hash(entry):
            return _fail(result, number, "edited: its content no longer matches its hash")
        try:
            seq = int(entry["seq"])
            link = str(entry["prev"])
        except (KeyError, TypeError, ValueError):
            return _fail(result, number, "not an audit entry (no entry number or link)")
        if pending_torn is not None:
            torn_line, torn = pending_torn
            sha = hashlib.sha256(torn).hexdigest()
            if entry.get("event") != "log.recovered" or entry.get("torn_sha256") != sha or link != sha:
                return _fail(result, torn_line, "not an audit entry (edited, or an interrupted write with no recovery record)")
            if prev_hash is not None and entry.get("after_hash") != prev_hash:
                return _fail(result, number, f"the recovery record does not follow line {prev_line}")
            result.notes.append(f"line {torn_line}: an interrupted write ({len(torn)} bytes), recorded by the recovery entry on line {number}")
            pending_torn = None
        elif prev_hash is None:
            if entry.get("event") == "log.rotated":
                if link != entry.get("from_hash"):
                    return _fail(result, number, "the rotation entry's link does not match the file it names")
                if follows is not None and link != follows.last_hash:
                    return _fail(result, number, f"does not continue {follows.path.name}: it links to {link[:16]}…, that file ends at {follows.last_hash[:16]}…")
                result.notes.append(f"continues {entry.get('from_file')} (its last hash {link})")
            elif follows is not None:
                return _fail(result, number, f"does not continue {follows.path.name}: this log starts afresh (give the files oldest first)")
            elif link != GENESIS or seq != 1:
                return _fail(result, number, "the log does not start at its first entry (entries removed from the beginning?)")
            result.first_hash = link
        else:
            if link != prev_hash:
                return _fail(result, number, f"does not follow line {prev_line}: an entry was removed, inserted or moved")
            if seq != prev_seq + 1:
                return _fail(result, number, f"entry number {seq} where {prev_seq + 1} was expected: an entry was removed or moved")
        prev_hash, prev_seq, prev_line = entry["hash"], seq, number
        hashes[seq] = prev_hash
        result.entries += 1
    if pending_torn is not None:
        return _fail(result, pending_torn[0], "not an audit entry (edited, or an interrupted write with no recovery record)")
    if prev_hash is not None:
        result.last_hash, result.last_seq = prev_hash, prev_seq
    if torn_tail:
        return _fail(result, result.lines, f"incomplete last entry ({len(torn_tail)} bytes, no end of line): a write was interrupted "
                                           "(a crash); the next write to the log records the recovery")
    return _check_head(result, len(lines), hashes)


def _check_head(result: Verification, n_lines: int, hashes: dict[int, str]) -> Verification:
    hp = head_path(result.path)
    if not hp.exists():
        if result.entries:
            return _fail(result, None, f"its head file {hp.name} is missing: cannot tell whether entries were removed from the end")
        return result
    try:
        head = json.loads(hp.read_text())
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return _fail(result, None, f"its head file {hp.name} is unreadable")
    if head_seq > result.last_seq:
        return _fail(result, n_lines or None, f"cut short: the log ends at entry {result.last_seq}, its head records entry {head_seq}")
    if head_seq < result.last_seq:
        # A crash between writing an entry and its head, or a forged tail: the head's entry must be in the chain.
        if hashes.get(head_seq) != head_hash:
            return _fail(result, None, f"its head records entry {head_seq} with a hash the log does not have")
        result.notes.append(f"the head records entry {head_seq}, the log goes on to {result.last_seq}: the head was not updated after a write (a crash?)")
    elif head_hash != result.last_hash:
        return _fail(result, n_lines, "the last entry's hash differs from the one its head records (the end was rewritten)")
    return result


def verify_chain(paths: list[str | Path]) -> list[Verification]:
    """Check ``paths`` oldest first, each continuing the one before (a rotated log); stops at the
    first that fails, which is the last result returned."""
    results: list[Verification] = []
    for path in paths:
        results.append(verify_log(path, follows=results[-1] if results else None))
        if not results[-1].ok:
            break
    return results
