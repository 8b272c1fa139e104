"""A real PostgreSQL server for the tests and benchmarks of the review database: Debian's
``postgresql`` package, ``initdb`` into a temporary folder and ``pg_ctl start`` on 127.0.0.1 at a
free port (and a unix socket in that folder), trust authentication, stopped and removed afterwards.

Run as root, the server runs as the unprivileged ``postgres`` system user (PostgreSQL refuses
root): the folder is given to it and every command goes through ``runuser -u postgres --``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from testkit.browser import free_port

REQUIRE_ENV = "LEMOF_REQUIRE_POSTGRES"
USER = "lemof"  # the server's superuser and the database the URL names


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then /usr/lib/postgresql/*/bin, newest), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Start a server; yields the SQLAlchemy URL of its ``lemof`` database
    (``postgresql+psycopg://lemof@127.0.0.1:<port>/lemof``). ``durable=False`` turns fsync off
    (tests: faster, and nothing needs to survive a crash); a benchmark keeps it on."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL not found: no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin (install Debian's postgresql)")
    root = Path(tempfile.mkdtemp(prefix="lemof-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log, port = root / "data", root / "server.log", free_port()
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"], "initdb")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c max_connections=100"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    try:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"], "pg_ctl start")
        _run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, USER], "createdb")
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{USER}"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Create the database ``name`` on ``url``'s server; returns its URL."""
    import psycopg  # lazy: only the PostgreSQL tests need the driver
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)
