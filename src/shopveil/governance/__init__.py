"""Governance: the consent register every release, query and training run obeys.

- :class:`ConsentRegister` keeps each customer's decisions (granted, refused, withdrawn)
  per purpose, by a keyed hash of their canonical id; the latest record by date decides.
- :data:`LEGAL_BASES` says, per law and purpose, whether the purpose needs the customer's
  consent (no record: left out) or lets them object (no record: included; a refusal
  or a withdrawal: left out). :func:`legal_basis` finds the row for a release purpose;
  :func:`require_central_fit` refuses a central fit where the law's preset trains federated.
- :meth:`ConsentRegister.filter` turns both into a :class:`ConsentFilter`, the
  :class:`~shopveil._core.subjects.SubjectFilter` that releases, DP queries and fits
  apply before anything is computed.
- :class:`AccessRegister` keeps the service's named API keys (hashed), each bound to a
  role of the policy; :data:`ROLE_ACTIONS` says what each role may ask the service for.
- :class:`EventHistory` keeps each customer's own latest shop events for their own
  personalization, only while the register allows it.
- :func:`import_consent` reads and checks a consent file whole, then records it with
  one audit event; :func:`read_consent_file` only checks it.

- :func:`run_retention` deletes what the store keeps past the policy's periods
  (superseded consent records, erased customers' vault values) and says what it cannot.

- :func:`not_minors`, :class:`PeopleAges` and :func:`fit_minors` leave out the minors a
  policy's ``minors:`` section names, by a birth date or age column or by a table of the
  customers' ages.

``docs/consent.md`` gives the table with its articles.
"""

from shopveil.governance._access import ROLE_ACTIONS, AccessGrant, AccessRegister, Action
from shopveil.governance._bases import (
    CONTRACT_PURPOSES,
    LEGAL_BASES,
    Basis,
    ConsentPurpose,
    ConsentStatus,
    LegalBasis,
    consent_purpose,
    legal_basis,
    require_central_fit,
    sensitive_data_basis,
)
from shopveil.governance._documents import BudgetUse, Release, dpia_draft, processing_record
from shopveil.governance._events import KEEP, CustomerEvent, EventHistory, EventKind
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
from shopveil.governance._retention import NOT_REACHED, RetentionRun, run_retention

__all__ = [
    "CONTRACT_PURPOSES",
    "GPC",
    "KEEP",
    "LEGAL_BASES",
    "NOT_REACHED",
    "ROLE_ACTIONS",
    "AccessGrant",
    "AccessRegister",
    "Action",
    "AllOf",
    "Basis",
    "BudgetUse",
    "ConsentErasure",
    "ConsentFilter",
    "ConsentImport",
    "ConsentPurpose",
    "ConsentRecord",
    "ConsentRegister",
    "ConsentRow",
    "ConsentStatus",
    "CustomerEvent",
    "EventHistory",
    "EventKind",
    "LegalBasis",
    "PeopleAges",
    "Release",
    "RetentionRun",
    "consent_purpose",
    "dpia_draft",
    "fit_minors",
    "import_consent",
    "legal_basis",
    "not_minors",
    "people_ages",
    "processing_record",
    "read_consent_file",
    "require_central_fit",
    "run_retention",
    "sensitive_data_basis",
    "unknown_customers",
]
