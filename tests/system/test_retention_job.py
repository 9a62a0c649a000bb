"""``shopveil retention run``: what the store keeps past its period goes, and nothing else.

Real store (SQLite and, when set, PostgreSQL), real consent register and vault, the real
command line for the run and its audit event.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopveil._core.clock import FixedClock
from shopveil.audit import AuditLog
from shopveil.governance import (
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
    ConsentStatus,
    run_retention,
)
from shopveil.keys import Keyring, Vault, VaultConfig
from shopveil.policy import StoreRetention
from shopveil.store import Store, consent_records, vault_values

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

NOW = datetime(2026, 6, 1, tzinfo=UTC)
M = ConsentPurpose.MARKETING
GRANTED, REFUSED = ConsentStatus.GRANTED, ConsentStatus.REFUSED


def _decision(customer: str, status: ConsentStatus, at: datetime) -> ConsentRow:
    return ConsentRow("line 1", customer, ConsentRecord(M, status, at, None, "test"))


def _count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _register(store: Store) -> ConsentRegister:
    keyring = Keyring.open(store)
    audit = AuditLog(store, keyring, FixedClock(NOW))
    register = ConsentRegister(store, keyring, audit)
    years = [datetime(year, 3, 1, tzinfo=UTC) for year in (2010, 2015, 2016, 2024)]
    register.record(
        [
            # A grant, its withdrawal, and a new grant: the last is in force.
            _decision("1001", GRANTED, years[1]),
            _decision("1001", REFUSED, years[2]),
            _decision("1001", GRANTED, years[3]),
            # One old refusal, still in force: it keeps the customer out, so it stays.
            _decision("1002", REFUSED, years[0]),
            # A recent change of mind: within the period, both stay.
            _decision("1003", GRANTED, NOW - timedelta(days=30)),
            _decision("1003", REFUSED, NOW - timedelta(days=10)),
        ],
        actor="steward",
    )
    return register


def test_superseded_decisions_past_the_period_go_and_the_one_in_force_stays(
    store: Store,
) -> None:
    register = _register(store)
    before = {c: register.current(c)[M].status for c in ("1001", "1002", "1003")}
    assert _count(store, consent_records) == 6
    rules = StoreRetention(consent_history=365)
    dry = run_retention(store, register.audit, rules, actor="steward", dry_run=True)
    assert (dry.consent_records, dry.audit_seq) == (2, None)
    assert _count(store, consent_records) == 6  # a dry run deletes nothing
    done = run_retention(store, register.audit, rules, actor="steward")
    assert done.consent_records == 2  # 1001's grant of 2015 and refusal of 2016
    assert _count(store, consent_records) == 4
    # Every customer's decision in force is the one it was.
    assert {c: register.current(c)[M].status for c in before} == before
    event = register.audit.events(action="retention.run")[-1]
    assert event.seq == done.audit_seq
    assert event.details["consent_history"] == {
        "days": 365,
        "decided_before": "2025-06-01T00:00:00Z",
        "deleted": 2,
    }
    assert any("audit log" in item for item in event.details["not_reached"])


def test_erased_customers_vault_values_go_once_past_the_period(store: Store) -> None:
    keyring = Keyring.open(store)
    audit = AuditLog(store, keyring)
    vault = Vault(store, keyring, audit, VaultConfig())
    vault.tokenize(["a@example.com", "b@example.com"], subject_ids=[7, 8], purpose="support")
    vault.erase_subject(7, actor="steward")
    rules = StoreRetention(erased_subjects=30)
    soon = run_retention(store, audit, rules, actor="steward", dry_run=True)
    assert soon.vault_values == 0  # erased today: not yet past 30 days
    later = datetime.now(UTC) + timedelta(days=31)
    done = run_retention(store, audit, rules, actor="steward", now=later)
    assert done.vault_values == 1
    assert _count(store, vault_values) == 1  # customer 8's value stays


def test_the_command_line_runs_the_policy_periods_and_audits_them(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPVEIL_DB_URL", store_url)
    store = Store.open(store_url)
    try:
        _register(store)
    finally:
        store.close()
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "shopveil_policy: 1\nname: shop\nextends: gdpr\n"
        "retention:\n  store:\n    consent_history: {days: 365}\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["retention", "run", "--policy", str(policy), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would delete 2 superseded consent records" in result.stdout
    result = runner.invoke(app, ["retention", "run", "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert "deleted 2 superseded consent records" in result.stdout
    assert "not reached: audit log" in result.stdout
    result = runner.invoke(app, ["audit", "show", "--action", "retention.run", "--json"])
    assert result.exit_code == 0, result.output
    (event,) = json.loads(result.stdout)
    assert event["details"]["consent_history"]["deleted"] == 2
