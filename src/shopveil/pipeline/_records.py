"""The record-level release for a handful of records in memory (a service request).

The records go through the same path as a file: the policy is compiled for the
recipient's role and purpose (unnamed columns scanned), customers without a lawful basis
for the purpose are left out by the consent register, minors by the records' own birth
date or age where the policy leaves them out of the purpose, the plan's operators run,
and one ``anonymize.run`` audit event is written before the records are returned.

A service answers many requests of one shape. :class:`PlanCache` keeps the plan compiled
for one (role, purpose, column names and Arrow types), so the column scan of unnamed
columns runs on the first request of a shape, not on every one: the kinds of a shape's
columns are detected once, from that request's values. Every request's values still go
through the plan's operators and the consent register; a policy that names its columns
scans nothing either way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from shopveil._workspace import Workspace
from shopveil.errors import ParameterError
from shopveil.mask import Keep
from shopveil.pipeline._audit import audit_release
from shopveil.pipeline._consent import consent_details, release_subjects, with_consent_note
from shopveil.pipeline._dynamic import plan_for_role
from shopveil.pipeline._minors import minors_filter
from shopveil.pipeline._run import apply_plan
from shopveil.policy import Plan, Policy

__all__ = ["PlanCache", "ProtectedRecords", "protect_records"]


@dataclass(frozen=True)
class ProtectedRecords:
    """The records as the recipient may see them, the plan that made them, the audit event."""

    records: list[dict[str, Any]]
    plan: Plan
    rows_in: int
    audit_seq: int


class PlanCache:
    """The plans compiled for the last ``size`` request shapes under one policy.

    A shape is the role, the purpose, and the records' column names with their Arrow
    types; the plan of a shape (its columns' detected kinds among it) is reused for the
    next requests of that shape, whoever sends them. A plan passes some columns through
    unchanged because their first values held nothing personal; every request's values
    in those columns are checked for emails, phones, cards, IBANs, IP addresses and
    names (the free-text finder, a fraction of a full scan), and a request where they
    hold any gets a plan of its own, from a full scan of its values. Thread-safe.
    """

    def __init__(self, policy: Policy, size: int = 256) -> None:
        self.policy = policy
        self.size = size
        self._plans: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
        self._compiling: dict[tuple[Any, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def plan(self, table: pa.Table, role: str, purpose: str, *, as_of: date | None = None) -> Plan:
        """The plan for ``table``'s shape, compiled (and its unnamed columns scanned) once;
        its passed-through columns are checked on every call.

        ``as_of`` (today when None) is the day minors' ages are counted at; it is part of
        the shape, so a plan is not reused past its day.
        """
        day = as_of or date.today()
        shape = (role, purpose, day, tuple((f.name, str(f.type)) for f in table.schema))
        with self._lock:
            found = self._plans.get(shape)
            if found is not None:
                self._plans.move_to_end(shape)
        if found is not None:
            if not _passes_personal_data(found, table):
                return found
            # Values the cached plan was not made for: this request's own plan, not kept.
            return plan_for_role(self.policy, table, role, purpose=purpose, as_of=day)
        # One compilation per shape: the requests that miss together wait for the first.
        with self._lock:
            compiling = self._compiling.setdefault(shape, threading.Lock())
        with compiling:
            with self._lock:
                found = self._plans.get(shape)
            if found is not None:
                return self.plan(table, role, purpose, as_of=day)
            plan = plan_for_role(self.policy, table, role, purpose=purpose, as_of=day)
            with self._lock:
                self._plans[shape] = plan
                while len(self._plans) > self.size:
                    self._plans.popitem(last=False)
                self._compiling.pop(shape, None)
        return plan


def _passes_personal_data(plan: Plan, table: pa.Table) -> bool:
    """Whether a column ``plan`` keeps unchanged holds a value with PII in ``table``."""
    from shopveil.detect import find_text_pii

    kept = [s.column for s in plan.steps if isinstance(s.operator, Keep)]
    for column in kept:  # numbers too: a card number may come as one
        if any(find_text_pii(str(v)) for v in table.column(column).to_pylist() if v is not None):
            return True
    return False


def protect_records(
    workspace: Workspace,
    records: Sequence[Mapping[str, Any]],
    *,
    policy: Policy,
    role: str,
    purpose: str,
    as_of: date | None = None,
    plans: PlanCache | None = None,
) -> ProtectedRecords:
    """``records`` protected by ``policy`` for ``role`` acting for ``purpose``.

    Every record must be a mapping of column name to a JSON value; a column holding
    values of different types is refused (:class:`~shopveil.errors.ParameterError`)
    before anything is written. The audit event names the workspace's actor. With
    ``plans`` (for ``policy``), the plan of a shape seen before is reused.
    """
    table = _table(records)
    if plans is not None and plans.policy is not policy:
        raise ParameterError("plans was made for another policy; pass a PlanCache(policy)")
    if plans is not None:
        plan = plans.plan(table, role, purpose, as_of=as_of)
    else:
        plan = plan_for_role(policy, table, role, purpose=purpose, as_of=as_of)
    subjects = release_subjects(plan, policy, workspace.store, workspace.keyring, workspace.audit)
    plan = with_consent_note(plan, subjects)
    # No table of ages comes with a request: records for a purpose that leaves minors out
    # carry their own birth date or age, or a law that keeps unknown ages must apply.
    subjects, plan = minors_filter(plan, subjects, None)
    batch = apply_plan(plan, table, keys=workspace.keyring, as_of=as_of, subjects=subjects)
    seq = audit_release(
        workspace.audit,
        actor=workspace.actor,
        plan=plan,
        rows_in=table.num_rows,
        rows_out=batch.num_rows,
        consent=consent_details(subjects),
        input="request",
        output="response",
    )
    return ProtectedRecords(batch.to_pylist(), plan, table.num_rows, seq)


def _table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    if not records:
        raise ParameterError("records is empty; send at least one record")
    if any(not isinstance(r, Mapping) for r in records):
        raise ParameterError("every record must be an object of column name to value")
    try:
        return pa.Table.from_pylist(list(records))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        # Arrow's message quotes the offending value: never pass it on.
        raise ParameterError(
            "the records' columns must each hold one type of value (all text, all numbers, "
            "all true/false, or null); send the column with one type"
        ) from None
