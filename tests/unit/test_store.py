from __future__ import annotations

import pytest
import sqlalchemy as sa

from shopveil.errors import StoreError
from shopveil.store import SCHEMA_VERSION, Store


def test_open_creates_schema_and_records_version(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        # Opening twice is harmless: create_all is idempotent.
        Store.open(store_url).close()
    finally:
        store.close()


def test_set_meta_once_keeps_the_first_value(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert store.set_meta_once("k", "first") == "first"
        assert store.set_meta_once("k", "second") == "first"
    finally:
        store.close()


def test_newer_schema_is_refused(store_url: str) -> None:
    store = Store.open(store_url)
    with store.transaction() as conn:
        conn.execute(sa.text("UPDATE shopveil_meta SET value = '999' WHERE key = 'schema_version'"))
    store.close()
    with pytest.raises(StoreError, match="newer than this ShopVeil"):
        Store.open(store_url)


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
