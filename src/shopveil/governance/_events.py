"""Each customer's own latest shop events, kept for their own personalization only.

The shop front reports views, basket additions and purchases; a customer's events are
stored only while the consent register allows personalization for them, and read back
only under the same check, so an objection stops both at once. Customers are kept by a
keyed HMAC of their canonical id (``events.subject-ref``), never by the id, and only the
newest :data:`KEEP` events per customer stay. Items are public catalogue ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa

from shopveil.errors import ParameterError
from shopveil.governance._filter import subject_ref
from shopveil.governance._register import ConsentRegister
from shopveil.keys import Keyring
from shopveil.policy import Jurisdiction
from shopveil.store import Store, customer_events

__all__ = ["KEEP", "CustomerEvent", "EventHistory", "EventKind"]

REF_COMPONENT = "events.subject-ref"
PURPOSE = "personalization"
KEEP = 200
"""Events kept per customer: the newest, the rest deleted as new ones arrive."""


class EventKind(StrEnum):
    """What the customer did with an item."""

    VIEW = "view"
    BASKET = "basket"
    PURCHASE = "purchase"


@dataclass(frozen=True)
class CustomerEvent:
    """One event of one customer (the customer is not in it): kind, item and time (UTC)."""

    kind: EventKind
    item: str
    at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.item, str) or not self.item.strip() or len(self.item) > 200:
            raise ParameterError(
                f"item must be a catalogue id of 1-200 characters, got {str(self.item)[:40]!r}"
            )
        if self.at.tzinfo is None:
            raise ParameterError("an event's time needs a time zone, e.g. 2026-12-07T10:00:00Z")

    def as_dict(self) -> dict[str, str]:
        """The event as plain JSON-ready values."""
        return {"kind": self.kind.value, "item": self.item, "at": _iso(self.at)}


class EventHistory:
    """The customers' own recent events, gated by the consent register for personalization.

    Parameters
    ----------
    store, keyring
        Where the events are kept, and whose key references customers.
    consent
        The register that decides, per customer, whether events may be kept and read.
    """

    def __init__(self, store: Store, keyring: Keyring, consent: ConsentRegister) -> None:
        self.store = store
        self.consent = consent
        self._key = keyring.system_key(REF_COMPONENT)

    def allowed(self, customer: object, jurisdiction: Jurisdiction | str | None) -> bool:
        """Whether the customer's events may be kept and used for personalization."""
        return self.consent.allows(customer, PURPOSE, jurisdiction)

    def record(
        self,
        customer: object,
        events: Sequence[CustomerEvent],
        jurisdiction: Jurisdiction | str | None,
    ) -> int:
        """Keep ``events`` for ``customer`` if personalization is allowed; return how many.

        A customer without a lawful basis for personalization gets nothing stored (0).
        """
        if not self.allowed(customer, jurisdiction):
            return 0
        ref = self._ref(customer)
        rows = [
            {"subject_ref": ref, "kind": e.kind.value, "item": e.item, "at": _iso(e.at)}
            for e in events
        ]
        if not rows:
            return 0
        t = customer_events
        with self.store.transaction() as conn:
            conn.execute(sa.insert(t), rows)
            newest = (
                sa.select(t.c.id)
                .where(t.c.subject_ref == ref)
                .order_by(t.c.at.desc(), t.c.id.desc())
                .limit(KEEP)
                .subquery()
            )
            conn.execute(
                sa.delete(t).where(t.c.subject_ref == ref, t.c.id.not_in(sa.select(newest.c.id)))
            )
        return len(rows)

    def recent(
        self, customer: object, jurisdiction: Jurisdiction | str | None
    ) -> list[CustomerEvent]:
        """The customer's kept events, oldest first; none without a lawful basis.

        The consent and the events are read in one transaction: a decision recorded
        before the call is in force for it.
        """
        with self.store.engine.connect() as conn:
            if not self.consent.allows(customer, PURPOSE, jurisdiction, conn):
                return []
            return self._held_in(conn, customer)

    def held(self, customer: object) -> list[CustomerEvent]:
        """Every event kept for ``customer``, oldest first, whatever their consent says
        (for their access request)."""
        with self.store.engine.connect() as conn:
            return self._held_in(conn, customer)

    def _held_in(self, conn: sa.Connection, customer: object) -> list[CustomerEvent]:
        t = customer_events
        query = (
            sa.select(t.c.kind, t.c.item, t.c.at)
            .where(t.c.subject_ref == self._ref(customer))
            .order_by(t.c.at, t.c.id)
        )
        rows = conn.execute(query).all()
        return [
            CustomerEvent(EventKind(r.kind), str(r.item), datetime.fromisoformat(str(r.at)))
            for r in rows
        ]

    def prune(self, customer: object, jurisdiction: Jurisdiction | str | None) -> int:
        """Delete the customer's events if personalization is no longer allowed (after an
        objection or a withdrawal); return how many went."""
        return 0 if self.allowed(customer, jurisdiction) else self.erase(customer)

    def erase(self, customer: object) -> int:
        """Delete every event kept for ``customer``; return how many."""
        t = customer_events
        with self.store.transaction() as conn:
            result = conn.execute(sa.delete(t).where(t.c.subject_ref == self._ref(customer)))
        return int(result.rowcount or 0)

    def _ref(self, customer: object) -> str:
        return subject_ref(self._key, customer).hex()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")
