"""What the audit log says about a release or a model: its events and the ε charged."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shopveil.audit import AuditLog

__all__ = ["LedgerRefs", "ledger_refs"]


@dataclass(frozen=True)
class LedgerRefs:
    """The ledger's charges to one dataset and the audit events behind the scorecard.

    Attributes
    ----------
    dataset
        The ledger dataset read (None: none named, nothing read).
    epsilon_spent
        Sum of the ε of every ``dp.charge`` event of ``dataset`` (0 when none).
    charge_seqs
        Sequence numbers of those events, in chain order.
    """

    dataset: str | None
    epsilon_spent: float
    charge_seqs: tuple[int, ...]


def ledger_refs(audit: AuditLog | None, dataset: str | None) -> LedgerRefs:
    """Read the ``dp.charge`` events of ``dataset`` from ``audit`` (nothing without both)."""
    if audit is None or dataset is None:
        return LedgerRefs(dataset, 0.0, ())
    spent, seqs = 0.0, []
    for event in audit.events(action="dp.charge"):
        if event.details.get("dataset") != dataset:
            continue
        epsilon = event.details.get("cost", {}).get("epsilon")
        if isinstance(epsilon, int | float) and math.isfinite(epsilon):
            spent += float(epsilon)
        seqs.append(event.seq)
    return LedgerRefs(dataset, spent, tuple(seqs))
