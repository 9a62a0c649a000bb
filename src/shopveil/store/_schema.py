"""Every table ShopVeil keeps, on one SQLAlchemy ``MetaData``.

Tables are created when missing (``create_all`` is idempotent); ``SCHEMA_VERSION``
is bumped, with a step in ``_migrations.py``, whenever an existing table changes shape.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "SCHEMA_VERSION",
    "access_keys",
    "audit_events",
    "consent_records",
    "customer_events",
    "data_keys",
    "datasets",
    "dp_accounts",
    "dp_charges",
    "dp_namespaces",
    "dp_people_buckets",
    "dp_spending_classes",
    "dp_sub_budgets",
    "meta",
    "metadata",
    "vault_subjects",
    "vault_values",
]

SCHEMA_VERSION = 2

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

# Keyring: random data keys, wrapped (AES-GCM) under a key derived from the master key.
# ``wrapped`` is NULL once a version is retired; the row stays so old versions stay known.
data_keys = sa.Table(
    "shopveil_data_keys",
    metadata,
    sa.Column("purpose", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("wrapped", sa.LargeBinary, nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

# Vault: one key per subject (wrapped under a vault data key), so erasure deletes one key.
# ``subject_ref`` is a keyed HMAC of the subject id, never the id itself.
vault_subjects = sa.Table(
    "shopveil_vault_subjects",
    metadata,
    sa.Column("subject_ref", sa.String(64), primary_key=True),
    sa.Column("key_version", sa.Integer, nullable=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("erased_at", sa.String(40), nullable=True),
)

vault_values = sa.Table(
    "shopveil_vault_values",
    metadata,
    sa.Column("token", sa.String(100), primary_key=True),
    sa.Column("subject_ref", sa.String(64), nullable=False, index=True),
    sa.Column("purpose", sa.String(100), nullable=False),
    sa.Column("lookup", sa.String(64), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("subject_ref", "purpose", "lookup", name="uq_vault_values_lookup"),
)

# DP budget ledger: one account per dataset × privacy unit, optional sub-budgets per
# analyst and per purpose, and one row per charge (``request_id`` makes retries idempotent).
# ``spent_*`` columns are the running totals of the current renewal period.
dp_accounts = sa.Table(
    "shopveil_dp_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(200), nullable=False),
    sa.Column("unit", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("total_epsilon", sa.Float, nullable=False),
    sa.Column("total_delta", sa.Float, nullable=False),
    sa.Column("total_rho", sa.Float, nullable=False),
    sa.Column("spent_epsilon", sa.Float, nullable=False),
    sa.Column("spent_delta", sa.Float, nullable=False),
    sa.Column("spent_rho", sa.Float, nullable=False),
    sa.Column("renewal", sa.String(16), nullable=False),
    sa.Column("period", sa.String(32), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("dataset", "unit", name="uq_dp_accounts_dataset_unit"),
)

dp_sub_budgets = sa.Table(
    "shopveil_dp_sub_budgets",
    metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("shopveil_dp_accounts.id"), primary_key=True),
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("limit_epsilon", sa.Float, nullable=False),
    sa.Column("limit_delta", sa.Float, nullable=False),
    sa.Column("limit_rho", sa.Float, nullable=False),
    sa.Column("spent_epsilon", sa.Float, nullable=False),
    sa.Column("spent_delta", sa.Float, nullable=False),
    sa.Column("spent_rho", sa.Float, nullable=False),
    sa.Column("period", sa.String(32), nullable=False),
)

dp_charges = sa.Table(
    "shopveil_dp_charges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(100), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("shopveil_dp_accounts.id"), nullable=False),
    sa.Column("analyst", sa.String(200), nullable=False),
    sa.Column("purpose", sa.String(200), nullable=False),
    sa.Column("epsilon", sa.Float, nullable=False),
    sa.Column("delta", sa.Float, nullable=False),
    sa.Column("rho", sa.Float, nullable=False),
    sa.Column("period", sa.String(32), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("what", sa.String(500), nullable=False),
    sa.Column("answer", sa.Text, nullable=True),
)

# People: every person's spending, by a keyed 63-bit hash of their namespace and canonical
# id (never the id). The budget follows these rows, not the names of files or tables. One
# row per namespace fixes its family of budgets (ε or ρ), and is locked by every charge so
# two releases never both spend a person's last ε.
dp_namespaces = sa.Table(
    "shopveil_dp_namespaces",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# The distinct spending states of a namespace's people (everyone in a release pays the
# same cost, so most people share their state with many others): what was spent under
# budgets that never renew, in the month ``month`` and on the day ``day`` ("" when that
# part is zero). A state's values never change; ``people`` counts who is in it, and a
# state nobody is in is deleted.
dp_spending_classes = sa.Table(
    "shopveil_dp_spending_classes",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("class_id", sa.BigInteger, primary_key=True, autoincrement=False),
    *(sa.Column(f"never_{part}", sa.Float, nullable=False) for part in ("epsilon", "delta", "rho")),
    sa.Column("month", sa.String(7), nullable=False),
    *(sa.Column(f"month_{part}", sa.Float, nullable=False) for part in ("epsilon", "delta", "rho")),
    sa.Column("day", sa.String(10), nullable=False),
    *(sa.Column(f"day_{part}", sa.Float, nullable=False) for part in ("epsilon", "delta", "rho")),
    sa.Column("people", sa.BigInteger, nullable=False),
)

# Every person of a namespace, about 12 bytes each: the people whose hash starts with the
# bits ``bucket`` (see ``store/_people.py``), as their sorted hashes (int64, little
# endian) and, at the same positions, the ids of their spending classes (uint32).
dp_people_buckets = sa.Table(
    "shopveil_dp_people_buckets",
    metadata,
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("pids", sa.LargeBinary, nullable=False),
    sa.Column("classes", sa.LargeBinary, nullable=False),
)
# Random hashes do not compress: PostgreSQL stores them out of line without trying to.
sa.event.listen(
    dp_people_buckets,
    "after_create",
    sa.DDL("ALTER TABLE %(table)s ALTER COLUMN pids SET STORAGE EXTERNAL").execute_if(
        dialect="postgresql"
    ),
)

# The steward's catalog: each registered dataset, its privacy unit and a fingerprint of
# its people (the smallest keyed hashes of their ids, a bottom-k sketch; never raw ids).
datasets = sa.Table(
    "shopveil_datasets",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("unit", sa.Text, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("people", sa.BigInteger, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("sketch", sa.LargeBinary, nullable=False),
    sa.Column("registered_at", sa.String(40), nullable=False),
    sa.Column("registered_by", sa.String(200), nullable=False),
)

# Consent register: every decision a customer made about a purpose, by a keyed HMAC of
# their canonical id (never the id). The latest record per (subject, purpose) decides.
consent_records = sa.Table(
    "shopveil_consent_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_ref", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),  # when the customer decided, UTC ISO 8601
    sa.Column("jurisdiction", sa.String(8), nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("subject_ref", "purpose", "at", "status", name="uq_consent_records"),
    sa.Index("ix_consent_records_purpose", "purpose", "subject_ref"),
)

# Service access: one row per API key, by name. Only a keyed HMAC of the key is kept, so
# a reader of the database cannot use or recover a key; ``revoked_at`` ends it for good.
access_keys = sa.Table(
    "shopveil_access_keys",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("role", sa.String(100), nullable=False),
    sa.Column("purposes", sa.Text, nullable=False),  # JSON list of purpose names
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("revoked_at", sa.String(40), nullable=True),
)

# The shop front's events (view, basket, purchase), kept per customer for their own
# personalization only: by a keyed HMAC of the canonical customer id, never the id.
customer_events = sa.Table(
    "shopveil_customer_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_ref", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("item", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)
