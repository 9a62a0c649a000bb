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
from shopveil.dp._ledger_reads import (
    account_state,
    account_states,
    charge_history,
    recorded_charge,
)
from shopveil.dp._ledger_sql import (
    charge_subs,
    create_default_account,
    insert_charge,
    lock_account,
    previous_charge,
    record_event,
    replace_sub,
    store_answer,
    update_account,
    write_total,
    zero_spending,
)
from shopveil.dp._ledger_values import (
    AccountState,
    Charge,
    ChargeRecord,
    Renewal,
    add,
    check_name,
    from_columns,
    kind_of,
    remaining,
    replay,
    require_fits,
    unit_key,
    unknown,
    zero,
)
from shopveil.dp._people import People, PeopleKey, PeopleSpending, id_array
from shopveil.dp._people_sql import charge_people, people_spending, person_spent
from shopveil.dp._query._answer import budget_dict
from shopveil.errors import ParameterError
from shopveil.store import Store

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
        check_name("dataset", dataset)
        key = unit_key(unit)
        if not isinstance(total, PureDP | ApproxDP | ZCDP):
            raise ParameterError(f"total must be PureDP, ApproxDP or ZCDP, got {total!r}")
        renewal = Renewal(renewal)
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            write_total(conn, row, dataset, key, total, renewal, self.clock.now())
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
        check_name(scope, name)
        key = unit_key(unit)
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            if row is None:
                raise unknown(dataset, key)
            total = from_columns(row.kind, row, "total")
            replace_sub(conn, row, scope, name, convert(limit, total))
            details = {"scope": scope, "name": name, "limit": budget_dict(limit)}
            self._audit(conn, actor, "dp.sub_budget_set", dataset, key, details)
        return self.show(dataset, unit)

    def reset(self, dataset: str, unit: PrivacyUnit, *, actor: str = "-") -> AccountState:
        """Start the account's spending again from zero; the charge history stays.

        People's own spending is not reset: the account's caps start again, the
        guarantee to each person does not.
        """
        key = unit_key(unit)
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            if row is None:
                raise unknown(dataset, key)
            zero_spending(conn, row.id)
            self._audit(conn, actor, "dp.budget_reset", dataset, key, {})
        return self.show(dataset, unit)

    def show(self, dataset: str, unit: PrivacyUnit) -> AccountState:
        """The account's state; an unknown dataset and unit raise :class:`ParameterError`."""
        key = unit_key(unit)
        with self.store.engine.connect() as conn:
            state = account_state(conn, dataset, key, self.clock.now())
        if state is None:
            raise unknown(dataset, key)
        return state

    def history(self, dataset: str, unit: PrivacyUnit | str, limit: int = 50) -> list[ChargeRecord]:
        """The account's most recent charges, newest first."""
        key = unit if isinstance(unit, str) else unit_key(unit)
        with self.store.engine.connect() as conn:
            return charge_history(conn, dataset, key, limit)

    def spending(self, namespace: str, total: Budget) -> PeopleSpending:
        """What the people of ``namespace`` have spent now against a per-person ``total``."""
        with self.store.engine.connect() as conn:
            return people_spending(conn, namespace, total, self.clock.now())

    def person_spent(self, subject_id: object, unit: PerCustomer, total: Budget) -> Budget | None:
        """What one customer has spent now under ``unit`` (None: never charged)."""
        pid = int(self.hash_ids([subject_id], unit)[0])
        if pid < 0:
            return None
        with self.store.engine.connect() as conn:
            return person_spent(conn, unit.namespace, pid, total, self.clock.now())

    def accounts(self, dataset: str | None = None) -> list[AccountState]:
        """Every account, or every account of ``dataset``."""
        with self.store.engine.connect() as conn:
            states = account_states(conn, dataset, self.clock.now())
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
            state = account_state(conn, dataset, key, self.clock.now())
        total = state.total if state else self.default_total
        spent = state.spent if state else zero(kind_of(total))
        require_fits(dataset, key, total, spent, convert(cost, total))
        for sub in state.sub_budgets if state else ():
            if (sub.scope, sub.name) in (("analyst", analyst), ("purpose", purpose)):
                require_fits(dataset, key, sub.limit, sub.spent, convert(cost, total), sub)

    def find(self, request_id: str, dataset: str, unit: PrivacyUnit) -> Charge | None:
        """The charge already recorded for ``request_id`` on this account, if any."""
        key = unit_key(unit)
        with self.store.engine.connect() as conn:
            return recorded_charge(conn, request_id, dataset, key, self.clock.now())

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
        processing: Mapping[str, Any] | None = None,
    ) -> Charge:
        """Charge ``cost`` once for ``request_id``; refuse with :class:`BudgetExceeded`.

        With a unit per customer, ``people`` (from :meth:`people`) are the people the
        release reads: each is charged ``cost`` against their own budget (the account's
        total), and those who cannot afford it are returned in ``Charge.left_out``; the
        caller removes them from the input before computing anything.

        ``answer`` (a DP release, safe to keep) is stored with the charge and returned
        to a retry of the same request instead of a fresh release; a release made after
        its charge attaches it with :meth:`record_answer`. With an audit log, the
        charge appends a ``dp.charge`` event (actor: ``analyst``) that commits with it,
        with ``processing`` (see :func:`charge_record`) as its record of processing.
        """
        check_name("request_id", request_id)
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
                    request_id, dataset, unit, cost, people, analyst, purpose, what, answer,
                    processing,
                )  # fmt: skip
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
        processing: Mapping[str, Any] | None,
    ) -> Charge:
        check_name("dataset", dataset)
        key = unit_key(unit)
        now = self.clock.now()
        with self.store.transaction() as conn:
            row = lock_account(conn, dataset, key)
            if row is None:
                create_default_account(conn, dataset, key, self.default_total, now)
                row = lock_account(conn, dataset, key)
            assert row is not None
            total = from_columns(row.kind, row, "total")
            previous = previous_charge(conn, request_id)
            if previous is not None:
                return replay(previous, row, dataset, key, cost, total)
            period = Renewal(row.renewal).period(now)
            renewed = period != row.period
            spent = zero(row.kind) if renewed else from_columns(row.kind, row, "spent")
            cost_k = convert(cost, total)
            require_fits(dataset, key, total, spent, cost_k)
            charge_subs(conn, row, dataset, key, analyst, purpose, period, cost_k)
            left_out = _NO_ONE
            if people is not None:
                left_out = charge_people(conn, people, total, cost_k, Renewal(row.renewal), now)
            new_spent = add(spent, cost_k)
            update_account(conn, row.id, new_spent, period, now)
            insert_charge(
                conn, row.id, cost_k, request_id=request_id, analyst=analyst, purpose=purpose,
                period=period, at=now.isoformat(), what=what[:500], answer=answer,
            )  # fmt: skip
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
            if processing is not None:
                details["records_of_processing"] = dict(processing)
            self._audit(conn, analyst, "dp.charge", dataset, key, details)
        return Charge(
            request_id, dataset, key, cost_k, remaining(total, new_spent), total,
            bool(row.is_default), False, answer, left_out,
        )  # fmt: skip

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
        details = {"dataset": dataset, "unit": unit, **details}
        record_event(conn, self.store, self.audit, actor, action, details)
