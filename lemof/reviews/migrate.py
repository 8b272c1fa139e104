"""Creating and migrating the review database with Alembic, driven from Python (no alembic.ini):
``python -m lemof db upgrade`` and the embedded SQLite default, which migrates itself.

Revisions live in ``lemof/reviews/migrations/versions`` (``0001`` the first schema, ``0002``
ratings and assignments). ``head()`` is the newest; ``current(url)`` what a database is at.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from lemof.reviews.engine import ENV, ReviewDatabaseError, default_url, display, engine, translated

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0002"  # the newest revision under migrations/versions (tests/unit/test_reviews.py checks it against Alembic's own head)


def _config():
    from alembic.config import Config  # lazy: Alembic loads only when a schema is read from its scripts or changed (not at a server's start)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest schema revision this code knows."""
    return HEAD


def current(url: str | None = None) -> str | None:
    """The schema revision ``url``'s database is at (None: no schema yet), read from Alembic's
    ``alembic_version`` table."""
    url = url or default_url()
    with translated(url, "its schema revision could not be read"), engine(url).connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str]:
    """Create or migrate ``url``'s database to ``revision``, in one transaction; returns (before, after)."""
    from alembic import command  # lazy: Alembic loads only when a schema changes
    from alembic.runtime.migration import MigrationContext  # lazy: as above
    from alembic.script import ScriptDirectory  # lazy: as above
    from alembic.util.exc import CommandError  # lazy: as above

    url = url or default_url()
    cfg = _config()
    try:
        ScriptDirectory.from_config(cfg).get_revision(revision)
    except CommandError as exc:
        raise ReviewDatabaseError(f"unknown schema revision {revision!r} ({exc}); known: {', '.join(_known())}") from None
    with translated(url, "the schema was not changed"), engine(url).begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, revision)
        except CommandError as exc:
            raise ReviewDatabaseError(f"cannot migrate the review database {display(url)} from {before} to {revision}: {exc}") from None
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def _known() -> list[str]:
    from alembic.script import ScriptDirectory  # lazy: Alembic loads only when a schema changes

    return sorted(s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions())


def require_head(url: str) -> None:
    """Refuse (``ReviewDatabaseError``, saying what to run) a database not at ``head()``."""
    at, newest = current(url), head()
    if at != newest:
        state = "has no review tables yet" if at is None else f"is at schema revision {at}, not {newest}"
        raise ReviewDatabaseError(f"the review database {display(url)} {state}: run `python -m lemof db upgrade --url <its URL>` "
                                  f"(or with ${ENV} set) once, then start the server again")
