"""The record of processing (GDPR Art. 30(1), LGPD Art. 37) of a DP release or a fit.

A DP answer or a trained model goes to the first party that asked for it (the analyst,
the training job): no recipient outside the retailer, no transfer, and nothing of it is
kept past the answer, so only the purpose and the legal basis vary. The legal basis is the
consent register's answer for the purpose (its :meth:`SubjectFilter.describe`).
"""

from __future__ import annotations

from typing import Any

from shopveil._core.subjects import SubjectFilter

__all__ = ["charge_record"]


def charge_record(purpose: str, subjects: SubjectFilter | None, actor: str) -> dict[str, Any]:
    """The record-of-processing fields of one charge: purpose, legal basis, recipients,
    transfers and retention, in the shape release events carry them."""
    return {
        "purpose": purpose,
        "legal_basis": [subjects.describe()] if subjects is not None else [],
        "recipients": [{"name": actor, "kind": "first_party", "flow": "internal"}],
        "transfers": [],
        "retention": None,
    }
