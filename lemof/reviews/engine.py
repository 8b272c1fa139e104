"""Where the review database is and how to reach it: the URL, one engine per URL and process, and
``ReviewDatabaseError`` for a database that cannot be used.

- ``default_url()``: ``$LEMOF_DATABASE_URL`` (PostgreSQL for several servers), else a SQLite file
  under the cache directory (the embedded default: nothing to start).
- ``engine(url)``: cached per URL, so the sessions of one server process share one pool. SQLite
  files run in WAL mode with a 30 s busy timeout and foreign keys on, and every transaction starts
  with ``BEGIN IMMEDIATE`` (it takes the write lock at once, so two writers queue instead of one
  failing when it upgrades a read lock).
- ``display(url)``: the URL with its password masked, for messages.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from lemof.errors import LemofError
from lemof.paths import cache_dir

ENV = "LEMOF_DATABASE_URL"
BUSY_TIMEOUT_S = 30

_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


class ReviewDatabaseError(LemofError):
    """The review database cannot be used: unreachable, not created or migrated, at another schema
    revision, or a write that did not commit. The message names the URL (password masked) and says
    what to do."""


def default_url() -> str:
    """``$LEMOF_DATABASE_URL``, else ``sqlite:///<cache>/reviews/reviews.db`` (its folder created, 0700)."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return env
    folder = cache_dir() / "reviews"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{folder / 'reviews.db'}"


def display(url: str) -> str:
    """``url`` with its password masked (``***``)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: show nothing of it that could be a secret
        return "<an invalid database URL>"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _create(url: str) -> sa.Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError for anything unparsable
        raise ReviewDatabaseError(f"the review database URL is not a database URL ({type(exc).__name__}); "
                                  f"expected e.g. sqlite:////srv/lemof/reviews.db or postgresql+psycopg://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        file = sqlite_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        eng = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

        @sa.event.listens_for(eng, "connect")
        def _on_connect(dbapi_connection, record):  # noqa: ARG001
            dbapi_connection.isolation_level = None  # the driver's own BEGIN off: ours below
            cur = dbapi_connection.cursor()
            if file is not None:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(eng, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return eng
    if backend == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=8, connect_args={"connect_timeout": 10})
    return sa.create_engine(parsed, pool_pre_ping=True)


def engine(url: str) -> sa.Engine:
    """The engine of ``url``, created on first use and shared by every caller in this process."""
    with _lock:
        found = _engines.get(url)
        if found is None:
            found = _engines[url] = _create(url)
        return found


_write_locks: dict[str, threading.Lock] = {}


def write_lock(url: str):
    """What a write transaction holds in this process: for a SQLite file, one lock per file, so a
    server's sessions queue in the process instead of polling SQLite's busy handler (which sleeps
    and can starve a writer for seconds); for a server database, nothing (it queues itself)."""
    if sqlite_file(url) is None:
        return nullcontext()
    with _lock:
        return _write_locks.setdefault(url, threading.Lock())


def forget(url: str) -> None:
    """Dispose of ``url``'s engine (tests and benchmarks that remove the database)."""
    with _lock:
        found = _engines.pop(url, None)
    if found is not None:
        found.dispose()


def unreachable(url: str, exc: BaseException, consequence: str = "") -> ReviewDatabaseError:
    """A ``ReviewDatabaseError`` for a driver error: what failed, in one line, and what to do."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = reason[0] if reason else type(exc).__name__
    return ReviewDatabaseError(f"cannot use the review database {display(url)}: {reason}. "
                               f"Check that the database server is running and reachable and that {ENV} (or --url) is right"
                               + (f"; {consequence}" if consequence else ""))


@contextmanager
def translated(url: str, consequence: str = "") -> Iterator[None]:
    """Turn a driver error (``sqlalchemy.exc.OperationalError``, ``InterfaceError``, ...) into a
    ``ReviewDatabaseError`` naming the database. Constraint violations are left to the caller."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DatabaseError) as exc:
        if isinstance(exc, sa.exc.IntegrityError):
            raise
        raise unreachable(url, exc, consequence) from exc
