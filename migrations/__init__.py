"""Alembic migrations of the simusage database, in both storage modes."""
