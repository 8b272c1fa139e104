"""The model a unit's trainers made active for everyone: per cohort, the run a new session opens on.

Kept in ``<cache>/runs/active-for-everyone.json`` (next to the runs the app trains; with several
replicas, on the shared runs folder), written atomically: ``{cohort key: {"run", "by", "at"}}``.
A session that has picked a run itself keeps its pick; a run that is no longer readable is ignored
(the usual default order applies).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lemof.paths import cache_dir, write_json_atomic

FILE = "active-for-everyone.json"


def defaults_path() -> Path:
    return cache_dir() / "runs" / FILE


def read_defaults(path: Path | None = None) -> dict[str, dict]:
    """Cohort key → {"run", "by", "at"}; an unreadable file counts as none (logged by the caller)."""
    try:
        data = json.loads((path or defaults_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("run"), str)} if isinstance(data, dict) else {}


def set_default(cohort_key: str, run_id: str, by: str, path: Path | None = None) -> dict:
    """Make ``run_id`` the model every new session opens on for ``cohort_key``; returns the record."""
    path = path or defaults_path()
    current = read_defaults(path)
    record = {"run": run_id, "by": by, "at": time.strftime("%Y-%m-%d %H:%M", time.localtime())}
    current[cohort_key] = record
    write_json_atomic(path, current)
    return record
