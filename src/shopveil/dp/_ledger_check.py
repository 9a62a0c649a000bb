"""The ledger checked against the audit log: spending cannot be quietly lowered.

The ledger's accounts are plain rows, so someone with write access to the database could
set ``spent_epsilon = 0`` and buy every analyst a fresh budget. Every change the ledger
makes is also an audit event (``dp.budget_set``, ``dp.sub_budget_set``,
``dp.budget_reset``, ``dp.charge``), and the audit chain cannot be rewritten without the
master key. :func:`check_ledger` replays those events with the ledger's own arithmetic
and compares the result with the rows: every account, its total, renewal rule, period,
spending, and its sub-budgets.

The replay reads the renewal period of a ``dp.budget_set`` from the event's time, so
the ledger and its audit log must share a clock (they do in the CLI: the system clock).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shopveil._core.budgets import Budget
from shopveil.audit import AuditEvent, AuditLog
from shopveil.dp._accounting import convert
from shopveil.dp._ledger_values import (
    PARTS,
    Renewal,
    add,
    from_columns,
    kind_of,
    parts,
    zero,
)
from shopveil.dp._query._answer import budget_from_dict
from shopveil.errors import ParameterError
from shopveil.store import Store, dp_accounts, dp_sub_budgets

__all__ = ["LEDGER_ACTIONS", "check_ledger", "count_accounts"]

LEDGER_ACTIONS = ("dp.budget_set", "dp.sub_budget_set", "dp.budget_reset", "dp.charge")
_KIND_PARTS = {"pure": ("epsilon",), "approx": ("epsilon", "delta"), "zcdp": ("rho",)}
_TOLERANCE = 1e-9  # the replay repeats the ledger's float sums; this is only slack

Key = tuple[str, str]


@dataclass
class _Sub:
    limit: Budget
    spent: Budget
    period: str


@dataclass
class _Account:
    """An account as the audit log says it must be. ``total`` None: the default total."""

    total: Budget | None
    kind: str
    renewal: Renewal
    period: str
    spent: Budget
    subs: dict[Key, _Sub] = field(default_factory=dict)


def check_ledger(store: Store, audit: AuditLog) -> list[str]:
    """Replay the ledger's audit events and compare them with its accounts.

    Parameters
    ----------
    store
        The ledger's store (``shopveil_dp_accounts`` and ``shopveil_dp_sub_budgets``).
    audit
        The audit log the ledger writes to. Verify its chain first (:meth:`AuditLog.verify`):
        the replay trusts the events.

    Returns
    -------
    list of str
        One line per problem, naming the account and what differs; empty when the
        ledger is what its audited history says. Never a data value.
    """
    with store.engine.connect() as conn:
        rows = {(r.dataset, r.unit): r for r in conn.execute(sa.select(dp_accounts))}
        subs: dict[Key, dict[Key, Any]] = {key: {} for key in rows}
        by_id = {r.id: key for key, r in rows.items()}
        for sub in conn.execute(sa.select(dp_sub_budgets)):
            owner = by_id.get(sub.account_id)
            if owner is not None:
                subs[owner][(sub.scope, sub.name)] = sub
    problems: list[str] = []
    expected = _replay(audit.events(actions=LEDGER_ACTIONS), rows, problems)
    for key in sorted(expected.keys() - rows.keys()):
        problems.append(
            f"{_name(key)} has audited history but no row: it was deleted, and the next "
            "charge would open it again with a fresh default budget"
        )
    for key in sorted(rows.keys() - expected.keys()):
        problems.append(
            f"{_name(key)} has no dp.budget_set or dp.charge event: it was written outside "
            "the ledger, or by a ledger without an audit log"
        )
    for key in sorted(expected.keys() & rows.keys()):
        problems += _compare(key, expected[key], rows[key], subs[key])
    return problems


def count_accounts(store: Store) -> int:
    """How many accounts the ledger holds."""
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(dp_accounts)).scalar_one())


def _replay(
    events: Iterable[AuditEvent], rows: Mapping[Key, Any], problems: list[str]
) -> dict[Key, _Account]:
    accounts: dict[Key, _Account] = {}
    for event in events:
        d = event.details
        try:
            key = (str(d["dataset"]), str(d["unit"]))
            account = accounts.get(key)
            if event.action == "dp.budget_set":
                accounts[key] = _set_budget(account, d, event)
            elif event.action == "dp.charge":
                accounts[key] = _charge(account, d, event)
            elif account is None:
                problems.append(
                    f"audit event seq {event.seq} ({event.action}) names {_name(key)} before "
                    "any budget was set or charged"
                )
            elif event.action == "dp.sub_budget_set":
                _set_sub(account, d, rows.get(key))
            else:  # dp.budget_reset
                account.spent = zero(account.kind)
                for sub in account.subs.values():
                    sub.spent = zero(account.kind)
        except (KeyError, TypeError, ValueError):
            problems.append(
                f"audit event seq {event.seq} ({event.action}) does not hold the details the "
                "ledger writes; the ledger cannot be replayed past it"
            )
            break
    return accounts


def _set_budget(account: _Account | None, d: Mapping[str, Any], event: AuditEvent) -> _Account:
    total = budget_from_dict(d["total"])
    renewal = Renewal(d["renewal"])
    kind = kind_of(total)
    if account is None:
        return _Account(total, kind, renewal, renewal.period(event.at), zero(kind))
    if account.renewal is not renewal:
        # The ledger starts a new rule in the current period, keeping the spending so far.
        account.period = renewal.period(event.at)
    if account.kind != kind:
        account.spent = convert(account.spent, total)
        for sub in account.subs.values():
            sub.limit, sub.spent = convert(sub.limit, total), convert(sub.spent, total)
    account.total, account.kind, account.renewal = total, kind, renewal
    return account


def _set_sub(account: _Account, d: Mapping[str, Any], row: Any) -> None:
    # A default account's total is not in any event; its kind is, and convert only
    # needs the row's total for a zCDP limit against an (ε, δ) total.
    total = account.total
    if total is None:
        try:
            total = from_columns(account.kind, row, "total")
        except (AttributeError, ParameterError):  # no row, or one no budget can hold
            total = zero(account.kind)
    limit = convert(budget_from_dict(d["limit"]), total)
    scope, name = str(d["scope"]), str(d["name"])
    account.subs[(scope, name)] = _Sub(limit, zero(account.kind), account.period)


def _charge(account: _Account | None, d: Mapping[str, Any], event: AuditEvent) -> _Account:
    cost = budget_from_dict(d["cost"])
    period = str(d["period"])
    if account is None:
        # The ledger opens an unknown dataset with its default total, never renewed.
        kind = kind_of(cost)
        account = _Account(None, kind, Renewal.NEVER, Renewal.NEVER.period(event.at), zero(kind))
    if period != account.period:
        account.spent = zero(account.kind)
    account.spent = add(account.spent, cost)
    account.period = period
    mine = {("analyst", str(d["analyst"])), ("purpose", str(d["purpose"]))}
    for key, sub in account.subs.items():
        if key in mine:
            spent = sub.spent if sub.period == period else zero(account.kind)
            sub.spent, sub.period = add(spent, cost), period
    return account


def _compare(key: Key, want: _Account, row: Any, subs: Mapping[Key, Any]) -> list[str]:
    name = _name(key)
    problems = []
    if row.kind != want.kind:
        return [f"{name} holds a {row.kind} budget but its audited history gives {want.kind}"]
    if want.total is None:
        if not row.is_default:
            problems.append(f"{name} has a total that no dp.budget_set event set")
    elif row.is_default or not _same(_stored(row, "total"), want.total):
        problems.append(f"{name} has a total other than its last dp.budget_set event")
    if row.renewal != want.renewal.value or row.period != want.period:
        problems.append(f"{name} has a renewal rule or period its audited history does not give")
    problems += _spending(name, _stored(row, "spent"), want.spent)
    for sub_key in sorted(want.subs.keys() | subs.keys()):
        label = f"{name}, {sub_key[0]} sub-budget {sub_key[1]!r},"
        sub, stored = want.subs.get(sub_key), subs.get(sub_key)
        if sub is None:
            problems.append(f"{label} has no dp.sub_budget_set event")
        elif stored is None:
            problems.append(f"{label} was deleted")
        else:
            if not _same(_stored(stored, "limit"), sub.limit):
                problems.append(f"{label} has a limit other than its dp.sub_budget_set event")
            if stored.period != sub.period:
                problems.append(f"{label} has a period its audited history does not give")
            problems += _spending(label, _stored(stored, "spent"), sub.spent)
    return problems


def _spending(name: str, stored: Mapping[str, float], audited: Budget) -> list[str]:
    if _same(stored, audited):
        return []
    want = parts(audited)
    if any(not stored[k] >= want[k] for k in _KIND_PARTS[kind_of(audited)]):  # NaN: not >=
        return [f"{name} records less spending than its audited charges: budget was given back"]
    return [f"{name} records more spending than its audited charges"]


def _same(stored: Mapping[str, float], audited: Budget) -> bool:
    # Only the parts the kind uses: the ledger ignores the others when it reads a row.
    want = parts(audited)
    return all(
        math.isclose(stored[k], want[k], rel_tol=_TOLERANCE, abs_tol=1e-15)
        for k in _KIND_PARTS[kind_of(audited)]
    )


def _stored(row: Any, prefix: str) -> dict[str, float]:
    return {k: float(getattr(row, f"{prefix}_{k}")) for k in PARTS}


def _name(key: Key) -> str:
    return f"ledger account {key[0]!r} ({key[1]})"
