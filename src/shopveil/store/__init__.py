"""Database access on SQLAlchemy Core: SQLite by default, PostgreSQL in production.

The tables are exported as SQLAlchemy Core ``Table`` objects for the packages that keep
their state in the store (keys and the vault, the audit log, the DP ledger and catalog);
``metadata`` holds them all. The per-person ledger's people are kept in buckets of sorted
hashes with shared spending classes, read and written by the functions of ``_people``.
"""

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
from shopveil.store._schema import (
    SCHEMA_VERSION,
    access_keys,
    audit_events,
    consent_records,
    customer_events,
    data_keys,
    datasets,
    dp_accounts,
    dp_charges,
    dp_namespaces,
    dp_people_buckets,
    dp_spending_classes,
    dp_sub_budgets,
    meta,
    metadata,
    vault_subjects,
    vault_values,
)
from shopveil.store._sql import insert_ignore, insert_ignore_many
from shopveil.store._store import Store, after_commit, default_home, default_url

__all__ = [
    "BUCKET_BITS",
    "SCHEMA_VERSION",
    "SPENT",
    "Store",
    "access_keys",
    "after_commit",
    "audit_events",
    "bucket_of",
    "consent_records",
    "customer_events",
    "data_keys",
    "datasets",
    "default_home",
    "default_url",
    "dp_accounts",
    "dp_charges",
    "dp_namespaces",
    "dp_people_buckets",
    "dp_spending_classes",
    "dp_sub_budgets",
    "insert_ignore",
    "insert_ignore_many",
    "leave_class",
    "meta",
    "metadata",
    "read_buckets",
    "read_classes",
    "vault_subjects",
    "vault_values",
    "write_buckets",
    "write_classes",
]
