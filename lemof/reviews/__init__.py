"""The clinicians' reviews of stays, in a real database (SQLAlchemy 2, Alembic migrations).

- ``lemof.reviews.schema``: the tables (reviews, their revisions, assignments);
- ``lemof.reviews.engine``: where the database is (``$LEMOF_DATABASE_URL`` or a SQLite file in the
  cache), one engine per URL and process, ``ReviewDatabaseError``;
- ``lemof.reviews.migrate``: ``upgrade`` / ``current`` (``python -m lemof db upgrade``);
- ``lemof.reviews.store``: ``ReviewStore`` (save, history, status for the worklist, assignments, export table);
- ``lemof.reviews.export``: CSV (formula cells neutralised) and Parquet.
"""

from lemof.reviews.engine import ENV, ReviewDatabaseError, default_url
from lemof.reviews.migrate import upgrade
from lemof.reviews.schema import EXPLANATIONS, RATINGS, VERDICTS
from lemof.reviews.store import Audit, ReviewKey, ReviewRecord, ReviewStore, Revision

__all__ = ["ENV", "EXPLANATIONS", "RATINGS", "VERDICTS", "Audit", "ReviewDatabaseError", "ReviewKey", "ReviewRecord", "ReviewStore",
           "Revision", "default_url", "upgrade"]
