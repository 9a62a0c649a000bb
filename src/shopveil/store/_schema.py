"""Every table ShopVeil keeps, on one SQLAlchemy ``MetaData``.

Tables are created when missing (``create_all`` is idempotent); ``SCHEMA_VERSION``
is bumped, with a step in ``_migrations.py``, whenever an existing table changes shape.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["SCHEMA_VERSION", "audit_events", "meta", "metadata"]

SCHEMA_VERSION = 1

metadata = sa.MetaData()

meta = sa.Table(
    "shopveil_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

audit_events = sa.Table(
    "shopveil_audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
)
