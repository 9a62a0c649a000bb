"""Whose rows a masked view shows: the consent register asked as a release asks it.

A view's plan is bound to its processing as a release's is (the role's recipient, a sale
or a share, retention, each row's law), and the register is asked with the release's own
checks (:func:`~shopveil.pipeline._consent.release_subjects`): the purpose's basis, the
opt-out of sale and sharing, special-category consent; minors go by the table's own
birth date or age column. A DuckDB view lives on after it is made, so
:class:`LiveConsent` asks the register again once its answer is ``refresh`` seconds old.
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pyarrow as pa

from shopveil._core.operators import KeySource
from shopveil._core.subjects import SubjectFilter
from shopveil.audit import AuditLog
from shopveil.errors import ParameterError
from shopveil.keys import Keyring
from shopveil.pipeline._consent import release_subjects
from shopveil.pipeline._minors import minors_filter
from shopveil.pipeline._run import customer_columns
from shopveil.policy import Plan, Policy, bind_processing
from shopveil.store import Store

__all__ = ["LiveConsent", "view_consent"]


class LiveConsent:
    """The register's answer for one view's plan, asked again once it is ``refresh``
    seconds old (0: at every read). Safe to read from DuckDB's threads."""

    def __init__(
        self, plan: Plan, policy: Policy, store: Store, keyring: Keyring, refresh: float
    ) -> None:
        self._plan, self._policy, self._store, self._keyring = plan, policy, store, keyring
        self.refresh = refresh
        self._lock = threading.Lock()
        self._subjects = self._ask()  # an unknown purpose is refused here, before any read
        self._asked = time.monotonic()

    def _ask(self) -> SubjectFilter | None:
        audit = AuditLog(self._store, self._keyring)
        return release_subjects(self._plan, self._policy, self._store, self._keyring, audit)

    def current(self) -> SubjectFilter | None:
        """The register's answer, at most ``refresh`` seconds old."""
        with self._lock:
            if time.monotonic() - self._asked >= self.refresh:
                self._subjects = self._ask()
                self._asked = time.monotonic()
            return self._subjects


def view_consent(
    plan: Plan,
    policy: Policy,
    schema: pa.Schema,
    *,
    store: Store | None,
    keys: KeySource | None,
    consent: bool,
    as_of: date | None,
    refresh: float = 0.0,
) -> tuple[Plan, LiveConsent | None]:
    """``plan`` bound to its processing as a release's, and the register's answer for it
    (None with ``consent=False``, or a table no customer's decision can be tied to).

    Raises :class:`ParameterError` when the table holds customer ids or an opt-out flag
    and neither ``store`` nor ``consent=False`` says where (or whether) to ask, and
    :class:`~shopveil.errors.PolicyError` where the release would be refused (minors
    left out of a table with no age column, special categories without a customer id).
    """
    if refresh < 0:
        raise ParameterError(f"refresh must be 0 or more seconds, not {refresh}")
    plan = bind_processing(plan, policy, schema, as_of=as_of)
    minors_filter(plan, None, None)  # refuses a table whose minors cannot be told
    if not consent or (not customer_columns(plan) and plan.opt_out_column is None):
        return plan, None
    if store is None:
        raise ParameterError(
            f"the table holds customer ids, so a view for purpose {plan.purpose!r} leaves "
            "out the customers the consent register does not allow; pass store= (the "
            "workspace's store), or consent=False where no law asks for their consent"
        )
    keyring = keys if isinstance(keys, Keyring) else Keyring.open(store)
    return plan, LiveConsent(plan, policy, store, keyring, refresh)
