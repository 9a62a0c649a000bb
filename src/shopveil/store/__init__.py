"""Database access on SQLAlchemy Core: SQLite by default, PostgreSQL in production.

The tables are exported as SQLAlchemy Core ``Table`` objects for the packages that keep
their state in the store (keys and the vault, the audit log, the DP ledger and catalog);
``metadata`` holds them all.
"""

from shopveil.store._schema import (
    SCHEMA_VERSION,
    audit_events,
    consent_records,
    data_keys,
    datasets,
    dp_accounts,
    dp_charges,
    dp_namespaces,
    dp_people,
    dp_sub_budgets,
    meta,
    metadata,
    vault_subjects,
    vault_values,
)
from shopveil.store._sql import insert_ignore, insert_ignore_many
from shopveil.store._store import Store, after_commit, default_home, default_url

__all__ = [
    "SCHEMA_VERSION",
    "Store",
    "after_commit",
    "audit_events",
    "consent_records",
    "data_keys",
    "datasets",
    "default_home",
    "default_url",
    "dp_accounts",
    "dp_charges",
    "dp_namespaces",
    "dp_people",
    "dp_sub_budgets",
    "insert_ignore",
    "insert_ignore_many",
    "meta",
    "metadata",
    "vault_subjects",
    "vault_values",
]
