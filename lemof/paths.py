"""Filesystem helpers: safe names, confined paths, the cache directory and atomic writes.

Anything that is saved goes to a temporary sibling first and is moved into place with
``os.replace``, so an interrupted write never leaves a half-written file behind.

Paths from outside the program come in two kinds. An **operator-chosen** path is typed by the
person at the shell or set in the server's environment (the CLI's ``--data``, ``--out``,
``--run``, ``--config``, ``--progress-file``; ``LEMOF_CACHE_DIR``, ``LEMOF_COHORTS``,
``LEMOF_RUNS``): it is used as given, wherever it points. A **user-supplied name** (a run name typed
into a form, a job id, a path a data file names inside its own tree) must stay inside its folder:
it goes through ``safe_name`` (a new name) or ``confined`` (an existing entry), which refuse
anything else with an ``UnsafePathError``. Values from a URL (``?cohort=``, ``?run=``, ``?runs=``,
``?stay=``) never become paths: they are looked up among the cohorts, runs and stays already listed.
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

from lemof.errors import OutputError, UnsafePathError

_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")
NAME_MAX = 255  # bytes in one path component (Linux, macOS)
PATH_MAX = 4096  # bytes in a whole relative path


def safe_name(name: str, *, max_len: int = 80) -> str:
    """Turn a user-supplied name into one safe path component.

    Keeps letters, digits, ``. _ + -``; everything else, and any run of dots, becomes ``-``;
    leading and trailing dots and dashes are stripped, so the result is never hidden, ``.`` or ``..``.
    """
    cleaned = _SAFE.sub("-", str(name))
    cleaned = re.sub(r"\.{2,}", "-", cleaned)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-.")[:max_len]
    if not cleaned:
        raise UnsafePathError(f"name {str(name)[:100]!r} has no usable characters for a file name")
    return cleaned


def confined(root: str | Path, relative: str, *, what: str = "name", check_links: bool = True) -> Path:
    """``root / relative`` for a user-supplied relative path, refused unless it stays inside ``root``.

    Refused with a one-line ``UnsafePathError`` naming ``what``: an empty path, a NUL byte, an
    absolute path, a component that is empty or only dots (``.``, ``..``, ``...``; ``/`` and ``\\``
    both separate components), a component over 255 bytes or a path over 4096, and, with
    ``check_links``, a path that leaves ``root`` once symbolic links are resolved (a link inside
    ``root`` pointing out). ``check_links=False`` is for a data tree the operator laid out, whose
    links are theirs (``files/`` on another disk). Nothing is created or opened.
    """
    text = str(relative)
    shown = repr(text[:100] + ("…" if len(text) > 100 else ""))
    if not text:
        raise UnsafePathError(f"{what} is empty")
    if "\x00" in text:
        raise UnsafePathError(f"{what} {shown} contains a NUL byte")
    if text.startswith(("/", "\\")) or Path(text).is_absolute() or re.match(r"^[A-Za-z]:", text):
        raise UnsafePathError(f"{what} {shown} is an absolute path; expected a name inside {root}")
    if len(text.encode("utf-8", "surrogateescape")) > PATH_MAX:
        raise UnsafePathError(f"{what} is too long ({len(text)} characters; at most {PATH_MAX} bytes)")
    for part in re.split(r"[\\/]", text):
        if not part.strip("."):
            raise UnsafePathError(f"{what} {shown} has a component {part!r}: empty or dots only, which would not name an entry of {root}")
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise UnsafePathError(f"{what} {shown} has a component of {len(part.encode('utf-8', 'surrogateescape'))} bytes; at most {NAME_MAX}")
    path = Path(root) / text
    if check_links:
        try:
            inside = path.resolve().is_relative_to(Path(root).resolve())
        except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
            raise UnsafePathError(f"{what} {shown} cannot be resolved inside {root} ({exc})") from None
        if not inside:
            raise UnsafePathError(f"{what} {shown} leads outside {root} through a symbolic link")
    return path


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


def check_writable(path: str | Path, *, what: str = "output", file: bool = False) -> None:
    """Refuse, with a one-line ``OutputError``, an output path that cannot be written, before any
    work is done (an hours-long training or cohort build must not end in a traceback at its last
    step). The nearest existing folder on the way to ``path`` must hold a new file: probed the way
    the atomic writers start (a temporary file in it, removed at once), so a read-only or virtual
    file system (``/proc``), a missing permission or a file in place of a folder is caught. With
    ``file`` (the output is one file), an existing folder at ``path`` is refused too. Nothing
    else is created."""
    path = Path(path)
    if file and path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a folder")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".lemof-probe.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: no new file can be created in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


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
