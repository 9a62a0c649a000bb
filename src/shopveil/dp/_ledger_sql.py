"""The ledger's statements: locking an account, its sub-budgets, its charges.

Kept apart from :mod:`shopveil.dp._ledger` so the ledger reads as its rules (check,
renew, charge, replay) and this module as the rows they touch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from shopveil._core.budgets import Budget
from shopveil.dp._accounting import convert
from shopveil.dp._ledger_values import (
    ChargeRecord,
    Renewal,
    SubBudgetState,
    _add,
    _kind,
    _make,
    _parts,
    convert_subs,
    require_fits,
    select_account,
)
from shopveil.errors import ParameterError
from shopveil.store import dp_accounts, dp_charges, dp_sub_budgets, insert_ignore

if TYPE_CHECKING:
    from shopveil.dp._ledger import Ledger

__all__ = [
    "charge_history",
    "charge_subs",
    "convert_spending",
    "create_default_account",
    "lock_account",
    "matching_subs",
    "previous_charge",
    "record_event",
    "store_answer",
    "update_sub",
]


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
        "kind": _kind(total),
        "renewal": Renewal.NEVER.value,
        "period": Renewal.NEVER.period(now),
        "is_default": True,
        "updated_at": now.isoformat(),
        **{f"total_{k}": v for k, v in _parts(total).items()},
        **{f"spent_{k}": 0.0 for k in ("epsilon", "delta", "rho")},
    }
    insert_ignore(conn, dp_accounts, [values])


def previous_charge(conn: sa.Connection, request_id: str) -> Any:
    """The charge already recorded under ``request_id``, if any."""
    return conn.execute(sa.select(dp_charges).where(dp_charges.c.request_id == request_id)).first()


def matching_subs(conn: sa.Connection, account_id: int, analyst: str, purpose: str) -> list[Any]:
    """The sub-budgets of ``analyst`` and of ``purpose`` in the account."""
    subs = dp_sub_budgets.c
    mine = ((subs.scope == "analyst") & (subs.name == analyst)) | (
        (subs.scope == "purpose") & (subs.name == purpose)
    )
    return list(
        conn.execute(sa.select(dp_sub_budgets).where((subs.account_id == account_id) & mine))
    )


def update_sub(
    conn: sa.Connection, account_id: int, scope: str, name: str, values: dict[str, Any]
) -> None:
    subs = dp_sub_budgets.c
    conn.execute(
        sa.update(dp_sub_budgets)
        .where((subs.account_id == account_id) & (subs.scope == scope) & (subs.name == name))
        .values(**values)
    )


def store_answer(conn: sa.Connection, request_id: str, answer: str) -> bool:
    """Attach ``answer`` to a charge that has none; False if there is no such charge."""
    done = conn.execute(
        sa.update(dp_charges)
        .where((dp_charges.c.request_id == request_id) & dp_charges.c.answer.is_(None))
        .values(answer=answer)
    )
    return bool(done.rowcount)


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
        ChargeRecord(
            r.request_id,
            r.at,
            _make(r.kind, r.epsilon, r.delta, r.rho),
            r.analyst,
            r.purpose,
            r.what,
        )
        for r in rows
    ]


def record_event(
    ledger: Ledger, conn: sa.Connection, actor: str, action: str, details: Mapping[str, Any]
) -> None:
    """Append an audit event for a change the ledger (or its catalog) makes in ``conn``.

    In the ledger's database (same URL) the event commits in the change's transaction;
    in another database it is appended first, so a failed audit write rolls it back.
    """
    audit = ledger.audit
    if audit is None:
        return
    if audit.store.engine.url == ledger.store.engine.url:
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
    for sub in matching_subs(conn, row.id, analyst, purpose):
        limit = _make(row.kind, sub.limit_epsilon, sub.limit_delta, sub.limit_rho)
        spent = _make(row.kind, sub.spent_epsilon, sub.spent_delta, sub.spent_rho)
        if sub.period != period:
            spent = _make(row.kind, 0.0, 0.0, 0.0)
        require_fits(
            dataset, unit, limit, spent, cost, SubBudgetState(sub.scope, sub.name, limit, spent)
        )
        new = {f"spent_{k}": v for k, v in _parts(_add(spent, cost)).items()}
        update_sub(conn, row.id, sub.scope, sub.name, {"period": period, **new})


def convert_spending(
    conn: sa.Connection, row: Any, total: Budget, dataset: str, unit: str
) -> dict[str, float]:
    """Account ``row``'s spending (and its sub-budgets) in the kind of its new ``total``."""
    spent = _make(row.kind, row.spent_epsilon, row.spent_delta, row.spent_rho)
    try:
        converted = _parts(convert(spent, total))
    except ParameterError:
        raise ParameterError(
            f"{dataset!r} ({unit}) has already spent {spent}, which a "
            f"{type(total).__name__} total cannot hold; set --delta > 0 (or reset the "
            "account first)"
        ) from None
    convert_subs(conn, row, total)
    return {f"spent_{k}": v for k, v in converted.items()}
