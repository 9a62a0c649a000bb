"""How every private model pays: each customer in its input, before anything is computed.

A fit first drops the customers the consent register does not allow (:func:`consenting`).
A private fit then names the customers it reads. The ledger charges each of them against
their own budget and returns those who cannot afford the fit; they are removed from the
input before the first statistic is computed, so whether a customer is in a model
depends only on their own history (see :mod:`shopveil.dp._people`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopveil._core.budgets import Budget
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import Charge, Ledger, People, charge_record
from shopveil.errors import PrivacyError

__all__ = ["CUSTOMER", "charge_customers", "consenting"]

CUSTOMER = PerCustomer("customer")
"""The unit of every model: one customer with all their purchases."""

FIT_PURPOSE = "model_training"
"""The processing a fit's charge records (the presets' name for training on customer data)."""


def consenting(subjects: SubjectFilter | None, customers: Sequence[str]) -> np.ndarray:
    """One bool per customer: True where the consent filter lets a fit use their rows
    (every customer without a filter)."""
    if subjects is None:
        return np.ones(len(customers), dtype=bool)
    import pyarrow as pa

    return subjects.allowed(pa.array([str(c) for c in customers], pa.string()))


def charge_customers(
    ledger: Ledger,
    request_id: str,
    dataset: str,
    unit: PerCustomer,
    cost: Budget,
    customers: Sequence[str] | np.ndarray | Any,
    *,
    what: str,
    subjects: SubjectFilter | None,
    replayable: bool = False,
) -> tuple[Charge, np.ndarray]:
    """Charge ``cost`` to every customer in ``customers``; return the charge and who stays.

    ``customers`` are ids (a sequence, or an Arrow array whose nulls are no one).

    The mask is True for the customers kept: an id that is not an id of ``unit`` is no
    one (its rows are dropped), and a customer who cannot afford ``cost`` is left out.
    ``subjects`` (the consent register's answer the fit applied) gives the charge's audit
    event its legal basis (:func:`shopveil.dp.charge_record`).

    A request id charged before is refused (:class:`PrivacyError`) unless ``replayable``
    (the caller then returns the answer stored with the charge): training again under a
    paid id would release a second, fresh model for one charge.
    """
    pids = ledger.hash_ids(customers, unit)
    people = People(unit.namespace, pids[pids >= 0])
    processing = charge_record(FIT_PURPOSE, subjects, "model training")
    charge = ledger.charge(
        request_id, dataset, unit, cost, people=people, what=what[:500], processing=processing
    )
    if charge.replayed and not replayable:
        raise PrivacyError(
            f"request id {request_id!r} already paid for a trained model; load that model, "
            "or train again under a new request id (which is charged again)"
        )
    keep = (pids >= 0) & ~np.isin(pids, charge.left_out)
    return charge, keep
