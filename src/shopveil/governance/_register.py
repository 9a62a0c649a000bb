"""The consent register: every customer's decisions per purpose, in the store.

Customers are kept by a keyed HMAC of their canonical id under a key of the workspace's
keyring (``consent.subject-ref``), never by the id: a reader of the database alone cannot
test a guessed id against it. For each (customer, purpose) the latest record by date
decides; on the same date a refusal or a withdrawal wins over a grant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.governance._bases import (
    ConsentPurpose,
    ConsentStatus,
    LegalBasis,
    legal_basis,
    sensitive_data_basis,
)
from shopveil.governance._filter import REF_BYTES, ConsentFilter, subject_ref
from shopveil.keys import Keyring
from shopveil.policy import Jurisdiction
from shopveil.store import Store, consent_records, insert_ignore_many

__all__ = [
    "ConsentErasure",
    "ConsentImport",
    "ConsentRecord",
    "ConsentRegister",
    "ConsentRow",
    "format_at",
]

REF_COMPONENT = "consent.subject-ref"
_CHUNK = 500


def format_at(at: datetime) -> str:
    """A decision time as stored: UTC, to the second, so text order is time order."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ConsentRecord:
    """One decision of one customer about one purpose (the customer is not in it)."""

    purpose: ConsentPurpose
    status: ConsentStatus
    at: datetime
    jurisdiction: Jurisdiction | None
    source: str

    def as_dict(self) -> dict[str, str | None]:
        """The record as plain JSON-ready values (no customer id)."""
        return {
            "status": self.status.value,
            "date": format_at(self.at),
            "jurisdiction": self.jurisdiction.value if self.jurisdiction else None,
            "source": self.source,
        }


@dataclass(frozen=True)
class ConsentRow:
    """A validated row of a consent file: where it was, whose it is, what it records."""

    where: str  # "line 7" or "row 6", for messages
    customer: str  # the canonical id; never logged
    record: ConsentRecord

    def __repr__(self) -> str:
        return f"ConsentRow({self.where}, {self.record!r})"


@dataclass(frozen=True)
class ConsentImport:
    """What an import did, in counts only."""

    rows: int
    customers: int
    recorded: int  # new records; the rest were in the register already
    unknown: int
    by_purpose: Mapping[str, Mapping[str, int]]
    audit_seq: int


@dataclass(frozen=True)
class ConsentErasure:
    """What erasing a customer did to the register."""

    deleted: int
    kept: int  # objections kept as suppression records
    audit_seq: int


class ConsentRegister:
    """The customers' consent decisions, on the workspace's store.

    Parameters
    ----------
    store, keyring, audit
        One store for all three, so each import commits with its audit event.
    """

    def __init__(self, store: Store, keyring: Keyring, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit
        self._key = keyring.system_key(REF_COMPONENT)

    @property
    def key(self) -> bytes:
        """The HMAC key customers are referenced by (for :class:`ConsentFilter`)."""
        return self._key

    def ref(self, customer: object) -> bytes:
        """The register's reference for ``customer`` (any spelling of their id)."""
        return subject_ref(self._key, customer)

    def record(
        self, rows: Sequence[ConsentRow], *, actor: str, unknown: int = 0, file: str = "-"
    ) -> ConsentImport:
        """Write ``rows`` (validated, see :func:`read_consent_file`) and one audit event.

        Records already in the register are kept once. The ``consent.import`` event holds
        counts per purpose and status, never an id.
        """
        self.audit.check(actor, "consent.import")
        at = format_at(self.audit.clock.now())
        values = [
            {
                "subject_ref": self.ref(row.customer).hex(),
                "purpose": row.record.purpose.value,
                "status": row.record.status.value,
                "at": format_at(row.record.at),
                "jurisdiction": row.record.jurisdiction.value if row.record.jurisdiction else None,
                "source": row.record.source,
                "recorded_at": at,
            }
            for row in rows
        ]
        by_purpose: dict[str, dict[str, int]] = {}
        for row in rows:
            counts = by_purpose.setdefault(row.record.purpose.value, {})
            counts[row.record.status.value] = counts.get(row.record.status.value, 0) + 1
        customers = len({value["subject_ref"] for value in values})
        count = sa.select(sa.func.count()).select_from(consent_records)
        with self.store.transaction() as conn:
            before = conn.execute(count).scalar_one()
            for start in range(0, len(values), _CHUNK):
                insert_ignore_many(conn, consent_records, values[start : start + _CHUNK])
            recorded = conn.execute(count).scalar_one() - before
            event = self.audit.append_in(
                conn,
                actor,
                "consent.import",
                {
                    "file": file,
                    "rows": len(rows),
                    "customers": customers,
                    "recorded": int(recorded),
                    "unknown_customers": unknown,
                    "by_purpose": by_purpose,
                },
            )
        return ConsentImport(len(rows), customers, int(recorded), unknown, by_purpose, event.seq)

    def current(
        self, customer: object, conn: sa.Connection | None = None
    ) -> dict[ConsentPurpose, ConsentRecord]:
        """The customer's decision in force per purpose (purposes without one are absent),
        read on ``conn`` when given."""
        t = consent_records
        query = sa.select(t).where(t.c.subject_ref == self.ref(customer).hex())
        if conn is None:
            with self.store.engine.connect() as conn:
                rows = conn.execute(query).all()
        else:
            rows = conn.execute(query).all()
        latest: dict[ConsentPurpose, ConsentRecord] = {}
        for row in sorted(rows, key=_order):
            record = _record(row)
            latest[record.purpose] = record  # later (or, on a tie, stricter) wins
        return latest

    def allows(
        self,
        customer: object,
        purpose: str,
        jurisdiction: Jurisdiction | str | None,
        conn: sa.Connection | None = None,
    ) -> bool:
        """Whether ``purpose`` may use this one customer's data: :meth:`filter`'s rule,
        read from their own records only (on ``conn`` when given)."""
        basis = legal_basis(purpose, jurisdiction)
        if basis is None:
            return True
        current = self.current(customer, conn)
        honoured = {basis.purpose, *basis.also_honours}
        if any(current[p].status.objects for p in honoured if p in current):
            return False
        return not basis.requires_grant or basis.purpose in current

    def filter(self, purpose: str, jurisdiction: Jurisdiction | str | None) -> ConsentFilter:
        """Whose data ``purpose`` may use under ``jurisdiction``: the law's table applied to
        every customer's latest records. See :data:`shopveil.governance.LEGAL_BASES`."""
        basis = legal_basis(purpose, jurisdiction)
        if basis is None:
            return ConsentFilter(purpose, None, self._key)
        return self.filter_basis(purpose, basis)

    def sensitive_data_filter(
        self, purpose: str, jurisdiction: Jurisdiction | str | None
    ) -> ConsentFilter:
        """Whose special-category columns ``purpose`` may use under ``jurisdiction``: the
        law's row for ``sensitive_data`` (explicit, specific or separate consent; under
        CCPA, the right to limit) applied to every customer's latest records."""
        return self.filter_basis(purpose, sensitive_data_basis(jurisdiction))

    def filter_basis(self, purpose: str, basis: LegalBasis) -> ConsentFilter:
        """Whose data ``purpose`` may use under one row of the law's table, ``basis``
        (for a check that is not a release purpose's own, such as a transfer's)."""
        honoured = {basis.purpose, *basis.also_honours}
        excluded: list[bytes] = []
        granted: list[bytes] = []
        for ref, record_purpose, status in self._latest(sorted(p.value for p in honoured)):
            if ConsentStatus(status).objects:
                excluded.append(bytes.fromhex(ref))
            elif record_purpose == basis.purpose.value:
                granted.append(bytes.fromhex(ref))
        return ConsentFilter(purpose, basis, self._key, _refs(excluded), _refs(granted))

    def erase_subject(self, customer: object, *, actor: str) -> ConsentErasure:
        """Delete the customer's records, keeping only objections in force.

        A refusal or withdrawal that is the customer's latest word on a purpose stays
        (purpose, status, date, law and source under the keyed reference), so their
        objection is still honoured if their data comes back; every grant and every
        superseded record goes. A kept grant would let their data back in unasked.
        """
        self.audit.check(actor, "consent.erase")
        t = consent_records
        ref = self.ref(customer).hex()
        with self.store.transaction() as conn:
            rows = conn.execute(sa.select(t).where(t.c.subject_ref == ref)).all()
            latest: dict[str, sa.Row[tuple[object, ...]]] = {}
            for row in sorted(rows, key=_order):
                latest[row.purpose] = row
            keep = {row.id for row in latest.values() if ConsentStatus(row.status).objects}
            gone = [row.id for row in rows if row.id not in keep]
            for start in range(0, len(gone), _CHUNK):
                conn.execute(sa.delete(t).where(t.c.id.in_(gone[start : start + _CHUNK])))
            event = self.audit.append_in(
                conn, actor, "consent.erase", {"deleted": len(gone), "kept": len(keep)}
            )
        return ConsentErasure(len(gone), len(keep), event.seq)

    def counts(self) -> dict[str, dict[str, int]]:
        """How many customers' records in force say each status, per consent purpose."""
        found: dict[str, dict[str, int]] = {p.value: {} for p in ConsentPurpose}
        for _, purpose, status in self._latest([p.value for p in ConsentPurpose]):
            found[purpose][status] = found[purpose].get(status, 0) + 1
        return found

    def _latest(self, purposes: Sequence[str]) -> list[tuple[str, str, str]]:
        """(ref, purpose, status) of the record in force per customer and purpose."""
        t = consent_records
        strict = sa.case((t.c.status == ConsentStatus.GRANTED.value, 0), else_=1)
        rank = (
            sa.func.row_number()
            .over(
                partition_by=(t.c.subject_ref, t.c.purpose),
                order_by=(t.c.at.desc(), strict.desc(), t.c.id.desc()),
            )
            .label("rank")
        )
        ranked = (
            sa.select(t.c.subject_ref, t.c.purpose, t.c.status, rank)
            .where(t.c.purpose.in_(list(purposes)))
            .subquery()
        )
        query = sa.select(ranked.c.subject_ref, ranked.c.purpose, ranked.c.status).where(
            ranked.c.rank == 1
        )
        with self.store.engine.connect() as conn:
            return [(r.subject_ref, r.purpose, r.status) for r in conn.execute(query)]


def _order(row: sa.Row[tuple[object, ...]]) -> tuple[str, int, int]:
    # Oldest first, so the last one seen wins: by date, then a refusal over a grant.
    return (row.at, 0 if row.status == ConsentStatus.GRANTED.value else 1, row.id)


def _record(row: sa.Row[tuple[object, ...]]) -> ConsentRecord:
    return ConsentRecord(
        purpose=ConsentPurpose(row.purpose),
        status=ConsentStatus(row.status),
        at=datetime.fromisoformat(str(row.at).replace("Z", "+00:00")),
        jurisdiction=Jurisdiction(row.jurisdiction) if row.jurisdiction else None,
        source=str(row.source),
    )


def _refs(refs: list[bytes]) -> np.ndarray:
    return np.unique(np.array(refs, dtype=f"S{REF_BYTES}"))
