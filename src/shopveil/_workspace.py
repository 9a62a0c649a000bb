"""The composition root: one call opens the store and wires every shared service once.

The command line, the demo and library users all go through :func:`open_workspace`, so
every ledger charges with the audit log and the workspace's people key, every catalog
change is audited with its actor, and every query and fit can ask the one consent
register whose data its purpose may use (:meth:`Workspace.subjects`).

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
from shopveil.audit import AuditLog
from shopveil.dp import DEFAULT_TOTAL, Catalog, Ledger, PeopleKey
from shopveil.governance import AllOf, ConsentFilter, ConsentRegister, fit_minors
from shopveil.keys import Keyring, Vault
from shopveil.policy import Jurisdiction
from shopveil.store import Store

__all__ = ["Workspace", "open_workspace", "workspace_on"]


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
    actor: str

    def subjects(self, purpose: str, jurisdiction: Jurisdiction | str | None) -> ConsentFilter:
        """Whose data ``purpose`` may use under ``jurisdiction``, from the consent register:
        pass it to a DP query (``run_query(subjects=...)``) or a fit
        (``FitContext(subjects=...)``)."""
        return self.consent.filter(purpose, jurisdiction)

    def fit_subjects(
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
        store, keyring, audit, ledger, Catalog(ledger), vault, consent, actor or _default_actor()
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
