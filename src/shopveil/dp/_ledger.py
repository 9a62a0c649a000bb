"""The privacy-budget ledger: per-person budgets, and one account per dataset × unit.

Every DP release in ShopVeil (queries, synthetic data, training) charges this ledger
before its answer leaves. A charge is one transaction: it locks the account row
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL), renews the
period if the account has a renewal rule, checks the account and the analyst's and
purpose's sub-budgets, and records the charge under its request id. A retried request
(same id) is charged once and gets the stored answer back, so a retry never releases
fresh noise. A dataset without a budget gets :data:`DEFAULT_TOTAL` on first use.

A release per customer also names its :class:`People`: every one of them is charged,
and those whose own budget (the account's total, per person) cannot cover the release
come back in ``Charge.left_out`` and must be removed from the input before anything is
computed (see :mod:`shopveil.dp._people`). That is the guarantee that holds whatever a
file or table is called; the account per dataset name adds the steward's caps and the
charge history on top.

With an :class:`~shopveil.audit.AuditLog`, every charge (not a replay) and every budget
change appends an audit event in the same transaction when both live in one store, so
the charge and its event commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import DEFAULT_DELTA, ZCDP, ApproxDP, Budget, PureDP
from shopveil._core.clock import Clock, SystemClock
from shopveil._core.units import PerCustomer, PrivacyUnit
from shopveil.dp._accounting import convert
from shopveil.dp._ledger_sql import (
    charge_history,
    charge_subs,
    convert_spending,
    create_default_account,
    lock_account,
    previous_charge,
    record_event,
    store_answer,
)
from shopveil.dp._ledger_values import (
    AccountState,
    Charge,
    ChargeRecord,
    Renewal,
    _add,
    _check_name,
    _kind,
    _make,
    _parts,
    _remaining,
    replay,
    require_fits,
    select_account,
    state_of,
    unit_key,
    unknown,
)
from shopveil.dp._people import People, PeopleKey, PeopleSpending, id_array
from shopveil.dp._people_sql import charge_people, spending_summary
from shopveil.dp._query._answer import budget_dict
from shopveil.errors import ParameterError
from shopveil.store import Store, dp_accounts, dp_charges, dp_sub_budgets

if TYPE_CHECKING:
    from shopveil.audit import AuditLog

__all__ = ["DEFAULT_TOTAL", "AccountState", "Charge", "Ledger", "PeopleSpending", "Renewal"]

DEFAULT_TOTAL = ApproxDP(1.0, DEFAULT_DELTA)
"""The budget of a dataset nobody set one for: ε = 1, δ = 10⁻⁶, never renewed."""

_NO_ONE = np.zeros(0, dtype=np.int64)


class Ledger:
    """Budget accounts in a :class:`~shopveil.store.Store`.

    Parameters
    ----------
    store
        Where accounts and charges live.
    clock
        Decides the renewal period; inject a ``FixedClock`` in tests.
    default_total
        The budget a dataset gets when none was set.
    audit
        Where charges and budget changes are recorded (``dp.charge``, ``dp.budget_set``,
        ``dp.sub_budget_set``, ``dp.budget_reset``): names, costs and request ids, never
        data. In the ledger's database (same URL), each event commits in the charge's
        transaction; in another database it is appended before the charge commits, so a
        failed audit write leaves nothing charged.
    people_key
        Hashes customer ids into person hashes (:meth:`people`); releases per customer
        need it. ``shopveil.open_workspace`` derives it from the keyring.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        default_total: Budget = DEFAULT_TOTAL,
        audit: AuditLog | None = None,
        people_key: PeopleKey | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.default_total = default_total
        self.audit = audit
        self.people_key = people_key

    def people(self, ids: Any, unit: PerCustomer) -> People:
        """The :class:`People` whose ids are ``ids`` (an Arrow array or a sequence)."""
        pids = self.hash_ids(ids, unit)
        return People(unit.namespace, pids[pids >= 0])

    def hash_ids(self, ids: Any, unit: PerCustomer) -> np.ndarray:
        """Per id in ``ids``, its person hash (-1 where it is not an id of ``unit``)."""
        import pyarrow as pa

        if self.people_key is None:
            raise ParameterError(
                "this ledger has no people key, so it cannot account per person; open it "
                "with shopveil.open_workspace(), or pass Ledger(..., people_key=...)"
            )
        values = ids if isinstance(ids, pa.Array | pa.ChunkedArray) else id_array(ids)
        return self.people_key.hash_ids(values, unit)

    # --- administration ------------------------------------------------------------------

    def set_budget(
        self,
        dataset: str,
        unit: PrivacyUnit,
        total: Budget,
        *,
        renewal: Renewal = Renewal.NEVER,
        actor: str = "-",
    ) -> AccountState:
        """Create or replace an account's total (spending so far is kept).

        For a unit per customer the total is also each person's budget. ``actor`` names
        who made the change in the audit log.
        """
        _check_name("dataset", dataset)
        key = unit_key(unit)
        if not isinstance(total, PureDP | ApproxDP | ZCDP):
            raise ParameterError(f"total must be PureDP, ApproxDP or ZCDP, got {total!r}")
        renewal = Renewal(renewal)
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            values: dict[str, Any] = {f"total_{k}": v for k, v in _parts(total).items()}
            values |= {"kind": _kind(total), "renewal": renewal.value, "is_default": False}
            values["updated_at"] = self.clock.now().isoformat()
            if row is None:
                spent = {f"spent_{k}": 0.0 for k in ("epsilon", "delta", "rho")}
                period = renewal.period(self.clock.now())
                conn.execute(
                    sa.insert(dp_accounts).values(
                        dataset=dataset, unit=key, period=period, **values, **spent
                    )
                )
            else:
                if row.renewal != renewal.value:
                    # A new rule starts from the spending so far, not from a fresh period.
                    values["period"] = renewal.period(self.clock.now())
                if row.kind != _kind(total):
                    values |= convert_spending(conn, row, total, dataset, key)
                conn.execute(
                    sa.update(dp_accounts).where(dp_accounts.c.id == row.id).values(**values)
                )
            details = {"total": budget_dict(total), "renewal": renewal.value}
            self._audit(conn, actor, "dp.budget_set", dataset, key, details)
        return self.show(dataset, unit)

    def set_sub_budget(
        self,
        dataset: str,
        unit: PrivacyUnit,
        *,
        scope: str,
        name: str,
        limit: Budget,
        actor: str = "-",
    ) -> AccountState:
        """Cap what one analyst (``scope="analyst"``) or purpose may spend of an account."""
        if scope not in ("analyst", "purpose"):
            raise ParameterError(f"scope must be 'analyst' or 'purpose', got {scope!r}")
        _check_name(scope, name)
        key = unit_key(unit)
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            if row is None:
                raise unknown(dataset, key)
            total = _make(row.kind, row.total_epsilon, row.total_delta, row.total_rho)
            limit_parts = _parts(convert(limit, total))
            this = (dp_sub_budgets.c.account_id == row.id) & (dp_sub_budgets.c.scope == scope)
            this &= dp_sub_budgets.c.name == name
            conn.execute(sa.delete(dp_sub_budgets).where(this))
            conn.execute(
                sa.insert(dp_sub_budgets).values(
                    account_id=row.id,
                    scope=scope,
                    name=name,
                    period=row.period,
                    **{f"limit_{k}": v for k, v in limit_parts.items()},
                    **{f"spent_{k}": 0.0 for k in ("epsilon", "delta", "rho")},
                )
            )
            details = {"scope": scope, "name": name, "limit": budget_dict(limit)}
            self._audit(conn, actor, "dp.sub_budget_set", dataset, key, details)
        return self.show(dataset, unit)

    def reset(self, dataset: str, unit: PrivacyUnit, *, actor: str = "-") -> AccountState:
        """Start the account's spending again from zero; the charge history stays.

        People's own spending is not reset: the account's caps start again, the
        guarantee to each person does not.
        """
        zero = {f"spent_{k}": 0.0 for k in ("epsilon", "delta", "rho")}
        key = unit_key(unit)
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            if row is None:
                raise unknown(dataset, key)
            conn.execute(sa.update(dp_accounts).where(dp_accounts.c.id == row.id).values(**zero))
            conn.execute(
                sa.update(dp_sub_budgets)
                .where(dp_sub_budgets.c.account_id == row.id)
                .values(**zero)
            )
            self._audit(conn, actor, "dp.budget_reset", dataset, key, {})
        return self.show(dataset, unit)

    def show(self, dataset: str, unit: PrivacyUnit) -> AccountState:
        """The account's state; an unknown dataset and unit raise :class:`ParameterError`."""
        key = unit_key(unit)
        with self.store.engine.connect() as conn:
            row = conn.execute(select_account(dataset, key)).first()
            if row is None:
                raise unknown(dataset, key)
            return state_of(conn, row, self.clock.now())

    def history(self, dataset: str, unit: PrivacyUnit | str, limit: int = 50) -> list[ChargeRecord]:
        """The account's most recent charges, newest first."""
        key = unit if isinstance(unit, str) else unit_key(unit)
        with self.store.engine.connect() as conn:
            return charge_history(conn, dataset, key, limit)

    def spending(self, namespace: str, total: Budget) -> PeopleSpending:
        """What the people of ``namespace`` have spent now against a per-person ``total``."""
        with self.store.engine.connect() as conn:
            top, exhausted = spending_summary(conn, namespace, self.clock.now(), _parts(total))
        most = _make(_kind(total), top["epsilon"], top["delta"], top["rho"])
        return PeopleSpending(namespace, total, most, exhausted)

    def accounts(self, dataset: str | None = None) -> list[AccountState]:
        """Every account, or every account of ``dataset``."""
        query = sa.select(dp_accounts).order_by(dp_accounts.c.dataset, dp_accounts.c.unit)
        if dataset is not None:
            query = query.where(dp_accounts.c.dataset == dataset)
        with self.store.engine.connect() as conn:
            states = [state_of(conn, row, self.clock.now()) for row in conn.execute(query).all()]
        if dataset is not None and not states:
            raise ParameterError(
                f"unknown dataset {dataset!r}: no budget was set and it was never queried"
            )
        return states

    # --- spending ------------------------------------------------------------------------

    def check(
        self,
        dataset: str,
        unit: PrivacyUnit,
        cost: Budget,
        *,
        analyst: str = "-",
        purpose: str = "-",
    ) -> None:
        """Raise :class:`BudgetExceeded` if ``cost`` would not fit the account now.

        Writes nothing. People's own budgets are checked by :meth:`charge`, which
        leaves out whoever cannot afford the release rather than refusing it.
        """
        key = unit_key(unit)
        with self.store.engine.connect() as conn:
            row = conn.execute(select_account(dataset, key)).first()
            state = state_of(conn, row, self.clock.now()) if row is not None else None
        total = state.total if state else self.default_total
        spent = state.spent if state else _make(_kind(total), 0.0, 0.0, 0.0)
        require_fits(dataset, key, total, spent, convert(cost, total))
        for sub in state.sub_budgets if state else ():
            if (sub.scope, sub.name) in (("analyst", analyst), ("purpose", purpose)):
                require_fits(dataset, key, sub.limit, sub.spent, convert(cost, total), sub)

    def find(self, request_id: str, dataset: str, unit: PrivacyUnit) -> Charge | None:
        """The charge already recorded for ``request_id`` on this account, if any."""
        key = unit_key(unit)
        with self.store.engine.connect() as conn:
            found = conn.execute(
                sa.select(dp_charges, dp_accounts)
                .join(dp_accounts, dp_accounts.c.id == dp_charges.c.account_id)
                .where(dp_charges.c.request_id == request_id)
            ).first()
            if found is None:
                return None
            if (found.dataset, found.unit) != (dataset, key):
                raise ParameterError(
                    f"request id {request_id!r} was already used for another dataset; "
                    "use a new request id"
                )
            total = _make(found.kind, found.total_epsilon, found.total_delta, found.total_rho)
            cost = _make(found.kind, found.epsilon, found.delta, found.rho)
            account = conn.execute(select_account(dataset, key)).first()
            state = state_of(conn, account, self.clock.now())
        return Charge(
            request_id, dataset, key, cost, state.remaining, total,
            state.is_default, True, found.answer,
        )  # fmt: skip

    def charge(
        self,
        request_id: str,
        dataset: str,
        unit: PrivacyUnit,
        cost: Budget,
        *,
        people: People | None = None,
        analyst: str = "-",
        purpose: str = "-",
        what: str = "",
        answer: str | None = None,
    ) -> Charge:
        """Charge ``cost`` once for ``request_id``; refuse with :class:`BudgetExceeded`.

        With a unit per customer, ``people`` (from :meth:`people`) are the people the
        release reads: each is charged ``cost`` against their own budget (the account's
        total), and those who cannot afford it are returned in ``Charge.left_out``; the
        caller removes them from the input before computing anything.

        ``answer`` (a DP release, safe to keep) is stored with the charge and returned
        to a retry of the same request instead of a fresh release; a release made after
        its charge attaches it with :meth:`record_answer`. With an audit log, the
        charge appends a ``dp.charge`` event (actor: ``analyst``) that commits with it.
        """
        _check_name("request_id", request_id)
        if isinstance(unit, PerCustomer) != (people is not None):
            raise ParameterError(
                "a release per customer names the people it reads (people=ledger.people(...)), "
                "and a release per row names none"
            )
        if people is not None and people.namespace != unit.key:
            raise ParameterError(
                f"these people are of namespace {people.namespace!r}, the unit's is {unit.key!r}"
            )
        for attempt in range(3):
            try:
                return self._charge(
                    request_id, dataset, unit, cost, people, analyst, purpose, what, answer
                )
            except sa.exc.IntegrityError:
                # Another client created the account or used this request id first.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def record_answer(self, request_id: str, answer: str) -> None:
        """Attach the release ``answer`` to the charge of ``request_id`` for its retries.

        For releases charged before they are computed (:func:`run_query` charges first).
        A charge that already has an answer keeps it.
        """
        with self.store.transaction() as conn:
            if not store_answer(conn, request_id, answer) and not previous_charge(conn, request_id):
                raise ParameterError(f"no charge was recorded for request id {request_id!r}")

    def _charge(
        self,
        request_id: str,
        dataset: str,
        unit: PrivacyUnit,
        cost: Budget,
        people: People | None,
        analyst: str,
        purpose: str,
        what: str,
        answer: str | None,
    ) -> Charge:
        _check_name("dataset", dataset)
        key = unit_key(unit)
        now = self.clock.now()
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            if row is None:
                create_default_account(conn, dataset, key, self.default_total, now)
                row = lock_account(conn, dataset, key)
            assert row is not None
            total = _make(row.kind, row.total_epsilon, row.total_delta, row.total_rho)
            previous = previous_charge(conn, request_id)
            if previous is not None:
                return replay(previous, row, dataset, key, cost, total)
            period = Renewal(row.renewal).period(now)
            renewed = period != row.period
            spent = _make(row.kind, row.spent_epsilon, row.spent_delta, row.spent_rho)
            if renewed:
                spent = _make(row.kind, 0.0, 0.0, 0.0)
            cost_k = convert(cost, total)
            require_fits(dataset, key, total, spent, cost_k)
            charge_subs(conn, row, dataset, key, analyst, purpose, period, cost_k)
            left_out = _NO_ONE
            if people is not None:
                left_out = charge_people(conn, people, total, cost_k, Renewal(row.renewal), now)
            new_spent = _add(spent, cost_k)
            conn.execute(
                sa.update(dp_accounts)
                .where(dp_accounts.c.id == row.id)
                .values(
                    period=period,
                    updated_at=now.isoformat(),
                    **{f"spent_{k}": v for k, v in _parts(new_spent).items()},
                )
            )
            conn.execute(
                sa.insert(dp_charges).values(
                    request_id=request_id,
                    account_id=row.id,
                    analyst=analyst,
                    purpose=purpose,
                    period=period,
                    at=now.isoformat(),
                    what=what[:500],
                    answer=answer,
                    **_parts(cost_k),
                )
            )
            details: dict[str, Any] = {
                "request_id": request_id,
                "cost": budget_dict(cost_k),
                "analyst": analyst,
                "purpose": purpose,
                "what": what[:500],
                "period": period,
            }
            if people is not None:
                details["people_charged"] = len(people) - len(left_out)
            self._audit(conn, analyst, "dp.charge", dataset, key, details)
        return Charge(
            request_id,
            dataset,
            key,
            cost_k,
            _remaining(total, new_spent),
            total,
            bool(row.is_default),
            False,
            answer,
            left_out,
        )

    # --- helpers -------------------------------------------------------------------------

    def _audit(
        self,
        conn: sa.Connection,
        actor: str,
        action: str,
        dataset: str,
        unit: str,
        details: Mapping[str, Any],
    ) -> None:
        record_event(self, conn, actor, action, {"dataset": dataset, "unit": unit, **details})
