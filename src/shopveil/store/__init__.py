"""Database access on SQLAlchemy Core: SQLite by default, PostgreSQL in production."""

from shopveil.store._people import (
    BUCKET_BITS,
    SPENT,
    bucket_of,
    leave_class,
    read_buckets,
    read_classes,
    write_buckets,
    write_classes,
)
from shopveil.store._schema import SCHEMA_VERSION, metadata
from shopveil.store._sql import insert_ignore, insert_ignore_many
from shopveil.store._store import Store, after_commit, default_home, default_url

__all__ = [
    "BUCKET_BITS",
    "SCHEMA_VERSION",
    "SPENT",
    "Store",
    "after_commit",
    "bucket_of",
    "default_home",
    "default_url",
    "insert_ignore",
    "insert_ignore_many",
    "leave_class",
    "metadata",
    "read_buckets",
    "read_classes",
    "write_buckets",
    "write_classes",
]
