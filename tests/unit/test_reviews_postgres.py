"""The review database on a real PostgreSQL server (``postgres_url``, started by ``testkit.postgres``;
skipped without Debian's postgresql, a failure in CI): migrations from an empty database and from
the first schema, two processes writing 2 x 200 reviews at once, the same review saved by two
processes at once, and the worklist's status query. Each test gets a database of its own."""

from __future__ import annotations

import itertools

import pytest

from lemof.reviews import ReviewDatabaseError, ReviewStore, upgrade
from testkit.postgres import create_database
from tests.unit.test_reviews import (check_concurrent_edits, check_migration_from_0001, check_status, check_upgrade_from_empty, count_rows,
                                     edit_same, run_processes, save_many)

_numbers = itertools.count(1)


@pytest.fixture
def pg(postgres_url) -> str:
    """A new, empty database on the session's server."""
    return create_database(postgres_url, f"reviews_{next(_numbers)}")


def test_upgrade_from_an_empty_database(pg):
    check_upgrade_from_empty(pg)


def test_migrating_from_the_first_schema_keeps_the_reviews(pg):
    check_migration_from_0001(pg)


def test_two_processes_writing_at_once_lose_nothing(pg):
    upgrade(pg)  # `python -m lemof db upgrade` before the servers start
    run_processes(save_many, [(pg, list(range(1, 201)), "ana@h.org"), (pg, list(range(1001, 1201)), "ben@h.org")])
    assert count_rows(pg) == (400, 400)


def test_the_same_review_saved_by_two_processes_at_once_stays_one(pg):
    upgrade(pg)
    run_processes(edit_same, [(pg, "ana@h.org", "p1", 40), (pg, "ana@h.org", "p2", 40)])
    check_concurrent_edits(pg, 40)


def test_status_counts_reviews_and_assignments(pg):
    upgrade(pg)
    check_status(pg)


def test_the_store_does_not_migrate_postgresql_by_itself(pg):
    with pytest.raises(ReviewDatabaseError, match="has no review tables yet"):
        ReviewStore(pg)
