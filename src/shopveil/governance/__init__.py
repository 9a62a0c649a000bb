"""Governance: the consent register every release, query and training run obeys.

- :class:`ConsentRegister` keeps each customer's decisions (granted, refused, withdrawn)
  per purpose, by a keyed hash of their canonical id; the latest record by date decides.
- :data:`LEGAL_BASES` says, per law and purpose, whether the purpose needs the customer's
  consent (no record: left out) or lets them object (no record: included; a refusal
  or a withdrawal: left out). :func:`legal_basis` finds the row for a release purpose.
- :meth:`ConsentRegister.filter` turns both into a :class:`ConsentFilter`, the
  :class:`~shopveil._core.subjects.SubjectFilter` that releases, DP queries and fits
  apply before anything is computed.
- :func:`import_consent` reads and checks a consent file whole, then records it with
  one audit event; :func:`read_consent_file` only checks it.

- :func:`not_minors`, :class:`PeopleAges` and :func:`fit_minors` leave out the minors a
  policy's ``minors:`` section names, by a birth date or age column or by a table of the
  customers' ages.

``docs/consent.md`` gives the table with its articles.
"""

from shopveil.governance._bases import (
    CONTRACT_PURPOSES,
    LEGAL_BASES,
    Basis,
    ConsentPurpose,
    ConsentStatus,
    LegalBasis,
    consent_purpose,
    legal_basis,
    sensitive_data_basis,
)
from shopveil.governance._file import GPC, read_consent_file
from shopveil.governance._filter import AllOf, ConsentFilter
from shopveil.governance._import import import_consent, unknown_customers
from shopveil.governance._minors import PeopleAges, fit_minors, not_minors, people_ages
from shopveil.governance._register import (
    ConsentErasure,
    ConsentImport,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
)

__all__ = [
    "CONTRACT_PURPOSES",
    "GPC",
    "LEGAL_BASES",
    "AllOf",
    "Basis",
    "ConsentErasure",
    "ConsentFilter",
    "ConsentImport",
    "ConsentPurpose",
    "ConsentRecord",
    "ConsentRegister",
    "ConsentRow",
    "ConsentStatus",
    "LegalBasis",
    "PeopleAges",
    "consent_purpose",
    "fit_minors",
    "import_consent",
    "legal_basis",
    "not_minors",
    "people_ages",
    "read_consent_file",
    "sensitive_data_basis",
    "unknown_customers",
]
