"""One audit entry, as it is written: a canonical JSON line whose ``hash`` covers every other field,
including ``prev``, the hash of the entry before it.

Canonical means ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)``: one
spelling per entry, so any change to a line (a value, a space, the order of its keys) shows as a
hash that no longer matches; removing or moving a line breaks the ``prev`` link of the next one.
The first entry of a log links to ``GENESIS`` (a fresh log) or to the last hash of the file it
was rotated from.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

GENESIS = "0" * 64
FORMAT = 1
#: fields every entry has, in the order the CSV export shows them
CORE = ("seq", "ts", "event", "user", "role")


def canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def entry_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of an entry's canonical JSON without its own ``hash``."""
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("ascii")).hexdigest()


def seal(fields: Mapping[str, Any]) -> tuple[dict, bytes]:
    """The entry with its hash, and the exact line (newline included) that is written."""
    entry = dict(fields)
    entry["hash"] = entry_hash(entry)
    return entry, (canonical(entry) + "\n").encode("ascii")
