"""What each law asks before a customer's data may be used for a purpose.

One table, :data:`LEGAL_BASES`, keyed by (jurisdiction, consent purpose). Each entry says
whether the purpose rests on the customer's consent (no record means no consent: the
customer is left out) or on an interest the customer may object to (no record allows;
a refusal or a withdrawal leaves them out), which other purposes' refusals it also
honours, and the articles it rests on. ``docs/consent.md`` explains every row.

A release names a purpose of its policy (``analytics``, ``marketing``, ``model_training``
…); :func:`legal_basis` maps it onto the consent purposes here. Purposes that fulfil the
customer's own contract (``fulfilment``, ``support``) are not limited by consent records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from shopveil.errors import AccessDenied, ParameterError
from shopveil.policy import Jurisdiction

__all__ = [
    "CONTRACT_PURPOSES",
    "LEGAL_BASES",
    "Basis",
    "ConsentPurpose",
    "ConsentStatus",
    "LegalBasis",
    "consent_purpose",
    "legal_basis",
    "require_central_fit",
    "sensitive_data_basis",
]


class ConsentStatus(StrEnum):
    """A customer's decision about one purpose."""

    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"

    @property
    def objects(self) -> bool:
        """True for a refusal or a withdrawal: the customer's data may not be used."""
        return self is not ConsentStatus.GRANTED


class ConsentPurpose(StrEnum):
    """The purposes a customer can grant, refuse or withdraw."""

    ANALYTICS = "analytics"  # aggregate statistics about customers
    MARKETING = "marketing"  # direct marketing: offers, newsletters, targeted campaigns
    PERSONALIZATION = "personalization"  # profiling: recommenders, segments, churn scores
    SALE_SHARING = "sale_sharing"  # selling or sharing with third parties (CCPA: and ads)
    CROSS_BORDER = "cross_border"  # a transfer out of the data's region (PIPL Art. 39)
    # Special categories and sensitive personal information (health, religion, …), for
    # the purposes whose policy declares ``sensitive_data_consent``.
    SENSITIVE_DATA = "sensitive_data"


class Basis(StrEnum):
    """What lets a purpose use a customer's data."""

    CONSENT = "consent"  # only a recorded grant allows
    SEPARATE_CONSENT = "separate_consent"  # a grant for this purpose alone (PIPL)
    OBJECTION = "objection"  # allowed until the customer refuses or withdraws

    @property
    def requires_grant(self) -> bool:
        """Whether this basis needs a recorded grant (only objection does not)."""
        return self is not Basis.OBJECTION


@dataclass(frozen=True)
class LegalBasis:
    """One row of the table: a purpose under a law.

    Attributes
    ----------
    jurisdiction
        The law; None for releases that name none (see :data:`LEGAL_BASES`).
    purpose
        The consent purpose whose latest record decides.
    basis
        Consent (a grant is needed) or objection (a refusal excludes).
    also_honours
        Further purposes whose refusal or withdrawal also excludes the customer.
    articles
        Where the law says so, for notes and documents.
    """

    jurisdiction: Jurisdiction | None
    purpose: ConsentPurpose
    basis: Basis
    articles: str
    also_honours: frozenset[ConsentPurpose] = field(default_factory=frozenset)

    @property
    def requires_grant(self) -> bool:
        """Whether the purpose needs a recorded grant under this law."""
        return self.basis.requires_grant

    def describe(self) -> str:
        """The rule in words: the law, the basis and its articles."""
        law = self.jurisdiction.value.upper() if self.jurisdiction else "no jurisdiction named"
        also = " or ".join(p.value for p in sorted(self.also_honours))
        if self.requires_grant:
            rule = "only customers who granted it are included"
            rule += f", unless they refused {also}" if also else ""
        else:
            rule = "customers who refused or withdrew it"
            rule += f", or refused {also}," if also else ""
            rule += " are left out"
        purpose = f"consent purpose {self.purpose.value} under {law} ({self.basis.value})"
        return f"{purpose}: {rule}"


_A, _M, _P, _S, _X, _SD = (
    ConsentPurpose.ANALYTICS,
    ConsentPurpose.MARKETING,
    ConsentPurpose.PERSONALIZATION,
    ConsentPurpose.SALE_SHARING,
    ConsentPurpose.CROSS_BORDER,
    ConsentPurpose.SENSITIVE_DATA,
)
_GDPR, _CCPA, _LGPD, _PIPL = (
    Jurisdiction.GDPR,
    Jurisdiction.CCPA,
    Jurisdiction.LGPD,
    Jurisdiction.PIPL,
)
_CONSENT, _SEPARATE, _OBJECTION = Basis.CONSENT, Basis.SEPARATE_CONSENT, Basis.OBJECTION


def _rows(*rows: LegalBasis) -> Mapping[tuple[Jurisdiction | None, ConsentPurpose], LegalBasis]:
    return MappingProxyType({(row.jurisdiction, row.purpose): row for row in rows})


LEGAL_BASES = _rows(
    # GDPR (EU 2016/679)
    LegalBasis(_GDPR, _A, _OBJECTION, "GDPR Art. 6(1)(f), Art. 21(1)"),
    LegalBasis(_GDPR, _M, _OBJECTION, "GDPR Art. 6(1)(f), Recital 47, Art. 21(2)-(3)"),
    LegalBasis(_GDPR, _P, _OBJECTION, "GDPR Art. 6(1)(f), Art. 21(1)-(2), Art. 22"),
    LegalBasis(_GDPR, _S, _CONSENT, "GDPR Art. 6(1)(a), Art. 7(3)"),
    # Asked only when the policy's transfer mechanism is the customer's consent.
    LegalBasis(_GDPR, _X, _CONSENT, "GDPR Art. 49(1)(a)"),
    LegalBasis(_GDPR, _SD, _CONSENT, "GDPR Art. 9(1), Art. 9(2)(a) (explicit consent)"),
    # CCPA / CPRA (Cal. Civ. Code 1798.100 ff.; CCPA Regulations, 11 CCR 7000 ff.)
    LegalBasis(_CCPA, _A, _OBJECTION, "Cal. Civ. Code 1798.100(c)"),
    LegalBasis(
        _CCPA, _M, _OBJECTION, "Cal. Civ. Code 1798.120, 1798.135; 11 CCR 7025", frozenset({_S})
    ),
    LegalBasis(_CCPA, _P, _OBJECTION, "Cal. Civ. Code 1798.185(a)(16)"),
    LegalBasis(_CCPA, _S, _OBJECTION, "Cal. Civ. Code 1798.120(a), 1798.135; 11 CCR 7025"),
    LegalBasis(_CCPA, _X, _OBJECTION, "no transfer rule in Cal. Civ. Code 1798.100 ff."),
    LegalBasis(_CCPA, _SD, _OBJECTION, "Cal. Civ. Code 1798.121 (right to limit); 11 CCR 7027"),
    # LGPD (Lei 13.709/2018)
    LegalBasis(_LGPD, _A, _OBJECTION, "LGPD Art. 7 IX, Art. 10, Art. 18 §2"),
    LegalBasis(_LGPD, _M, _CONSENT, "LGPD Art. 7 I, Art. 8 §5, Art. 18 IX"),
    LegalBasis(_LGPD, _P, _OBJECTION, "LGPD Art. 7 IX, Art. 10, Art. 18 §2, Art. 20"),
    LegalBasis(_LGPD, _S, _CONSENT, "LGPD Art. 7 I and §5, Art. 8 §5"),
    # Asked only when the policy's transfer mechanism is the customer's consent.
    LegalBasis(_LGPD, _X, _CONSENT, "LGPD Art. 33 VIII"),
    LegalBasis(_LGPD, _SD, _CONSENT, "LGPD Art. 11 I (specific and highlighted consent)"),
    # PIPL (China, 2021): no legitimate-interest basis, so consent unless a contract needs it
    LegalBasis(_PIPL, _A, _CONSENT, "PIPL Art. 13(1), Art. 14, Art. 15"),
    LegalBasis(
        _PIPL, _M, _CONSENT, "PIPL Art. 13(1), Art. 14, Art. 24(2); Advertising Law Art. 43"
    ),
    LegalBasis(_PIPL, _P, _CONSENT, "PIPL Art. 13(1), Art. 24(2)"),
    LegalBasis(_PIPL, _S, _SEPARATE, "PIPL Art. 23, Art. 29, Art. 39"),
    LegalBasis(_PIPL, _X, _SEPARATE, "PIPL Art. 39"),
    LegalBasis(_PIPL, _SD, _SEPARATE, "PIPL Art. 28, Art. 29 (separate consent)"),
    # No law named: a grant wherever GDPR or LGPD asks consent (sale_sharing, marketing);
    # opt-out for analytics and personalization, as GDPR, CCPA and LGPD have them.
    LegalBasis(None, _A, _OBJECTION, "no jurisdiction named"),
    LegalBasis(None, _M, _CONSENT, "no jurisdiction named", frozenset({_S})),
    LegalBasis(None, _P, _OBJECTION, "no jurisdiction named"),
    LegalBasis(None, _S, _CONSENT, "no jurisdiction named"),
    LegalBasis(None, _X, _CONSENT, "no jurisdiction named"),
    LegalBasis(None, _SD, _CONSENT, "no jurisdiction named"),
)
"""``(jurisdiction or None, purpose) → LegalBasis``: every law and purpose has a row."""

CONTRACT_PURPOSES = frozenset({"fulfilment", "support"})
"""Release purposes that perform the customer's own contract (GDPR Art. 6(1)(b), LGPD
Art. 7 V, PIPL Art. 13(2), CCPA 1798.105(d)(1)): consent records do not limit them."""

# A release purpose (a policy's, or a DP query's ``--purpose``) → its consent purpose.
_RELEASE_PURPOSES: Mapping[str, ConsentPurpose] = MappingProxyType(
    {
        "-": _A,  # a DP query that declares no purpose is analytics
        "analytics": _A,
        "marketing": _M,
        "personalization": _P,
        "model_training": _P,
        "sale_sharing": _S,
    }
)


def consent_purpose(purpose: str) -> ConsentPurpose | None:
    """The consent purpose a release purpose falls under; None for contract purposes.

    Raises :class:`ParameterError` for a purpose the table does not know: which law
    applies to it cannot be told, so it is refused rather than guessed.
    """
    if purpose in CONTRACT_PURPOSES:
        return None
    found = _RELEASE_PURPOSES.get(purpose)
    if found is None:
        known = sorted({*_RELEASE_PURPOSES, *CONTRACT_PURPOSES} - {"-"})
        raise ParameterError(
            f"purpose {purpose!r} has no legal basis in the consent table, so no one's "
            f"data may be used for it; name the purpose after what it does: {', '.join(known)}"
        )
    return found


def legal_basis(purpose: str, jurisdiction: Jurisdiction | str | None) -> LegalBasis | None:
    """The row of :data:`LEGAL_BASES` for a release ``purpose`` under ``jurisdiction``.

    None for contract purposes, which consent records do not limit.
    """
    consent = consent_purpose(purpose)
    if consent is None:
        return None
    return LEGAL_BASES[(_law(jurisdiction), consent)]


def sensitive_data_basis(jurisdiction: Jurisdiction | str | None) -> LegalBasis:
    """The row of :data:`LEGAL_BASES` for using special categories under ``jurisdiction``.

    It applies to every purpose that uses them, contract purposes included: GDPR Art. 9
    and LGPD Art. 11 ask their own condition whatever the purpose.
    """
    return LEGAL_BASES[(_law(jurisdiction), ConsentPurpose.SENSITIVE_DATA)]


def require_central_fit(jurisdiction: Jurisdiction | str | None) -> None:
    """Refuse (:class:`~shopveil.errors.AccessDenied`) a model trained on one machine where
    ``jurisdiction``'s preset trains models only where the data is.

    A fit is the presets' ``model_training``; PIPL's allows only federated releases
    (``pipl.yaml``), so its customers' data does not leave for a central fit.
    """
    from shopveil.policy import ReleaseMode, load_policy

    law = _law(jurisdiction)
    if law is None:
        return
    preset = load_policy(law.value)
    try:
        preset.require_release("model_training", ReleaseMode.MODEL, "a model trained centrally")
    except AccessDenied as denied:
        raise AccessDenied(f"{denied}; train it where the data is, with `shopveil fl`") from None


def _law(jurisdiction: Jurisdiction | str | None) -> Jurisdiction | None:
    if jurisdiction is None:
        return None
    try:
        return Jurisdiction(jurisdiction)
    except ValueError:
        choices = ", ".join(j.value for j in Jurisdiction)
        raise ParameterError(
            f"unknown jurisdiction {jurisdiction!r}; use one of {choices}"
        ) from None
