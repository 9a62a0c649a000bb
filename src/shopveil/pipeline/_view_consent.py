"""Whose rows a masked view shows: the consent register asked as a release asks it.

A view's plan is bound to its processing as a release's is (the role's recipient, a sale
or a share, retention, each row's law), and the register is asked with the release's own
checks (:func:`~shopveil.pipeline._consent.release_subjects`): the purpose's basis, the
opt-out of sale and sharing, special-category consent; minors go by the table's own
birth date or age column, else by ``people`` (a table of the customers' ages). A DuckDB
view lives on after it is made, so :class:`LiveConsent` asks the register again once its
answer is ``refresh`` seconds old.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
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
    """Whose rows one view may show, from ``ask``, asked again once its answer is
    ``refresh`` seconds old (0: at every read). Safe to read from DuckDB's threads."""

    def __init__(self, ask: Callable[[], SubjectFilter | None], refresh: float) -> None:
        self._ask = ask
        self.refresh = refresh
        self._lock = threading.Lock()
        self._subjects = ask()  # an unknown purpose is refused here, before any read
        self._asked = time.monotonic()

    def current(self) -> SubjectFilter | None:
        """The answer, at most ``refresh`` seconds old."""
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
    people: str | os.PathLike[str] | None = None,
    refresh: float = 0.0,
) -> tuple[Plan, LiveConsent]:
    """``plan`` bound to its processing as a release's, and whose rows its view may show:
    the register's answer (unless ``consent=False``) with the minors ``people`` names
    (the opt-out column and the table's own ages are read by
    :func:`~shopveil.pipeline._run.apply_plan`).

    Raises :class:`ParameterError` when the table holds customer ids or an opt-out flag
    and neither ``store`` nor ``consent=False`` says where (or whether) to ask, and
    :class:`~shopveil.errors.PolicyError` where the release would be refused (minors
    left out of a table with no age column and no ``people``, special categories
    without a customer id).
    """
    if refresh < 0:
        raise ParameterError(f"refresh must be 0 or more seconds, not {refresh}")
    plan = bind_processing(plan, policy, schema, as_of=as_of)
    ask_register = consent and (customer_columns(plan) or plan.opt_out_column is not None)
    if ask_register and store is None:
        raise ParameterError(
            f"the table holds customer ids, so a view for purpose {plan.purpose!r} leaves "
            "out the customers the consent register does not allow; pass store= (the "
            "workspace's store), or consent=False where no law asks for their consent"
        )
    if not ask_register:
        return plan, LiveConsent(lambda: minors_filter(plan, None, people)[0], refresh)
    assert store is not None
    keyring = keys if isinstance(keys, Keyring) else Keyring.open(store)

    def ask() -> SubjectFilter | None:
        audit = AuditLog(store, keyring)
        subjects = release_subjects(plan, policy, store, keyring, audit)
        return minors_filter(plan, subjects, people)[0]

    return plan, LiveConsent(ask, refresh)
