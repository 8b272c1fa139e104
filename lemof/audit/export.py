"""The audit log as CSV for the information-governance office: one row per entry, the fields every
entry has first, then page, cohort, run and stay, then everything else as JSON.

A cell that a spreadsheet would read as a formula (starting with ``= + - @``, a tab or a return)
is prefixed with ``'`` (OWASP's advice against CSV injection): user names and cohort text come
from outside.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lemof.audit.chain import CORE
from lemof.errors import ConfigError

COLUMNS = (*CORE, "page", "cohort", "run", "stay", "details")
_SKIP = {"hash", "prev", "v"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def parse_since(text: str) -> datetime:
    """An ISO date (``2026-12-01``, from midnight UTC) or date and time (UTC unless it says)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r} is not a date (YYYY-MM-DD) or an ISO date and time") from None
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def spreadsheet_cell(value) -> str:
    """One CSV cell: None empty, dicts and lists as JSON, and a text that a spreadsheet would read
    as a formula prefixed with ``'`` (shared by every CSV export: the audit log, the reviews)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA) else text


def _ts(entry: dict) -> datetime:
    return datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00"))


def export_csv(paths: list[Path], out: TextIO, *, since: datetime | None = None, user: str | None = None) -> int:
    """Write the entries of ``paths`` (in order) at or after ``since`` by ``user`` as CSV; returns the
    number of rows. Lines that are not entries (an interrupted write) are skipped: ``verify`` reports them."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = 0
    for path in paths:
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    entry = json.loads(raw)
                    when = _ts(entry)
                except (ValueError, KeyError, TypeError):
                    continue
                if since is not None and when < since:
                    continue
                if user is not None and entry.get("user") != user:
                    continue
                details = {k: v for k, v in entry.items() if k not in _SKIP and k not in COLUMNS}
                writer.writerow([spreadsheet_cell(entry.get(c)) for c in COLUMNS[:-1]] + [json.dumps(details, sort_keys=True) if details else ""])
                rows += 1
    return rows
