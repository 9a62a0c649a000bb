"""The record of processing activities (GDPR Art. 30(1)) and a DPIA draft (Art. 35(7)).

Both are built from what ShopVeil already holds, never from data values:

- the policy: purposes, roles, techniques per column class, recipients and flows,
  transfers, retention, and the legal basis of each purpose under its law
  (:func:`~shopveil.governance.legal_basis`);
- the catalog: the registered datasets (``Dataset.to_dict()``), their privacy unit,
  rows, people and columns;
- the ledger: each budget account's total, spent, and how many people are exhausted;
- the audit log's releases (``anonymize.run`` events): their purpose, status, and the
  measured re-identification risk of a k-anonymous release (the prosecutor risk of its
  smallest class, 1 / k).

The documents are drafts for the data protection officer: they say what the system
enforces and measures; the controller's name, the necessity reasoning and the sign-off
are the officer's to write (the draft lists them as open points).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shopveil.audit import AuditEvent
from shopveil.errors import ParameterError
from shopveil.governance._bases import CONTRACT_PURPOSES, legal_basis
from shopveil.policy import Policy

__all__ = ["BudgetUse", "Release", "dpia_draft", "processing_record"]


@dataclass(frozen=True)
class Release:
    """One audited release, as the documents and the dashboard read it.

    ``risk`` is the prosecutor re-identification risk of a k-anonymous release (1 / k of
    its smallest class); None for a record-level release, whose risk is not measured.
    """

    seq: int
    at: str
    actor: str
    purpose: str
    role: str | None
    rows_out: int
    status: str | None
    k: int | None
    risk: float | None

    @classmethod
    def from_event(cls, event: AuditEvent) -> Release:
        """The release an ``anonymize.run`` event describes."""
        details = event.details
        table = details.get("table_release") or {}
        k = table.get("k_reached")
        record = details.get("records_of_processing") or {}
        status = (record.get("release_status") or {}).get("status")
        return cls(
            seq=event.seq,
            at=event.at.isoformat(timespec="seconds"),
            actor=event.actor,
            purpose=str(details.get("purpose")),
            role=details.get("role"),
            rows_out=int(details.get("rows_out", 0)),
            status=status,
            k=int(k) if k else None,
            risk=round(1 / int(k), 6) if k else None,
        )


@dataclass(frozen=True)
class BudgetUse:
    """One ledger account: its total and spent ε (ρ for zCDP) and people exhausted."""

    dataset: str
    unit: str
    total: float
    spent: float
    people_exhausted: str | None


def processing_record(
    policy: Policy,
    *,
    datasets: Sequence[Mapping[str, Any]],
    budgets: Sequence[BudgetUse],
    releases: Sequence[Release],
) -> dict[str, Any]:
    """The GDPR Art. 30(1) record of processing activities, one activity per purpose."""
    return {
        "document": "record of processing activities",
        "article": "GDPR Art. 30(1); LGPD Art. 37",
        "policy": policy.name,
        "jurisdiction": policy.jurisdiction.value if policy.jurisdiction else None,
        "controller": None,  # the officer's to fill in (Art. 30(1)(a))
        "categories_of_data_subjects": ["customers"],
        "activities": [_activity(policy, name, releases) for name in sorted(policy.purposes)],
        "categories_of_personal_data": _categories(policy, datasets),
        "datasets": [_dataset(d) for d in datasets],
        "transfers": _transfers(policy),
        "security_measures": _measures(policy, budgets),
    }


def dpia_draft(
    policy: Policy,
    *,
    datasets: Sequence[Mapping[str, Any]],
    budgets: Sequence[BudgetUse],
    releases: Sequence[Release],
) -> dict[str, Any]:
    """A data protection impact assessment draft (GDPR Art. 35(7)) with measured risks."""
    measured = [r for r in releases if r.risk is not None]
    highest = max(measured, key=lambda r: r.risk or 0.0) if measured else None
    rule = None
    for status_rule in policy.processing.statuses.values():
        if status_rule.max_risk is not None:
            rule = status_rule.max_risk if rule is None else min(rule, status_rule.max_risk)
    risks = [
        {
            "risk": "re-identification of a released table",
            "measured": (
                f"highest prosecutor risk {highest.risk:.4f} (k = {highest.k}, release "
                f"#{highest.seq})" if highest else "no k-anonymous release measured yet"
            ),
            "threshold": rule,
            "within_threshold": None if highest is None or rule is None
            else bool((highest.risk or 0.0) <= rule),
            "measures": "k-anonymity and release status checks before publishing",
        },
        {
            "risk": "inference from aggregate answers",
            "measured": "; ".join(
                f"{b.dataset}: {b.spent:g} of {b.total:g} spent, people exhausted "
                f"{b.people_exhausted or 'n/a'}" for b in budgets
            ) or "no DP account yet",
            "threshold": None,
            "within_threshold": all(b.spent <= b.total for b in budgets) if budgets else None,
            "measures": "differential privacy through the per-person budget ledger",
        },
        {
            "risk": "use without a lawful basis",
            "measured": f"{len(releases)} audited release(s), each filtered by consent",
            "threshold": None,
            "within_threshold": None,
            "measures": "consent register enforced by every release, query and event",
        },
    ]  # fmt: skip
    return {
        "document": "data protection impact assessment (draft)",
        "article": "GDPR Art. 35(7)",
        "policy": policy.name,
        "description": processing_record(
            policy, datasets=datasets, budgets=budgets, releases=releases
        )["activities"],
        "necessity_and_proportionality": {
            "minimisation": _measures(policy, budgets)["techniques"],
            "retention_days": _retention(policy),
        },
        "risks": risks,
        "measures": _measures(policy, budgets),
        "open_points": [
            "controller and processor names (Art. 30(1)(a))",
            "necessity of each purpose, in the officer's words (Art. 35(7)(b))",
            "consultation of the data subjects or their representatives (Art. 35(9))",
            "sign-off by the data protection officer (Art. 35(2))",
        ],
    }


def _activity(policy: Policy, name: str, releases: Sequence[Release]) -> dict[str, Any]:
    purpose = policy.purposes[name]
    roles = sorted(r.name for r in policy.roles.values() if name in r.purposes)
    recipients = [
        {"name": r.name, "kind": r.kind.value, "flow": r.flow.value, "region": r.region,
         "contract": r.contract}
        for r in policy.processing.recipients.values() if r.roles & set(roles)
    ]  # fmt: skip
    return {
        "purpose": name,
        "legal_basis": _basis(name, policy),
        "release_modes": sorted(m.value for m in purpose.release_modes),
        "reidentifies": purpose.reidentify,
        "roles": roles,
        "recipients": recipients or [{"name": None, "kind": "first_party", "flow": "internal"}],
        "retention_days": policy.processing.retention.days_for(name),
        "releases": sum(1 for r in releases if r.purpose == name),
    }


def _basis(purpose: str, policy: Policy) -> str:
    if purpose in CONTRACT_PURPOSES:
        return "performance of the customer's contract (GDPR Art. 6(1)(b))"
    try:
        found = legal_basis(purpose, policy.jurisdiction)
    except ParameterError:  # a purpose the consent table does not know: say so, do not guess
        return "none in the consent table: no one's data may be used for it"
    return found.describe() + f" ({found.articles})" if found else "not limited by consent"


def _categories(policy: Policy, datasets: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for column, rule in policy.columns.items():
        found.setdefault(rule.column_class.value, set()).add(column)
    for class_rule in policy.rules:
        if class_rule.column_class is not None and class_rule.kind is not None:
            found.setdefault(class_rule.column_class.value, set()).add(
                f"any {class_rule.kind.value}"
            )
    named = {c for columns in found.values() for c in columns}
    unclassified = {c for d in datasets for c in _columns(d) if c not in named}
    if unclassified:
        found["scanned_when_released"] = unclassified
    return {k: sorted(v) for k, v in sorted(found.items())}


def _dataset(entry: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("name", "unit", "rows", "people", "registered_at")
    return {k: entry.get(k) for k in keep} | {"columns": _columns(entry)}


def _columns(entry: Mapping[str, Any]) -> list[str]:
    """A catalog entry's column names (its ``columns`` are ``{"name", "type"}`` objects)."""
    return [str(c["name"]) for c in entry.get("columns", ())]


def _transfers(policy: Policy) -> dict[str, Any]:
    transfers = policy.processing.transfers
    return {
        "data_region": transfers.region,
        "routes": [
            {"to": route.destination, "mechanisms": [m.value for m in route.mechanisms],
             "articles": [m.article for m in route.mechanisms], "reference": route.reference}
            for route in transfers.routes.values()
        ],
    }  # fmt: skip


def _retention(policy: Policy) -> dict[str, int | None]:
    return {name: policy.processing.retention.days_for(name) for name in sorted(policy.purposes)}


def _measures(policy: Policy, budgets: Sequence[BudgetUse]) -> dict[str, Any]:
    techniques = []
    for rule in policy.rules:
        if rule.column_class is None:
            continue
        techniques.append({
            "class": rule.column_class.value,
            "kind": rule.kind.value if rule.kind else "any",
            "technique": rule.default.technique,
            "per_purpose": {p: s.technique for p, s in sorted(rule.per_purpose.items())},
        })  # fmt: skip
    return {
        "techniques": techniques,
        "differential_privacy": [
            {"dataset": b.dataset, "unit": b.unit, "total": b.total} for b in budgets
        ],
        "keys": "purpose-bound keys derived by HKDF; per-customer keys for crypto-shredding",
        "audit": "append-only hash-chained log with signed checkpoints",
        "access": "API keys per role, stored as keyed hashes; every call audited",
    }
