"""What a policy says about the processing around a release: who receives it (and by
which flow), where the data may go, how long it may be used, and what the output legally
is. These are the fields of a record of processing (GDPR Art. 30, LGPD Art. 37).

- :class:`Recipient`: first party, processor (service provider) or third party, and the
  flow to it; sale and sharing are flows, not purposes (Cal. Civ. Code 1798.140(ad),
  (ah)).
- :class:`Transfers`: the data's region and, per destination region, the transfer
  mechanisms in place (:class:`TransferMechanism`, one key per article).
- :class:`Retention`: the date columns that date a row, and the days each purpose and
  column may use it; the store tables a retention job may clean.
- :class:`StatusRule`: the checks a release must pass to be called deidentified or
  anonymous.
- :class:`Residence`: which law applies to each row, by the customer's residence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from shopveil.errors import PolicyError
from shopveil.policy._origin import Jurisdiction, Origin

__all__ = [
    "Flow",
    "Processing",
    "Recipient",
    "RecipientKind",
    "ReleaseStatus",
    "Residence",
    "Retention",
    "StatusRule",
    "StoreRetention",
    "TransferMechanism",
    "TransferRoute",
    "Transfers",
]


class RecipientKind(StrEnum):
    """Who receives a release, as the laws tell recipients apart."""

    FIRST_PARTY = "first_party"  # the retailer itself (controller; CCPA "business")
    # GDPR Art. 28 processor, CCPA service provider or contractor, LGPD operador, PIPL
    # entrusted party (Art. 21): processes the data on the retailer's behalf, by contract.
    PROCESSOR = "processor"
    THIRD_PARTY = "third_party"  # anyone else: a controller of its own


class Flow(StrEnum):
    """How the data reaches a recipient."""

    INTERNAL = "internal"  # within the first party
    ENTRUSTED = "entrusted"  # to a processor, under a contract that limits its use
    DISCLOSURE = "disclosure"  # to a third party, for no consideration and no ads
    SALE = "sale"  # for money or other valuable consideration (CCPA 1798.140(ad))
    SHARE = "share"  # for cross-context behavioural advertising (CCPA 1798.140(ah))

    @property
    def sells_or_shares(self) -> bool:
        """Whether the flow is a sale or a share: opt-outs of both apply (CCPA 1798.120)."""
        return self in (Flow.SALE, Flow.SHARE)


_FLOWS_OF = {
    RecipientKind.FIRST_PARTY: (Flow.INTERNAL,),
    RecipientKind.PROCESSOR: (Flow.ENTRUSTED,),
    RecipientKind.THIRD_PARTY: (Flow.DISCLOSURE, Flow.SALE, Flow.SHARE),
}


@dataclass(frozen=True)
class Recipient:
    """One recipient the policy declares.

    Attributes
    ----------
    name
        Its key under ``recipients``.
    kind, flow
        Who it is and how the data reaches it; a processor's flow is ``entrusted``, a
        first party's ``internal``, a third party's ``disclosure``, ``sale`` or ``share``.
    region
        Where it receives the data; a region other than the data's is a transfer.
    roles
        The roles whose releases go to this recipient unless the release names another.
    contract
        The contract that binds a processor (GDPR Art. 28(3), CCPA 1798.100(d)); a
        reference, never its text.
    """

    name: str
    kind: RecipientKind
    flow: Flow
    region: str | None = None
    roles: frozenset[str] = frozenset()
    contract: str | None = None
    origin: Origin | None = None

    def __post_init__(self) -> None:
        where = f"{self.origin}: " if self.origin is not None else ""
        allowed = _FLOWS_OF[self.kind]
        if self.flow not in allowed:
            raise PolicyError(
                f"{where}recipient {self.name!r} is a {self.kind.value} with flow "
                f"{self.flow.value!r}; a {self.kind.value} receives data by "
                f"{' or '.join(f.value for f in allowed)}"
            )
        if self.kind is RecipientKind.PROCESSOR and not self.contract:
            raise PolicyError(
                f"{where}recipient {self.name!r} is a processor without a contract; name the "
                "contract that binds it (GDPR Art. 28(3), CCPA 1798.100(d)) under 'contract'"
            )


class TransferMechanism(StrEnum):
    """What makes a transfer of personal data out of its region lawful, one per article.

    The value is the key a policy writes; :attr:`law` is the law it belongs to and
    :attr:`article` where that law provides it.
    """

    GDPR_ADEQUACY = "gdpr.adequacy"
    GDPR_SCC = "gdpr.scc"
    GDPR_BCR = "gdpr.bcr"
    GDPR_EXPLICIT_CONSENT = "gdpr.explicit_consent"
    LGPD_ADEQUACY = "lgpd.adequacy"
    LGPD_SPECIFIC_CLAUSES = "lgpd.specific_clauses"
    LGPD_SCC = "lgpd.scc"
    LGPD_BCR = "lgpd.bcr"
    LGPD_CONSENT = "lgpd.consent"
    PIPL_SECURITY_ASSESSMENT = "pipl.security_assessment"
    PIPL_CERTIFICATION = "pipl.certification"
    PIPL_STANDARD_CONTRACT = "pipl.standard_contract"

    @property
    def law(self) -> str:
        """The jurisdiction's key (``gdpr``, ``lgpd``, ``pipl``)."""
        return self.value.split(".", 1)[0]

    @property
    def article(self) -> str:
        """Where the law provides this mechanism."""
        return _ARTICLES[self]

    @property
    def needs_consent(self) -> bool:
        """Whether the mechanism is the customer's own consent to the transfer."""
        return self in (TransferMechanism.GDPR_EXPLICIT_CONSENT, TransferMechanism.LGPD_CONSENT)


_M = TransferMechanism
_ARTICLES: Mapping[TransferMechanism, str] = MappingProxyType(
    {
        _M.GDPR_ADEQUACY: "GDPR Art. 45",
        _M.GDPR_SCC: "GDPR Art. 46(2)(c)",
        _M.GDPR_BCR: "GDPR Art. 46(2)(b), Art. 47",
        _M.GDPR_EXPLICIT_CONSENT: "GDPR Art. 49(1)(a)",
        _M.LGPD_ADEQUACY: "LGPD Art. 33 I",
        _M.LGPD_SPECIFIC_CLAUSES: "LGPD Art. 33 II(a)",
        _M.LGPD_SCC: "LGPD Art. 33 II(b)",
        _M.LGPD_BCR: "LGPD Art. 33 II(c)",
        _M.LGPD_CONSENT: "LGPD Art. 33 VIII",
        _M.PIPL_SECURITY_ASSESSMENT: "PIPL Art. 38(1), Art. 40",
        _M.PIPL_CERTIFICATION: "PIPL Art. 38(2)",
        _M.PIPL_STANDARD_CONTRACT: "PIPL Art. 38(3)",
    }
)

TRANSFER_ARTICLES: Mapping[str, str] = MappingProxyType(
    {
        "gdpr": "GDPR Art. 44-46, 49",
        "lgpd": "LGPD Art. 33",
        "pipl": "PIPL Art. 38-40",
    }
)
"""The laws that restrict transfers out of a region, and where. CCPA restricts none."""


@dataclass(frozen=True)
class TransferRoute:
    """The mechanisms in place for transfers to one destination region."""

    destination: str
    mechanisms: tuple[TransferMechanism, ...]
    reference: str | None = None  # the signed clauses, the decision, the filing
    origin: Origin | None = None

    def for_law(self, law: str) -> TransferMechanism | None:
        """The first mechanism of ``law`` this route has; None when it has none."""
        return next((m for m in self.mechanisms if m.law == law), None)


@dataclass(frozen=True)
class Transfers:
    """Where the data is and where it may go.

    Attributes
    ----------
    region
        Where the data is held; None when the policy does not say (a release that names
        a destination is then refused).
    datasets
        Regions of single datasets, by file stem or catalog name, over ``region``.
    routes
        Per destination region, the mechanisms in place.
    """

    region: str | None = None
    datasets: Mapping[str, str] = field(default_factory=dict)
    routes: Mapping[str, TransferRoute] = field(default_factory=dict)
    origin: Origin | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", MappingProxyType(dict(self.datasets)))
        object.__setattr__(self, "routes", MappingProxyType(dict(self.routes)))

    def region_of(self, dataset: str | None) -> str | None:
        """The region of ``dataset`` (its own, else the policy's)."""
        if dataset is not None and dataset in self.datasets:
            return self.datasets[dataset]
        return self.region


@dataclass(frozen=True)
class Retention:
    """How long rows may be used, counted from the row's date.

    Attributes
    ----------
    clock
        The date columns that date a row; the first the table has is its retention
        clock. A table with none of them cannot be released for a purpose with a period.
    purposes
        Days a row may be used per purpose.
    columns
        Days a column's value may be used; past it, the value is released as null.
    default
        Days for purposes not listed; None: no limit.
    """

    clock: tuple[str, ...] = ()
    purposes: Mapping[str, int] = field(default_factory=dict)
    columns: Mapping[str, int] = field(default_factory=dict)
    default: int | None = None
    origins: Mapping[str, Origin] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("purposes", "columns", "origins"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def days_for(self, purpose: str) -> int | None:
        """Days a row may be used for ``purpose``; None for no limit."""
        return self.purposes.get(purpose, self.default)


@dataclass(frozen=True)
class StoreRetention:
    """Days the retention job keeps what ShopVeil's own store holds.

    Attributes
    ----------
    consent_history
        Superseded consent records (a decision the customer later replaced), counted
        from the decision's date; the record in force is never deleted.
    erased_subjects
        The vault rows left by an erased customer (the key already shredded), counted
        from the erasure.
    """

    consent_history: int | None = None
    erased_subjects: int | None = None


class ReleaseStatus(StrEnum):
    """What an output legally is."""

    PERSONAL = "personal"  # direct identifiers in clear
    PSEUDONYMIZED = "pseudonymized"  # GDPR Art. 4(5), CCPA 1798.140(aa), LGPD Art. 13 §4
    DEIDENTIFIED = "deidentified"  # CCPA 1798.140(m)
    ANONYMOUS = "anonymous"  # GDPR Recital 26, LGPD Art. 5 III and 12, PIPL Art. 73(4)


STATUS_ARTICLES: Mapping[ReleaseStatus, str] = MappingProxyType(
    {
        ReleaseStatus.PERSONAL: "GDPR Art. 4(1); CCPA 1798.140(v); LGPD Art. 5 I; PIPL Art. 4",
        ReleaseStatus.PSEUDONYMIZED: "GDPR Art. 4(5); CCPA 1798.140(aa); LGPD Art. 13 §4",
        ReleaseStatus.DEIDENTIFIED: "CCPA 1798.140(m)",
        ReleaseStatus.ANONYMOUS: "GDPR Recital 26; LGPD Art. 5 III, Art. 12; PIPL Art. 73(4)",
    }
)


@dataclass(frozen=True)
class StatusRule:
    """The checks a release must pass to claim ``status``.

    Attributes
    ----------
    k, max_risk
        The smallest class and the highest prosecutor risk allowed on the released
        quasi-identifiers.
    epsilon_cap
        The largest ε a DP release may spend and still claim the status.
    public_commitment, contract_terms
        CCPA 1798.140(m)(2)–(3): where the retailer publicly commits not to re-identify,
        and the contract terms that bind recipients to the same; references, recorded
        in the release's manifest and audit event.
    """

    status: ReleaseStatus
    k: int | None = None
    max_risk: float | None = None
    epsilon_cap: float | None = None
    public_commitment: str | None = None
    contract_terms: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class Residence:
    """Which law applies to each row: the customer's residence column, value → law.

    Values are compared trimmed and lower-cased. ``otherwise`` is the law for other
    values; None refuses a release with a residence no law is mapped to.
    """

    column: str
    laws: Mapping[str, Jurisdiction]
    otherwise: Jurisdiction | None = None
    origin: Origin | None = None

    def __post_init__(self) -> None:
        laws = {key.strip().lower(): law for key, law in self.laws.items()}
        object.__setattr__(self, "laws", MappingProxyType(laws))

    @property
    def jurisdictions(self) -> frozenset[Jurisdiction]:
        """Every law a row may fall under."""
        found = set(self.laws.values())
        return frozenset(found | ({self.otherwise} if self.otherwise else set()))


@dataclass(frozen=True)
class Processing:
    """The policy's processing sections, each empty when the policy leaves it out."""

    recipients: Mapping[str, Recipient] = field(default_factory=dict)
    transfers: Transfers = field(default_factory=Transfers)
    retention: Retention = field(default_factory=Retention)
    store_retention: StoreRetention = field(default_factory=StoreRetention)
    statuses: Mapping[ReleaseStatus, StatusRule] = field(default_factory=dict)
    residence: Residence | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipients", MappingProxyType(dict(self.recipients)))
        object.__setattr__(self, "statuses", MappingProxyType(dict(self.statuses)))

    def check_epsilon(self, epsilon: float) -> None:
        """Refuse (:class:`PolicyError`) a DP release spending more than ``epsilon_cap``.

        A DP answer or model is released as aggregate, non-personal output; the status
        rules say how much ε may buy that claim, and the smallest cap any of them sets
        binds every DP release under the policy.
        """
        capped = [r for r in self.statuses.values() if r.epsilon_cap is not None]
        if not capped:
            return
        rule = min(capped, key=lambda r: r.epsilon_cap or 0.0)
        cap = rule.epsilon_cap
        assert cap is not None
        if epsilon > cap * (1 + 1e-12):
            where = f"{rule.origin}: " if rule.origin else ""
            raise PolicyError(
                f"{where}a DP release under this policy spends at most ε = {cap:g} "
                f"(release_status.{rule.status.value}.epsilon_cap), asked ε = {epsilon:g}; "
                f"ask for ε ≤ {cap:g}"
            )

    def recipient_for_role(self, role: str | None) -> Recipient | None:
        """The recipient that ``role``'s releases go to, if one names it."""
        if role is None:
            return None
        return next((r for r in self.recipients.values() if role in r.roles), None)
