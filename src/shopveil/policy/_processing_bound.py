"""What :func:`~shopveil.policy.bind_processing` decided for one release, as the plan
carries it: recipient and flow, transfer, retention, each row's law and the status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from shopveil.policy._origin import Jurisdiction
from shopveil.policy._processing import (
    STATUS_ARTICLES,
    Flow,
    Recipient,
    ReleaseStatus,
    Residence,
    StatusRule,
    TransferMechanism,
    TransferRoute,
)

__all__ = ["PlanProcessing", "PlanRetention", "PlanTransfer"]


@dataclass(frozen=True)
class PlanTransfer:
    """A release that leaves the data's region, and what makes it lawful per law.

    ``mechanisms`` maps each law that restricts transfers to the mechanism in place;
    ``consent_laws`` are the laws under which each customer must also have granted the
    transfer (PIPL Art. 39 always; GDPR and LGPD when consent is the mechanism).
    """

    origin: str
    destination: str
    mechanisms: Mapping[Jurisdiction, TransferMechanism]
    route: TransferRoute | None
    consent_laws: frozenset[Jurisdiction] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mechanisms", MappingProxyType(dict(self.mechanisms)))

    def record(self) -> dict[str, Any]:
        """The transfer as the audit event and manifest write it."""
        return {
            "from": self.origin,
            "to": self.destination,
            "mechanisms": [
                {"jurisdiction": law.value, "mechanism": m.value, "article": m.article}
                for law, m in sorted(self.mechanisms.items())
            ],
            "reference": self.route.reference if self.route is not None else None,
            "consent_required_under": sorted(law.value for law in self.consent_laws),
        }


@dataclass(frozen=True)
class PlanRetention:
    """Rows dated before ``cutoff`` by ``clock`` are left out; values of each column in
    ``columns`` dated before its own cutoff are released as null."""

    clock: str
    days: int | None
    cutoff: date | None
    columns: Mapping[str, date] = field(default_factory=dict)
    column_days: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "column_days", MappingProxyType(dict(self.column_days)))

    def record(self) -> dict[str, Any]:
        """The retention applied, as the audit event and manifest write it."""
        return {
            "clock": self.clock,
            "days": self.days,
            "rows_dated_before": self.cutoff.isoformat() if self.cutoff else None,
            "columns": {
                c: {"days": self.column_days[c], "values_dated_before": d.isoformat()}
                for c, d in self.columns.items()
            },
        }


@dataclass(frozen=True)
class PlanProcessing:
    """What :func:`bind_processing` decided for one release.

    Attributes
    ----------
    recipient
        The recipient named (or the one its role goes to); None: the first party itself.
    flow
        How the data reaches the recipient.
    jurisdictions
        The laws the release's rows fall under (several with a residence column).
    residence
        The residence column that chooses each row's law; None: one law for all rows.
    region
        Where the data is held; None when the policy does not say.
    transfer
        Set when the release leaves the data's region.
    retention
        Set when a retention period applies to this purpose or a released column.
    status, status_rule
        What the output legally is, and the policy's checks when it claims
        deidentified or anonymous.
    """

    recipient: Recipient | None
    flow: Flow
    jurisdictions: tuple[Jurisdiction | None, ...]
    residence: Residence | None = None
    region: str | None = None
    transfer: PlanTransfer | None = None
    retention: PlanRetention | None = None
    status: ReleaseStatus = ReleaseStatus.PERSONAL
    status_rule: StatusRule | None = None

    @property
    def sells_or_shares(self) -> bool:
        """Whether customers' opt-outs of sale and sharing apply to this release."""
        return self.flow.sells_or_shares

    def record(self) -> dict[str, Any]:
        """The records-of-processing fields (GDPR Art. 30, LGPD Art. 37) this plan sets:
        recipients, transfers, retention and status. The legal basis comes from the
        consent register's answer (see :mod:`shopveil.pipeline`)."""
        recipient = self.recipient
        rule = self.status_rule
        status: dict[str, Any] = {
            "status": self.status.value,
            "articles": STATUS_ARTICLES[self.status],
        }
        if rule is not None:
            status.update(
                k=rule.k,
                max_risk=rule.max_risk,
                epsilon_cap=rule.epsilon_cap,
                public_commitment=rule.public_commitment,
                contract_terms=rule.contract_terms,
                declared_at=str(rule.origin) if rule.origin else None,
            )
        return {
            "jurisdictions": [j.value if j else None for j in self.jurisdictions],
            "residence_column": self.residence.column if self.residence else None,
            "data_region": self.region,
            "recipients": [
                {
                    "name": recipient.name if recipient else None,
                    "kind": recipient.kind.value if recipient else "first_party",
                    "flow": self.flow.value,
                    "region": recipient.region if recipient else None,
                    "contract": recipient.contract if recipient else None,
                }
            ],
            "transfers": [self.transfer.record()] if self.transfer else [],
            "retention": self.retention.record() if self.retention else None,
            "release_status": status,
        }
