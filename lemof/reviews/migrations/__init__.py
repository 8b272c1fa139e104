"""Alembic's migration environment and revisions of the review database (run by ``lemof.reviews.migrate``)."""
