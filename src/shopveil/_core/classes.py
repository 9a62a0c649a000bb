"""What a column is: its privacy class and its semantic kind.

Detection assigns them, the synthetic generator records them as ground truth, and the
policy chooses a technique from them.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SPECIAL_KINDS", "ColumnClass", "Kind"]


class ColumnClass(StrEnum):
    """How much a column says about a person."""

    DIRECT_IDENTIFIER = "direct_identifier"
    """Names one person alone: customer id, email, phone, card number."""
    QUASI_IDENTIFIER = "quasi_identifier"
    """Identifies in combination: birth date, postcode, gender, country, event time."""
    SENSITIVE = "sensitive"
    """What must not be learned about a person: free text with PII, health, spend."""
    OTHER = "other"
    """Not personal: product codes, prices, quantities."""

    @property
    def is_personal(self) -> bool:
        """Whether columns of this class hold personal data."""
        return self is not ColumnClass.OTHER


class Kind(StrEnum):
    """The semantic type of a column's values."""

    CUSTOMER_ID = "customer_id"
    PERSON_NAME = "person_name"
    EMAIL = "email"
    PHONE = "phone"
    STREET_ADDRESS = "street_address"
    POSTCODE = "postcode"
    CITY = "city"
    COUNTRY = "country"
    BIRTH_DATE = "birth_date"
    AGE = "age"
    GENDER = "gender"
    LOYALTY_ID = "loyalty_id"
    CARD_NUMBER = "card_number"
    IBAN = "iban"
    IP_ADDRESS = "ip_address"
    NATIONAL_ID = "national_id"
    DEVICE_ID = "device_id"
    EVENT_TIME = "event_time"
    FREE_TEXT = "free_text"
    RECORD_ID = "record_id"
    PRODUCT = "product"
    AMOUNT = "amount"
    URL = "url"
    ORGANIZATION = "organization"
    # Demographic and socio-economic attributes: quasi-identifiers in combination.
    MARITAL_STATUS = "marital_status"
    EDUCATION = "education"
    OCCUPATION = "occupation"
    INCOME_BAND = "income_band"
    # An outcome a study of the table would learn about a person: sensitive.
    INCOME = "income"
    # Special categories (GDPR Art. 9, LGPD Art. 5 II and 11) and sensitive personal
    # information (CCPA 1798.140(ae), PIPL Art. 28) that no other kind covers.
    HEALTH = "health"
    RELIGION = "religion"
    ETHNICITY = "ethnicity"
    SEX_LIFE = "sex_life"
    BIOMETRIC = "biometric"
    PRECISE_LOCATION = "precise_location"
    POLITICAL_OPINION = "political_opinion"
    UNKNOWN = "unknown"


SPECIAL_KINDS = frozenset(
    {
        Kind.HEALTH,
        Kind.RELIGION,
        Kind.ETHNICITY,
        Kind.SEX_LIFE,
        Kind.BIOMETRIC,
        Kind.PRECISE_LOCATION,
        Kind.POLITICAL_OPINION,
    }
)
"""Kinds whose use needs the customer's explicit or separate consent (GDPR Art. 9(2)(a),
LGPD Art. 11 I, PIPL Art. 29) or honours their limit (CCPA 1798.121), whatever technique
protects them short of removing the value. Financial accounts (``card_number``,
``iban``) and government ids (``national_id``) are sensitive too, and are direct
identifiers the presets drop for every purpose but the customer's own contract."""
