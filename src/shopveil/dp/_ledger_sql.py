"""The ledger's statements: locking an account, writing its totals, sub-budgets, charges.

Kept apart from :mod:`shopveil.dp._ledger` so the ledger reads as its rules (check,
renew, charge, replay) and this module as the rows they write. Every budget goes to
its columns through :func:`~shopveil.dp._ledger_values.to_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from shopveil._core.budgets import Budget
from shopveil.dp._accounting import convert
from shopveil.dp._ledger_reads import select_account
from shopveil.dp._ledger_values import (
    PARTS,
    Renewal,
    SubBudgetState,
    add,
    from_columns,
    kind_of,
    require_fits,
    to_columns,
    zero,
)
from shopveil.errors import ParameterError
from shopveil.store import Store, dp_accounts, dp_charges, dp_sub_budgets, insert_ignore

if TYPE_CHECKING:
    from shopveil.audit import AuditLog

__all__ = [
    "charge_subs",
    "convert_spending",
    "create_default_account",
    "insert_charge",
    "lock_account",
    "previous_charge",
    "record_event",
    "replace_sub",
    "store_answer",
    "update_account",
    "write_total",
    "zero_spending",
]

_ZERO_SPENT = {f"spent_{k}": 0.0 for k in PARTS}


def lock_account(conn: sa.Connection, dataset: str, unit: str) -> Any:
    """The account row, locked until the transaction ends (None if there is none)."""
    return conn.execute(select_account(dataset, unit).with_for_update()).first()


def create_default_account(
    conn: sa.Connection, dataset: str, unit: str, total: Budget, now: datetime
) -> None:
    """Open an account with ``total`` unless a concurrent client just opened it."""
    values = {
        "dataset": dataset,
        "unit": unit,
        "kind": kind_of(total),
        "renewal": Renewal.NEVER.value,
        "period": Renewal.NEVER.period(now),
        "is_default": True,
        "updated_at": now.isoformat(),
        **to_columns(total, "total"),
        **_ZERO_SPENT,
    }
    insert_ignore(conn, dp_accounts, [values])


def write_total(
    conn: sa.Connection,
    row: Any,
    dataset: str,
    unit: str,
    total: Budget,
    renewal: Renewal,
    now: datetime,
) -> None:
    """Give account ``row`` (None: a new one) ``total`` and ``renewal``, keeping its spending.

    A new renewal rule starts from the spending so far in the current period; a total of
    another kind re-expresses the spending (and the sub-budgets) in that kind.
    """
    values: dict[str, Any] = to_columns(total, "total")
    values |= {"kind": kind_of(total), "renewal": renewal.value, "is_default": False}
    values["updated_at"] = now.isoformat()
    if row is None:
        conn.execute(
            sa.insert(dp_accounts).values(
                dataset=dataset, unit=unit, period=renewal.period(now), **values, **_ZERO_SPENT
            )
        )
        return
    if row.renewal != renewal.value:
        values["period"] = renewal.period(now)
    if row.kind != kind_of(total):
        values |= convert_spending(conn, row, total, dataset, unit)
    conn.execute(sa.update(dp_accounts).where(dp_accounts.c.id == row.id).values(**values))


def replace_sub(conn: sa.Connection, row: Any, scope: str, name: str, limit: Budget) -> None:
    """Set the ``scope`` sub-budget ``name`` of account ``row`` to ``limit``, unspent."""
    this = (dp_sub_budgets.c.account_id == row.id) & (dp_sub_budgets.c.scope == scope)
    this &= dp_sub_budgets.c.name == name
    conn.execute(sa.delete(dp_sub_budgets).where(this))
    conn.execute(
        sa.insert(dp_sub_budgets).values(
            account_id=row.id,
            scope=scope,
            name=name,
            period=row.period,
            **to_columns(limit, "limit"),
            **_ZERO_SPENT,
        )
    )


def zero_spending(conn: sa.Connection, account_id: int) -> None:
    """Set the spending of an account and of its sub-budgets to zero."""
    conn.execute(sa.update(dp_accounts).where(dp_accounts.c.id == account_id).values(**_ZERO_SPENT))
    conn.execute(
        sa.update(dp_sub_budgets)
        .where(dp_sub_budgets.c.account_id == account_id)
        .values(**_ZERO_SPENT)
    )


def previous_charge(conn: sa.Connection, request_id: str) -> Any:
    """The charge already recorded under ``request_id``, if any."""
    return conn.execute(sa.select(dp_charges).where(dp_charges.c.request_id == request_id)).first()


def update_account(
    conn: sa.Connection, account_id: int, spent: Budget, period: str, now: datetime
) -> None:
    """Record an account's new spending in ``period``."""
    conn.execute(
        sa.update(dp_accounts)
        .where(dp_accounts.c.id == account_id)
        .values(period=period, updated_at=now.isoformat(), **to_columns(spent, "spent"))
    )


def insert_charge(conn: sa.Connection, account_id: int, cost: Budget, **values: Any) -> None:
    """Record one charge of ``cost`` to the account (request id, analyst, … in ``values``)."""
    conn.execute(sa.insert(dp_charges).values(account_id=account_id, **values, **to_columns(cost)))


def store_answer(conn: sa.Connection, request_id: str, answer: str) -> bool:
    """Attach ``answer`` to a charge that has none; False if there is no such charge."""
    done = conn.execute(
        sa.update(dp_charges)
        .where((dp_charges.c.request_id == request_id) & dp_charges.c.answer.is_(None))
        .values(answer=answer)
    )
    return bool(done.rowcount)


def record_event(
    conn: sa.Connection,
    store: Store,
    audit: AuditLog | None,
    actor: str,
    action: str,
    details: Mapping[str, Any],
) -> None:
    """Append an audit event for a change the ledger (or its catalog) makes in ``conn``.

    ``store`` is the ledger's. In the ledger's database (same URL) the event commits in
    the change's transaction; in another database it is appended first, so a failed
    audit write rolls it back.
    """
    if audit is None:
        return
    if audit.store.engine.url == store.engine.url:
        audit.append_in(conn, actor, action, details)
    else:
        audit.append(actor, action, details)


def charge_subs(
    conn: sa.Connection,
    row: Any,
    dataset: str,
    unit: str,
    analyst: str,
    purpose: str,
    period: str,
    cost: Budget,
) -> None:
    """Charge ``cost`` to the analyst's and the purpose's sub-budgets of account ``row``.

    Raises :class:`BudgetExceeded` (before the caller commits) when one cannot afford it.
    """
    subs = dp_sub_budgets.c
    mine = ((subs.scope == "analyst") & (subs.name == analyst)) | (
        (subs.scope == "purpose") & (subs.name == purpose)
    )
    chosen = sa.select(dp_sub_budgets).where((subs.account_id == row.id) & mine)
    for sub in conn.execute(chosen).all():
        limit = from_columns(row.kind, sub, "limit")
        spent = from_columns(row.kind, sub, "spent") if sub.period == period else zero(row.kind)
        require_fits(
            dataset, unit, limit, spent, cost, SubBudgetState(sub.scope, sub.name, limit, spent)
        )
        _update_sub(conn, row.id, sub, {"period": period, **to_columns(add(spent, cost), "spent")})


def convert_spending(
    conn: sa.Connection, row: Any, total: Budget, dataset: str, unit: str
) -> dict[str, float]:
    """Account ``row``'s spending in the kind of its new ``total``; converts its sub-budgets."""
    spent = from_columns(row.kind, row, "spent")
    try:
        converted = convert(spent, total)
    except ParameterError:
        raise ParameterError(
            f"{dataset!r} ({unit}) has already spent {spent}, which a "
            f"{type(total).__name__} total cannot hold; set --delta > 0 (or reset the "
            "account first)"
        ) from None
    for sub in conn.execute(
        sa.select(dp_sub_budgets).where(dp_sub_budgets.c.account_id == row.id)
    ).all():
        limit = convert(from_columns(row.kind, sub, "limit"), total)
        sub_spent = convert(from_columns(row.kind, sub, "spent"), total)
        _update_sub(conn, row.id, sub, to_columns(limit, "limit") | to_columns(sub_spent, "spent"))
    return to_columns(converted, "spent")


def _update_sub(conn: sa.Connection, account_id: int, sub: Any, values: dict[str, Any]) -> None:
    subs = dp_sub_budgets.c
    this = (subs.account_id == account_id) & (subs.scope == sub.scope) & (subs.name == sub.name)
    conn.execute(sa.update(dp_sub_budgets).where(this).values(**values))
