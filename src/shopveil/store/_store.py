"""The database behind the keyring, the vault, the ledger and the audit log.

One URL chooses it: ``SHOPVEIL_DB_URL``, or a SQLite file under ``SHOPVEIL_HOME``
(default ``./.shopveil``). PostgreSQL works through psycopg 3
(``postgresql+psycopg://user@host/db``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shopveil._core.extras import from_extra
from shopveil.errors import MissingExtraError, StoreError
from shopveil.store._migrations import migrate
from shopveil.store._schema import SCHEMA_VERSION, meta, metadata
from shopveil.store._sql import insert_ignore

__all__ = ["Store", "after_commit", "default_home", "default_url"]

_IMMEDIATE = "shopveil_immediate"
_AFTER_COMMIT = "shopveil_after_commit"
# The store holds wrapped keys, vault ciphertexts and the ledger: owner-only, like the
# master key file. SQLite gives its -wal and -shm files the database file's mode.
_FILE_MODE = 0o600
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")
_MIGRATION_LOCK = 0x73686F7076656C  # a PostgreSQL advisory lock key of ShopVeil's own


def after_commit(conn: sa.Connection, hook: Callable[[], None]) -> None:
    """Run ``hook`` once the :meth:`Store.transaction` holding ``conn`` has committed.

    Hooks of a transaction that rolls back never run; neither do hooks registered on a
    connection that did not come from :meth:`Store.transaction`.
    """
    conn.info.setdefault(_AFTER_COMMIT, []).append(hook)


def default_home() -> Path:
    """The folder for ShopVeil's local state: ``SHOPVEIL_HOME`` or ``./.shopveil``."""
    return Path(os.environ.get("SHOPVEIL_HOME", ".shopveil"))


def default_url() -> str:
    """``SHOPVEIL_DB_URL``, else a SQLite file in :func:`default_home`."""
    url = os.environ.get("SHOPVEIL_DB_URL")
    if url:
        return url
    home = default_home()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{home / 'shopveil.db'}"


@dataclass(frozen=True)
class Store:
    """An open database with ShopVeil's schema in place.

    Use :meth:`open`; write through :meth:`transaction`, which serializes writers on
    SQLite (``BEGIN IMMEDIATE``) and is a plain transaction on PostgreSQL, where
    writers lock the rows they change.
    """

    engine: sa.Engine

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open (and create or migrate) the store at ``url``."""
        url = url or default_url()
        try:
            engine = _create_engine(url)
        except MissingExtraError:
            raise
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use the database URL {_redact_url(url)}: {exc}") from exc
        store = cls(engine)
        try:
            store._migrate()
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot open the store at {_redact_url(url)}: {reason}") from exc
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def dialect(self) -> str:
        """The database's dialect name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection inside one write transaction: committed on success, rolled back on error.

        On SQLite it takes the write lock up front (``BEGIN IMMEDIATE``), so two writers
        never both read-then-write the same row; plain ``engine.connect()`` reads do not.
        """
        with self.engine.connect().execution_options(**{_IMMEDIATE: True}) as conn:
            # conn.info outlives this checkout (it belongs to the pooled connection).
            conn.info.pop(_AFTER_COMMIT, None)
            try:
                with conn.begin():
                    yield conn
            finally:
                hooks = conn.info.pop(_AFTER_COMMIT, [])
            for hook in hooks:
                hook()

    def get_meta(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()

    def set_meta_once(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless one is there; return the value that wins.

        Safe when several processes race: the insert does nothing on a conflict.
        """
        with self.transaction() as conn:
            insert_ignore(conn, meta, [{"key": key, "value": value}])
            return str(conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar_one())

    def close(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()

    def _migrate(self) -> None:
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                # One opener at a time creates or migrates the tables (SQLite: BEGIN IMMEDIATE).
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            metadata.create_all(conn, checkfirst=True)
            version = meta.c.key == "schema_version"
            found = conn.execute(sa.select(meta.c.value).where(version)).scalar()
            if found is None:
                conn.execute(
                    sa.insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION))
                )
            elif int(found) > SCHEMA_VERSION:
                raise StoreError(
                    f"the store has schema version {found}, newer than this ShopVeil "
                    f"({SCHEMA_VERSION}); upgrade shopveil"
                )
            elif int(found) < SCHEMA_VERSION:
                migrate(conn, int(found))
                conn.execute(sa.update(meta).where(version).values(value=str(SCHEMA_VERSION)))


def _create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        _restrict_sqlite_file(sa.make_url(url))
        engine = sa.create_engine(url, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    with from_extra("postgres"):  # the driver loads here: psycopg for postgresql+psycopg
        return sa.create_engine(url, pool_pre_ping=True)


def _restrict_sqlite_file(url: sa.URL) -> None:
    """Create the database file owner-only (0600) before SQLite does, and tighten an old one."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE))
        for suffix in _SQLITE_SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists() and stat.S_IMODE(side.stat().st_mode) & 0o077:
                side.chmod(_FILE_MODE)
    except OSError as exc:
        raise StoreError(
            f"cannot create the SQLite store file {path}: {exc.strerror}; check the folder "
            "exists and is writable, or set SHOPVEIL_DB_URL"
        ) from exc


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front; readers take none until they need one.
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _redact_url(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable url>"
