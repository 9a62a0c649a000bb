"""The composition root: one call opens the store and wires every shared service once.

The command line, the demo and library users all go through :func:`open_workspace`, so
every ledger charges with the audit log and the workspace's people key, every catalog
change is audited with its actor, and every query and fit can ask the one consent
register whose data its purpose may use (:meth:`Workspace.subjects`), and one call
erases a customer everywhere (:meth:`Workspace.erase_subject`).

>>> with open_workspace() as ws:                                      # doctest: +SKIP
...     ws.catalog.datasets()
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from shopveil._core.budgets import Budget
from shopveil._core.clock import Clock
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.audit import AuditLog
from shopveil.dp import DEFAULT_TOTAL, Catalog, Ledger, PeopleKey
from shopveil.governance import (
    AccessRegister,
    AllOf,
    ConsentErasure,
    ConsentFilter,
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    CustomerEvent,
    EventHistory,
    fit_minors,
)
from shopveil.keys import Erasure, Keyring, Vault
from shopveil.policy import Jurisdiction
from shopveil.store import Store

__all__ = ["SubjectErasure", "SubjectReport", "Workspace", "open_workspace", "workspace_on"]


@dataclass(frozen=True)
class SubjectReport:
    """What the workspace holds about one customer, for their access request."""

    consent: dict[ConsentPurpose, ConsentRecord]
    vault_tokens: list[tuple[str, str]]  # (token, purpose) the vault can still resolve
    events: list[CustomerEvent]
    budgets: list[tuple[str, Budget, Budget]]  # (dataset, spent on them, per-person total)

    @property
    def holds_anything(self) -> bool:
        """Whether anything at all is held about the customer."""
        return bool(self.consent or self.vault_tokens or self.events or self.budgets)

    def as_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready values."""
        return {
            "consent": {p.value: r.as_dict() for p, r in sorted(self.consent.items())},
            "vault_tokens": [{"token": t, "purpose": p} for t, p in self.vault_tokens],
            "events": [e.as_dict() for e in self.events],
            "budgets": [
                {"dataset": d, "spent": str(spent), "per_person": str(total)}
                for d, spent, total in self.budgets
            ],
        }


@dataclass(frozen=True)
class SubjectErasure:
    """What erasing one customer did, everywhere the workspace keeps them (counts only)."""

    vault: Erasure
    consent: ConsentErasure
    datasets: list[tuple[str, int]]  # (registered dataset, rows deleted)
    events: int  # shop events deleted
    audit_seq: int  # the closing ``subject.erase`` event


@dataclass(frozen=True)
class Workspace:
    """The store and the services on it: keyring, audit log, ledger, catalog, vault and
    consent register.

    ``actor`` is who acts through this workspace, recorded with every audited change.
    Close it (or use it as a context manager) to release the database connections.
    """

    store: Store
    keyring: Keyring
    audit: AuditLog
    ledger: Ledger
    catalog: Catalog
    vault: Vault
    consent: ConsentRegister
    access: AccessRegister
    events: EventHistory
    actor: str

    def subjects(self, purpose: str, jurisdiction: Jurisdiction | str | None) -> ConsentFilter:
        """Whose data ``purpose`` may use under ``jurisdiction``, from the consent register:
        pass it to a DP query (``run_query(subjects=...)``) or a fit
        (``FitContext(subjects=...)``)."""
        return self.consent.filter(purpose, jurisdiction)

    def subject_report(self, subject: str | int) -> SubjectReport:
        """Everything held about one customer: consent decisions, vault tokens, shop
        events and the budget spent on them per registered dataset; audited with counts."""
        budgets = []
        accounts = {state.dataset: state for state in self.ledger.accounts()}
        for entry in self.catalog.datasets():
            if not isinstance(entry.unit, PerCustomer) or entry.name not in accounts:
                continue
            total = accounts[entry.name].total
            spent = self.ledger.person_spent(subject, entry.unit, total)
            if spent is not None:
                budgets.append((entry.name, spent, total))
        report = SubjectReport(
            self.consent.current(subject),
            self.vault.tokens_of(subject),
            self.events.held(subject),
            budgets,
        )
        counts = {"vault_tokens": len(report.vault_tokens), "events": len(report.events)}
        self.audit.append(self.actor, "subject.export", counts)
        return report

    def erase_subject(self, subject: str | int) -> SubjectErasure:
        """Erase one customer end to end: crypto-shred their vault key, delete their
        consent records (objections in force stay), their rows in every registered
        dataset and their ledger entries, and their shop events; audited at each step,
        then once more as ``subject.erase``. See ``docs/erasure.md``."""
        vault = self.vault.erase_subject(subject, actor=self.actor)
        consent = self.consent.erase_subject(subject, actor=self.actor)
        rows = self.catalog.erase_subject(subject, actor=self.actor)
        events = self.events.erase(subject)
        event = self.audit.append(
            self.actor,
            "subject.erase",
            {
                "subject_ref": vault.subject_ref,
                "vault_values": vault.values,
                "consent_deleted": consent.deleted,
                "dataset_rows": sum(count for _, count in rows),
                "events": events,
            },
        )
        return SubjectErasure(vault, consent, rows, events, event.seq)

    def allowed_subjects(
        self,
        purpose: str,
        jurisdiction: Jurisdiction | str | None,
        people: str | os.PathLike[str] | None = None,
    ) -> SubjectFilter:
        """Whose purchases a fit for ``purpose`` may read: :meth:`subjects`, less the
        minors ``jurisdiction``'s preset leaves out of it, by ``people`` (a table of the
        customers' ids and birth dates or ages; see
        :func:`shopveil.governance.fit_minors`, which refuses a fail-closed law without
        one)."""
        consent = self.subjects(purpose, jurisdiction)
        minors = fit_minors(purpose, jurisdiction, people)
        return consent if minors is None else AllOf((consent, minors))

    def close(self) -> None:
        """Close the workspace's store connections."""
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def open_workspace(
    home_or_url: str | os.PathLike[str] | None = None,
    *,
    actor: str | None = None,
    master_key: bytes | None = None,
    default_total: Budget = DEFAULT_TOTAL,
    clock: Clock | None = None,
) -> Workspace:
    """Open the workspace at ``home_or_url``: a database URL, a folder, or the default.

    Parameters
    ----------
    home_or_url
        ``postgresql+psycopg://…`` or ``sqlite:///…``; a folder (its ``shopveil.db``);
        None for ``SHOPVEIL_DB_URL`` or ``SHOPVEIL_HOME``.
    actor
        Who acts, for the audit log; the operating-system user by default.
    master_key
        The root key; by default ``SHOPVEIL_MASTER_KEY`` or the key file (see
        :meth:`shopveil.keys.Keyring.open`).
    default_total
        The per-person budget of a dataset nobody set one for.
    """
    store = Store.open(_url(home_or_url))
    try:
        return workspace_on(
            store,
            actor=actor,
            master_key=master_key,
            default_total=default_total,
            clock=clock,
        )
    except BaseException:
        store.close()
        raise


def workspace_on(
    store: Store,
    *,
    actor: str | None = None,
    master_key: bytes | None = None,
    default_total: Budget = DEFAULT_TOTAL,
    clock: Clock | None = None,
) -> Workspace:
    """The services wired on a store the caller opened (and closes): see :func:`open_workspace`."""
    keyring = Keyring.open(store, master_key=master_key)
    audit = AuditLog(store, keyring, clock)
    ledger = Ledger(
        store,
        clock=clock,
        default_total=default_total,
        audit=audit,
        people_key=PeopleKey(keyring.system_key("ledger.people")),
    )
    vault = Vault(store, keyring, audit)
    consent = ConsentRegister(store, keyring, audit)
    return Workspace(
        store,
        keyring,
        audit,
        ledger,
        Catalog(ledger),
        vault,
        consent,
        AccessRegister(store, keyring, audit),
        EventHistory(store, keyring, consent),
        actor or _default_actor(),
    )


def _url(home_or_url: str | os.PathLike[str] | None) -> str | None:
    if home_or_url is None:
        return None
    text = os.fspath(home_or_url)
    if "://" in text:
        return text
    home = Path(text)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"sqlite:///{home / 'shopveil.db'}"


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
