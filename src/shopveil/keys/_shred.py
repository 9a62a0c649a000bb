"""Destroying key material so that no copy of it stays in the database files.

Deleting a wrapped key in SQL is not enough for crypto-shredding:

- SQLite leaves the freed bytes in the page unless ``secure_delete`` is on, and in WAL
  mode the page images written before the delete stay in the ``-wal`` file until a
  checkpoint copies the log back and truncates it. A checkpoint cannot finish while
  another connection reads an older snapshot, and ``PRAGMA wal_checkpoint`` says so in
  its result, not with an error. :func:`make_durable` checks that result, retries with a
  bounded wait, and raises when the log could not be emptied.
- PostgreSQL never overwrites a row in place: the old version stays as a dead tuple
  until VACUUM, and VACUUM frees its space without zeroing it. The WAL segments, WAL
  archives, base backups and replicas keep the old row for as long as they are kept.
  :func:`make_durable` runs VACUUM on the changed tables so the dead tuple is pruned
  at once; the copies outside the live table are only made unreadable by rotating the
  vault key and the master key (see ``docs/erasure.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shopveil.errors import StoreError
from shopveil.store import Store

__all__ = ["make_durable", "secure_delete"]

# Each attempt lets SQLite wait this long for readers of an older snapshot to finish
# (its busy handler), then we try again: about 3 s in all, long enough for short reads
# that keep coming to let the log go, short enough that an erasure request that cannot
# complete fails while the caller is still there.
_ATTEMPT_WAITS_MS = (50, 100, 200, 400, 800, 1600)
_BUSY_TIMEOUT_MS = 60000  # the store's own setting, restored after each attempt


def secure_delete(conn: sa.Connection) -> None:
    """Make SQLite zero the bytes this transaction frees (a no-op on other databases)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def make_durable(store: Store, what: str, tables: Sequence[sa.Table]) -> None:
    """After a committed shred in ``tables``, leave no old copy of the key in the database.

    Raises
    ------
    StoreError
        SQLite could not empty its write-ahead log (another connection holds a read
        transaction open). The shred is committed; run the operation again once the
        other readers are gone, and it finishes the job.
    """
    if store.dialect == "sqlite":
        _checkpoint(store, what)
    elif store.dialect == "postgresql":
        _vacuum(store, tables)


def _checkpoint(store: Store, what: str) -> None:
    result: tuple[int, int, int] | None = None
    for wait_ms in _ATTEMPT_WAITS_MS:
        result = _try_checkpoint(store, wait_ms)
        busy, log_frames, _ = result
        # busy = 0: the log was copied back and truncated; -1 frames: not in WAL mode.
        if busy == 0 and log_frames in (0, -1):
            return
    database = store.engine.url.database or "the database"
    raise StoreError(
        f"{what} is committed, but SQLite could not checkpoint {database}-wal (busy, "
        f"{result[1] if result else '?'} frames left): another connection holds a read "
        "transaction open, so an old copy of the key is still in that file; close the "
        "other ShopVeil processes or long-running reads and run the same command again "
        "(it is idempotent and finishes the checkpoint)"
    )


def _try_checkpoint(store: Store, wait_ms: int) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        # On the raw connection: a checkpoint cannot run inside SQLAlchemy's transaction.
        raw: Any = conn.connection.driver_connection
        # TRUNCATE holds the write lock and waits, through the busy handler, for the
        # readers of older snapshots to finish (new readers read the database file, so
        # they do not hold it up); the store's own minute would be too long to wait.
        raw.execute(f"PRAGMA busy_timeout = {wait_ms}")
        try:
            busy, log_frames, done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return int(busy), int(log_frames), int(done)


def _vacuum(store: Store, tables: Sequence[sa.Table]) -> None:
    # VACUUM prunes the dead tuples that still hold the old key. It cannot run in a
    # transaction; without table ownership PostgreSQL skips it with a notice.
    preparer = store.engine.dialect.identifier_preparer
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f"VACUUM {preparer.format_table(table)}")
