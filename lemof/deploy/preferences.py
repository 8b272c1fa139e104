"""Per-user display preferences that outlive a browser session (e.g. "show outcomes" for a
retrospective review), in one small JSON file under the cache directory.

Users are keyed by the SHA-256 of their sign-in name (no e-mail address in the file, and any
name is safe as a key). Every change is a read-modify-write under ``flock`` on a lock file,
written through a temporary file and ``os.replace``, so two servers (or sessions) changing
preferences at once lose neither change and a crash never leaves half a file. Only known keys
with values of their declared type are kept; a corrupt file is reported and treated as empty,
never overwritten until the next change.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from lemof.paths import cache_dir, write_json_atomic

log = logging.getLogger(__name__)

PREFERENCES_FILE = "preferences.json"
KNOWN = {"show_outcomes": bool}  # every preference and its type
_lock = threading.Lock()


def preferences_path() -> Path:
    return cache_dir() / PREFERENCES_FILE


def _key(user: str) -> str:
    return hashlib.sha256(user.encode("utf-8")).hexdigest()


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("preferences file %s unreadable (%s): defaults used", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def preference(user: str, name: str, default: Any) -> Any:
    """``user``'s value of preference ``name`` (``default`` when unset or of the wrong type)."""
    kind = KNOWN[name]
    value = _read(preferences_path()).get(_key(user), {}).get(name)
    return value if isinstance(value, kind) else default


def set_preference(user: str, name: str, value: Any) -> None:
    """Store ``user``'s preference ``name`` (``KeyError``/``TypeError`` for an unknown name or type)."""
    kind = KNOWN[name]
    if not isinstance(value, kind):
        raise TypeError(f"preference {name} must be {kind.__name__}, got {type(value).__name__}")
    path = preferences_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path.with_name(PREFERENCES_FILE + ".lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        data = _read(path)
        data.setdefault(_key(user), {})[name] = value
        write_json_atomic(path, data)
