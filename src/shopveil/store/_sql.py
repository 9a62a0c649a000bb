"""Portable SQL helpers on SQLite and PostgreSQL: insert rows unless their key exists; upsert."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "insert_ignore_many", "upsert_many"]


def insert_ignore(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping any whose key already exists; return how many were new."""
    stmt = _insert_ignore_stmt(conn, table)
    return sum(conn.execute(stmt, row).rowcount or 0 for row in rows)


def insert_ignore_many(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Like :func:`insert_ignore` in one round trip, without counting (read back instead)."""
    if rows:
        conn.execute(_insert_ignore_stmt(conn, table), rows)


def upsert_many(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> None:
    """Insert ``rows``, replacing the other columns of any row whose ``key`` exists."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=update), rows)


def _dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(conn.dialect.name)  # pragma: no cover - SQLite and PG only


def _insert_ignore_stmt(conn: sa.Connection, table: sa.Table) -> Any:
    return _dialect_insert(conn, table).on_conflict_do_nothing()
