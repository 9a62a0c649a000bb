"""The ledger's reads: account states, a recorded charge, the charge history.

Nothing here writes or locks; the ledger's own statements are in
:mod:`shopveil.dp._ledger_sql`. A state is read at a time ``now``: spending of a period
that has ended reads as zero, as the next charge would renew it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shopveil.dp._ledger_values import (
    AccountState,
    Charge,
    ChargeRecord,
    Renewal,
    SubBudgetState,
    from_columns,
    zero,
)
from shopveil.errors import ParameterError
from shopveil.store import dp_accounts, dp_charges, dp_sub_budgets

__all__ = [
    "account_state",
    "account_states",
    "charge_history",
    "recorded_charge",
    "select_account",
    "state_of",
]


def select_account(dataset: str, unit: str) -> sa.Select[Any]:
    return sa.select(dp_accounts).where(
        (dp_accounts.c.dataset == dataset) & (dp_accounts.c.unit == unit)
    )


def state_of(conn: sa.Connection, row: Any, now: datetime) -> AccountState:
    """An account row and its sub-budgets as an :class:`AccountState` at time ``now``."""
    total = from_columns(row.kind, row, "total")
    period = Renewal(row.renewal).period(now)
    renewed = period != row.period
    spent = zero(row.kind) if renewed else from_columns(row.kind, row, "spent")
    subs = []
    for sub in conn.execute(
        sa.select(dp_sub_budgets)
        .where(dp_sub_budgets.c.account_id == row.id)
        .order_by(dp_sub_budgets.c.scope, dp_sub_budgets.c.name)
    ).all():
        limit = from_columns(row.kind, sub, "limit")
        sub_spent = from_columns(row.kind, sub, "spent")
        if sub.period != period:
            sub_spent = zero(row.kind)
        subs.append(SubBudgetState(sub.scope, sub.name, limit, sub_spent))
    return AccountState(
        row.dataset,
        row.unit,
        total,
        spent,
        Renewal(row.renewal),
        period,
        bool(row.is_default),
        tuple(subs),
    )


def account_state(
    conn: sa.Connection, dataset: str, unit: str, now: datetime
) -> AccountState | None:
    """The state of the account of ``dataset`` and ``unit`` at ``now`` (None: no account)."""
    row = conn.execute(select_account(dataset, unit)).first()
    return None if row is None else state_of(conn, row, now)


def account_states(conn: sa.Connection, dataset: str | None, now: datetime) -> list[AccountState]:
    """Every account, or every account of ``dataset``, by dataset and unit."""
    query = sa.select(dp_accounts).order_by(dp_accounts.c.dataset, dp_accounts.c.unit)
    if dataset is not None:
        query = query.where(dp_accounts.c.dataset == dataset)
    return [state_of(conn, row, now) for row in conn.execute(query).all()]


def recorded_charge(
    conn: sa.Connection, request_id: str, dataset: str, unit: str, now: datetime
) -> Charge | None:
    """The charge already recorded for ``request_id`` on this account, if any."""
    found = conn.execute(
        sa.select(dp_charges, dp_accounts)
        .join(dp_accounts, dp_accounts.c.id == dp_charges.c.account_id)
        .where(dp_charges.c.request_id == request_id)
    ).first()
    if found is None:
        return None
    if (found.dataset, found.unit) != (dataset, unit):
        raise ParameterError(
            f"request id {request_id!r} was already used for another dataset; use a new request id"
        )
    total = from_columns(found.kind, found, "total")
    cost = from_columns(found.kind, found)
    state = account_state(conn, dataset, unit, now)
    assert state is not None  # the charge's own account
    return Charge(
        request_id, dataset, unit, cost, state.remaining, total,
        state.is_default, True, found.answer,
    )  # fmt: skip


def charge_history(conn: sa.Connection, dataset: str, unit: str, limit: int) -> list[ChargeRecord]:
    """The account's most recent charges, newest first."""
    rows = conn.execute(
        sa.select(dp_charges, dp_accounts.c.kind)
        .join(dp_accounts, dp_accounts.c.id == dp_charges.c.account_id)
        .where((dp_accounts.c.dataset == dataset) & (dp_accounts.c.unit == unit))
        .order_by(dp_charges.c.id.desc())
        .limit(limit)
    ).all()
    return [
        ChargeRecord(r.request_id, r.at, from_columns(r.kind, r), r.analyst, r.purpose, r.what)
        for r in rows
    ]
