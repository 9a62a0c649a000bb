"""Database access on SQLAlchemy Core: SQLite by default, PostgreSQL in production."""

from shopveil.store._schema import SCHEMA_VERSION, metadata
from shopveil.store._sql import insert_ignore, insert_ignore_many
from shopveil.store._store import Store, after_commit, default_home, default_url

__all__ = [
    "SCHEMA_VERSION",
    "Store",
    "after_commit",
    "default_home",
    "default_url",
    "insert_ignore",
    "insert_ignore_many",
    "metadata",
]
