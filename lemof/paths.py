"""Filesystem helpers: safe names, the cache directory and atomic writes.

Anything that is saved goes to a temporary sibling first and is moved into place with
``os.replace``, so an interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str, *, max_len: int = 80) -> str:
    """Turn a user-supplied name into one safe path component.

    Keeps letters, digits, ``. _ + -``; everything else, and any run of dots, becomes ``-``;
    leading and trailing dots and dashes are stripped, so the result is never hidden, ``.`` or ``..``.
    """
    cleaned = _SAFE.sub("-", str(name))
    cleaned = re.sub(r"\.{2,}", "-", cleaned)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-.")[:max_len]
    if not cleaned:
        raise ValueError(f"name {name!r} has no usable characters for a file name")
    return cleaned


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def cache_dir() -> Path:
    """Root of LeMoF's on-disk cache (generated cohorts).

    ``LEMOF_CACHE_DIR`` wins; else ``$XDG_CACHE_HOME/lemof``; else ``~/.cache/lemof``.
    """
    env = os.environ.get("LEMOF_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lemof"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    write_bytes_atomic(Path(path), text.encode("utf-8"))


@contextmanager
def atomic_directory(final: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a directory in a temporary sibling and move it into place on success.

    On failure the temporary directory is removed and ``final`` is untouched. With
    ``overwrite`` an existing ``final`` is replaced only after the new one is complete.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} already exists (pass overwrite to replace it)")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
