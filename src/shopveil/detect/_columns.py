"""Classify one column from its name and its sampled values.

The name gives a kind with a prior weight (``customer_id`` → customer id, 0.9); the
values give kinds with the share of values that fit. For each kind the two are combined
as independent evidence, ``1 - (1 - name) * (1 - values)``; a name whose kind has a
checkable value format (emails, phones, cards, ...) is discounted when the values do
not fit. The kind with the highest score wins, and fixes the class.

A column that ends up of no known kind is checked once more by value: one whose values
still show PII (emails, cards, national ids among other values), long free text, or
nested values (structs, lists) is classed ``sensitive`` of kind ``unknown``, which a
policy must name before it is released (the compiler refuses it otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from shopveil._core import ColumnClass, Kind
from shopveil.detect._demographic import DEMOGRAPHIC_VALUE_CHECKS
from shopveil.detect._report import ColumnFinding
from shopveil.detect._special import SPECIAL_VALUE_CHECKS
from shopveil.detect._values import ValueProfile, profile_values

__all__ = ["classify_column", "normalize_name"]

_D, _Q, _S, _O = (
    ColumnClass.DIRECT_IDENTIFIER,
    ColumnClass.QUASI_IDENTIFIER,
    ColumnClass.SENSITIVE,
    ColumnClass.OTHER,
)
KIND_CLASS: dict[Kind, ColumnClass] = {
    Kind.CUSTOMER_ID: _D, Kind.PERSON_NAME: _D, Kind.EMAIL: _D, Kind.PHONE: _D,
    Kind.STREET_ADDRESS: _D, Kind.LOYALTY_ID: _D, Kind.CARD_NUMBER: _D, Kind.IBAN: _D,
    Kind.IP_ADDRESS: _D, Kind.DEVICE_ID: _D, Kind.NATIONAL_ID: _D,
    Kind.POSTCODE: _Q, Kind.CITY: _Q, Kind.COUNTRY: _Q, Kind.BIRTH_DATE: _Q, Kind.AGE: _Q,
    Kind.GENDER: _Q, Kind.EVENT_TIME: _Q,
    Kind.FREE_TEXT: _S, Kind.HEALTH: _S, Kind.RELIGION: _S, Kind.ETHNICITY: _S,
    Kind.SEX_LIFE: _S, Kind.BIOMETRIC: _S, Kind.PRECISE_LOCATION: _S,
    Kind.POLITICAL_OPINION: _S,
    Kind.RECORD_ID: _O, Kind.PRODUCT: _O, Kind.AMOUNT: _O, Kind.URL: _O, Kind.UNKNOWN: _O,
    Kind.ORGANIZATION: _Q, Kind.MARITAL_STATUS: _Q, Kind.EDUCATION: _Q, Kind.OCCUPATION: _Q,
    Kind.INCOME_BAND: _Q, Kind.INCOME: _S,
}  # fmt: skip

_ID = r"_?(?:id|no|nr|num|number|key|ref|code|uuid|guid|identifier)"
# (pattern over the normalized name, kind, weight); the highest weight among matches wins.
_NAME_RULES: tuple[tuple[str, Kind, float], ...] = (
    # Special categories outweigh the generic words they contain ("health_notes").
    (r"(?:^|_)(?:health|medical|medicine|medication|medications|diagnosis|diagnoses"
     r"|illness|disease|disability|disabilities|allerg(?:y|ies)|prescriptions?|symptoms?"
     r"|pregnan(?:t|cy)|blood_?type|conditions?_?medical|medical_?conditions?"
     r"|health_?conditions?|chronic_?conditions?|dietary_?requirements?)(?:_|$)",
     Kind.HEALTH, 0.95),
    (r"(?:^|_)(?:religion|religious|faith|denomination|beliefs?|church|worship)(?:_|$)",
     Kind.RELIGION, 0.95),
    (r"(?:^|_)(?:ethnicity|ethnic|ethnic_?origin|ethnic_?group|race|racial|racial_?origin)"
     r"(?:_|$)", Kind.ETHNICITY, 0.95),
    (r"(?:^|_)(?:sexual_?orientation|sexuality|sex_?life|sexual_?preference)(?:_|$)"
     r"|^orientation$", Kind.SEX_LIFE, 0.95),
    (r"(?:^|_)(?:biometrics?|fingerprint_?(?:template|hash|scan|image)|faceprint|face_?"
     r"(?:template|embedding|encoding|vector|scan|id)|voiceprint|voice_?print|iris_?(?:scan"
     r"|code|template)|retina_?scan|palm_?(?:print|vein)|dna|genetic|genome)(?:_|$)",
     Kind.BIOMETRIC, 0.95),
    (r"^(?:lat|lng|lon|long|latitude|longitude|geo|geolocation|gps|coordinates?|coords"
     r"|latlong|lat_?lng|lat_?lon|location_?(?:lat|lng|lon|coordinates|gps)|geo_?(?:point"
     r"|location|lat|lng|lon))$|(?:^|_)(?:latitude|longitude|gps|geolocation|lat_?lng"
     r"|lat_?lon)(?:_|$)", Kind.PRECISE_LOCATION, 0.9),
    # Demographic and socio-economic attributes, in several languages.
    (r"(?:^|_)(?:marital|marital_?status|civil_?status|relationship_?status|relationship"
     r"|estado_?civil|etat_?civil|familienstand|stato_?civile|burgerlijke_?staat"
     r"|(?:yrs|years)_?married|children|num_?children|n_?children|dependents|kids"
     r"|household_?size)(?:_|$)",
     Kind.MARITAL_STATUS, 0.9),
    (r"(?:^|_)(?:education|educ|edu|education_?level|education_?num|degree|qualifications?"
     r"|schooling|escolaridade|educacao|educación|educacion|escolaridad|bildung|ausbildung"
     r"|niveau_?d_?etudes|formation|istruzione)(?:_|$)", Kind.EDUCATION, 0.9),
    (r"(?:^|_)(?:occupation|occupations|job|job_?title|profession|workclass|work_?class"
     r"|employment|employment_?status|employer|industry|profissao|profissão|ocupacao"
     r"|ocupación|ocupacion|profesion|profesión|beruf|metier|métier|professione"
     r"|emploi)(?:_|$)", Kind.OCCUPATION, 0.85),
    (r"(?:^|_)(?:income|salary|salary_?class|wage|wages|earnings|pay|renda|salario|salário"
     r"|ingresos|einkommen|gehalt|revenu|salaire|reddito|stipendio)(?:_|$)",
     Kind.INCOME, 0.9),
    (r"(?:^|_)(?:income|salary|wage|earnings)_?(?:band|bracket|group|range|level|category"
     r"|bucket)(?:_|$)", Kind.INCOME_BAND, 0.95),
    (r"(?:^|_)(?:political|politics|ideology|party|party_?id|pid|partisan|vote|voted|voting"
     r"|lr|left_?right|partido|partei|parti|voto)(?:_|$)", Kind.POLITICAL_OPINION, 0.9),
    (r"(?:^|_)(?:affairs?|extramarital|infidelity)(?:_|$)", Kind.SEX_LIFE, 0.9),
    (r"(?:^|_)(?:bmi|blood_?pressure|bp|cholesterol|glucose|hba1c|heart_?rate|pulse"
     r"|disease|diabetes|diabetic|cancer|tumou?r|hiv|smok(?:er|ing)|alcohol)(?:_|$)",
     Kind.HEALTH, 0.85),
    (r"(?:^|_)(?:religiao|religião|religion|religión|konfession|religione|culte)(?:_|$)",
     Kind.RELIGION, 0.95),
    (r"(?:^|_)(?:raca|raça|raza|etnia|ethnie|ethnizitat|ethnizität|razza|cor_?raca)(?:_|$)",
     Kind.ETHNICITY, 0.95),
    (r"(?:^|_)(?:ip|ipv4|ipv6|ip_?address|ip_?addr|remote_addr|client_ip|remote_ip)(?:_|$)",
     Kind.IP_ADDRESS, 0.95),
    (r"(?:^|_)e_?mail(?:_?address)?(?:_|$)", Kind.EMAIL, 0.9),
    (r"(?:^|_)(?:phone|telephone|tel|mobile|cell|cellphone|fax|msisdn)(?:_|$)", Kind.PHONE, 0.9),
    (r"(?:credit|debit|payment|cc)_?card|card_?(?:number|no|num|nr)$|^(?:pan|ccn|card)$",
     Kind.CARD_NUMBER, 0.9),
    (r"(?:^|_)(?:iban|bank_?account|account_?number|bank_?acc)(?:_|$)", Kind.IBAN, 0.9),
    (r"(?:^|_)(?:ssn|social_?security(?:_?number)?|national_?(?:id|insurance)(?:_?number)?"
     r"|nino|passport(?:_?(?:no|number))?|tax_?(?:id|number)|personnummer|bsn|cpf)(?:_|$)",
     Kind.NATIONAL_ID, 0.9),
    (r"(?:^|_)(?:birth|dob|birthdate|birthday|bday|born)(?:_|$)", Kind.BIRTH_DATE, 0.95),
    (r"(?:^|_)(?:loyalty|rewards?|membership|club_?card|bonus_?card)(?:_|$)",
     Kind.LOYALTY_ID, 0.9),
    (r"(?:^|_)(?:device|idfa|gaid|imei|udid|android_id|advertising_id|ad_id|mac_?address"
     r"|fingerprint|cookie|browser_id)(?:_|$)", Kind.DEVICE_ID, 0.9),
    (rf"^(?:customer|cust|user|client|member|account|shopper|buyer|subscriber|consumer"
     rf"|contact|person|profile|visitor|patient|uid|cid)(?:{_ID})?$", Kind.CUSTOMER_ID, 0.9),
    (r"^(?:(?:full_?|first_?|last_?|given_?|family_?|middle_?|maiden_?|sur|fore|nick)?name"
     r"|surname|forename)$"
     r"|(?:^|_)(?:customer|client|contact|user|member|recipient|cardholder|holder|buyer"
     r"|shopper|billing|shipping|sender|receiver|author|reviewer|person)_?(?:full_?)?name$"
     r"|^(?:recipient|cardholder|addressee)$", Kind.PERSON_NAME, 0.85),
    (r"(?:^|_)(?:address|street|addr|address_?line|address_?[12]|line_?[12]|house_?number)"
     r"(?:_|$)", Kind.STREET_ADDRESS, 0.85),
    (r"(?:^|_)(?:post_?code|postal_?code|zip|zip_?code|zipcode|plz|pin_?code)(?:_|$)",
     Kind.POSTCODE, 0.9),
    (r"(?:^|_)(?:city|town|municipality|locality|village)(?:_|$)", Kind.CITY, 0.85),
    (r"(?:^|_)(?:state|region|county|province|district)(?:_|$)", Kind.CITY, 0.6),
    (r"(?:^|_)(?:country|nation|nationality|country_?code)(?:_|$)", Kind.COUNTRY, 0.9),
    (r"^(?:age|age_?years|age_?group|age_?band|age_?range|years_?old)$|_age$", Kind.AGE, 0.85),
    (r"(?:^|_)(?:gender|sex)(?:_|$)", Kind.GENDER, 0.9),
    (r"(?:^|_)(?:date|time|timestamp|datetime|ts|created|updated|modified|at|day|signup"
     r"|signed_up|registered|registration|joined|login|started|ended|start|end|placed"
     r"|purchased|shipped|delivered|sent|posted|when)(?:_|$)", Kind.EVENT_TIME, 0.75),
    (rf"(?:^|_)(?:invoice|order|session|transaction|txn|receipt|ticket|line|basket|cart"
     rf"|shipment|review|chat|message|conversation|event|visit|payment|return|refund"
     rf"|booking|request|log|record|row|batch|line_?item|thread){_ID}$|^id$",
     Kind.RECORD_ID, 0.85),
    (rf"(?:^|_)(?:product|item|article|sku|stock|ean|upc|gtin|asin|isbn|variant){_ID}?$"
     r"|(?:^|_)(?:description|desc|title|category|brand|model|style|colou?r|size|genre"
     r"|product_?name|item_?name)(?:_|$)", Kind.PRODUCT, 0.75),
    (r"(?:^|_)(?:price|amount|total|cost|quantity|qty|revenue|discount|tax|vat|value|spend"
     r"|spent|sum|count|rating|score|stars|units|weight|fee|subtotal|balance|points|margin"
     r"|currency|position|rank|duration|seconds|minutes|pages?_?viewed|views|clicks)(?:_|$)",
     Kind.AMOUNT, 0.8),
    (r"(?:^|_)(?:url|uri|link|website|homepage|referr?er|landing_?page|user_?agent|pages?"
     r"|path)(?:_|$)",
     Kind.URL, 0.8),
    (r"(?:^|_)(?:comments?|message|msg|text|body|review|note|notes|chat|feedback|content"
     r"|remarks|transcript|complaint|question|answer|reply|subject)(?:_|$)",
     Kind.FREE_TEXT, 0.7),
    (r"^(?:is|has|opted|opt|consent|consents|accepts|subscribed|newsletter|marketing|active"
     r"|deleted|verified|flag)(?:_|$)", Kind.UNKNOWN, 0.7),
)  # fmt: skip
_COMPILED_RULES = tuple((re.compile(p), kind, w) for p, kind, w in _NAME_RULES)

# Value check that confirms a kind, the fraction's weight, and how evidence names it.
_VALUE_CHECKS: tuple[tuple[str, Kind, float, str], ...] = (
    ("email", Kind.EMAIL, 1.0, "emails"),
    ("card", Kind.CARD_NUMBER, 1.0, "Luhn-valid card numbers"),
    ("iban", Kind.IBAN, 1.0, "IBANs with a valid check"),
    ("ip", Kind.IP_ADDRESS, 1.0, "IP addresses"),
    ("phone", Kind.PHONE, 0.9, "phone numbers"),
    ("uk_postcode", Kind.POSTCODE, 0.9, "UK postcodes"),
    ("us_zip", Kind.POSTCODE, 0.3, "US ZIP codes"),
    ("postcode", Kind.POSTCODE, 0.2, "postcode-shaped"),  # supports a postcode name only
    ("mac", Kind.DEVICE_ID, 0.8, "MAC addresses"),
    ("ssn", Kind.NATIONAL_ID, 0.9, "US social security numbers"),
    ("street", Kind.STREET_ADDRESS, 0.85, "street addresses"),
    ("person", Kind.PERSON_NAME, 0.85, "person names"),
    ("country", Kind.COUNTRY, 0.9, "countries"),
    ("city", Kind.CITY, 0.7, "cities"),
    ("gender", Kind.GENDER, 0.9, "gender values"),
    ("url", Kind.URL, 0.9, "URLs"),
    *SPECIAL_VALUE_CHECKS,
    *DEMOGRAPHIC_VALUE_CHECKS,
)
# Kinds whose values have a format we can check: a name alone is not enough for them.
_CHECKABLE: dict[Kind, tuple[str, ...]] = {
    Kind.EMAIL: ("email",),
    Kind.PHONE: ("phone",),
    Kind.CARD_NUMBER: ("card",),
    Kind.IBAN: ("iban",),
    Kind.IP_ADDRESS: ("ip",),
}
_TEXTUAL = {
    Kind.MARITAL_STATUS, Kind.EDUCATION, Kind.OCCUPATION,
    Kind.EMAIL, Kind.PHONE, Kind.PERSON_NAME, Kind.STREET_ADDRESS, Kind.CITY, Kind.COUNTRY,
    Kind.GENDER, Kind.URL, Kind.FREE_TEXT, Kind.IBAN, Kind.IP_ADDRESS, Kind.POSTCODE,
    Kind.RELIGION, Kind.ETHNICITY, Kind.SEX_LIFE,
}  # fmt: skip
# Kinds surveys often store as numeric codes (religious 1-4, a coded education level):
# numbers do not contradict the name.
_CODED = {
    Kind.POSTCODE, Kind.RELIGION, Kind.ETHNICITY, Kind.SEX_LIFE, Kind.MARITAL_STATUS,
    Kind.EDUCATION, Kind.OCCUPATION, Kind.GENDER,
}  # fmt: skip
_NUMERIC_KINDS = {Kind.CUSTOMER_ID, Kind.RECORD_ID, Kind.AMOUNT, Kind.AGE}
_MIN_VALUES = 20  # below this many sampled values, value shares are not trusted alone
# Value checks that mark PII wherever they hit, with the share of a column of no known
# kind that makes it suspect: one email or card number among other values is enough;
# phone-, IP- and MAC-shaped values also fit codes and versions, so a few are needed.
_PII_CHECKS = {"email": 0, "card": 0, "iban": 0, "ssn": 0, "ip": 0.02, "phone": 0.02, "mac": 0.02}


def normalize_name(name: str) -> str:
    """``"CustomerID"`` → ``"customer_id"``; ``"e-mail Address"`` → ``"e_mail_address"``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")


@dataclass
class _Score:
    name: float = 0.0
    value: float = 0.0

    @property
    def combined(self) -> float:
        return 1.0 - (1.0 - self.name) * (1.0 - self.value)


def classify_column(name: str, values: pa.Array) -> ColumnFinding:
    """Classify one column from its name and a sample of its values."""
    if pa.types.is_nested(values.type):
        # Operators work on single values and the checks below cannot see inside.
        return _finding(
            name,
            Kind.UNKNOWN,
            _S,
            1.0,
            [f"nested values ({values.type}) cannot be checked or protected field by field"],
        )
    profile = profile_values(values)
    finding = _classify(name, values, profile)
    if finding.kind is not Kind.UNKNOWN:
        return finding
    suspect = _unexplained_pii(profile)
    if suspect is None:
        return finding
    return _finding(name, Kind.UNKNOWN, _S, 1.0, [*finding.evidence, suspect])


def _unexplained_pii(profile: ValueProfile) -> str | None:
    """Why a column of no known kind still looks personal, or None."""
    count = profile.count
    for check, least in _PII_CHECKS.items():
        share = profile.get(check)
        if share > least and count:
            what = next(w for c, _, _, w in _VALUE_CHECKS if c == check)
            return f"{_share(share, count, what)}: PII among other values"
    if profile.text_pii_rate > 0:
        return f"{profile.text_pii_rate:.0%} of {profile.text_rows:,} sampled texts contain PII"
    # Written text is mostly unique; labels such as product descriptions repeat.
    if profile.mean_words >= 4 and profile.mean_length >= 20 and profile.distinct * 2 >= count:
        return (
            f"free text ({profile.mean_words:.0f} words on average): rows past the sample "
            "may hold PII"
        )
    return None


def _classify(name: str, values: pa.Array, profile: ValueProfile) -> ColumnFinding:
    normalized = normalize_name(name)
    scores: dict[Kind, _Score] = {}
    evidence: dict[Kind, list[str]] = {}
    name_kind = _name_kind(normalized)
    if name_kind is not None:
        kind, weight, pattern = name_kind
        scores.setdefault(kind, _Score()).name = weight
        evidence.setdefault(kind, []).append(f"column name matches {pattern!r}")
    _value_scores(profile, values.type, scores, evidence)
    _discount_names(profile, values.type, scores, evidence)
    if not scores:
        return _finding(name, Kind.UNKNOWN, _O, 0.5, ["no name or value pattern matched"])
    kind = max(scores, key=lambda k: scores[k].combined)
    confidence = scores[kind].combined
    if confidence < 0.35:
        reasons = [*evidence.get(kind, []), "signals too weak to call it personal"]
        return _finding(name, Kind.UNKNOWN, _O, 1.0 - confidence, reasons)
    column_class = KIND_CLASS[kind]
    reasons = evidence.get(kind, [])
    if kind is Kind.FREE_TEXT:
        column_class, kind, confidence, reasons = _free_text(profile, scores, reasons)
    if kind is Kind.EVENT_TIME and _looks_like_birth_dates(profile):
        kind = Kind.BIRTH_DATE
        reasons = [*reasons, f"dates span {profile.year_span} years, no time of day"]
    if kind in _NUMERIC_KINDS and profile.get("number") >= 0.8 and profile.count:
        # Numbers fit an id, an amount or an age: mild support for what the name says.
        confidence = 1.0 - (1.0 - confidence) * (1.0 - 0.3 * profile.get("number"))
        reasons = [*reasons, _share(profile.get("number"), profile.count, "numbers")]
    if profile.text_rows and kind is not Kind.FREE_TEXT and profile.text_pii_rate == 0:
        reasons = [*reasons, f"no PII found in {profile.text_rows:,} sampled texts"]
    return _finding(name, kind, column_class, confidence, reasons)


def _finding(
    name: str, kind: Kind, column_class: ColumnClass, confidence: float, reasons: list[str]
) -> ColumnFinding:
    return ColumnFinding(
        column=name,
        column_class=column_class,
        kind=kind,
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        evidence=tuple(reasons),
    )


def _name_kind(normalized: str) -> tuple[Kind, float, str] | None:
    best: tuple[Kind, float, str] | None = None
    for pattern, kind, weight in _COMPILED_RULES:
        match = pattern.search(normalized)
        if match and (best is None or weight > best[1]):
            best = (kind, weight, match.group().strip("_"))
    return best


def _share(fraction: float, count: int, what: str) -> str:
    return f"{fraction:.0%} of {count:,} sampled values are {what}"


def _value_scores(
    profile: ValueProfile,
    arrow_type: pa.DataType,
    scores: dict[Kind, _Score],
    evidence: dict[Kind, list[str]],
) -> None:
    count = profile.count
    if count == 0:
        return
    trust = min(1.0, count / _MIN_VALUES)
    for check, kind, weight, what in _VALUE_CHECKS:
        fraction = profile.get(check)
        if fraction < 0.3:
            continue
        if kind is Kind.PERSON_NAME and profile.distinct <= 10 and count >= 100:
            continue  # a handful of categories that are also surnames (race: White, Black)
        score = scores.setdefault(kind, _Score())
        score.value = max(score.value, fraction * weight * trust)
        evidence.setdefault(kind, []).append(_share(fraction, count, what))
    dates = profile.get("date") + profile.get("datetime")
    if dates >= 0.8:
        score = scores.setdefault(Kind.EVENT_TIME, _Score())
        score.value = max(score.value, 0.6 * min(1.0, dates) * trust)
        temporal = pa.types.is_temporal(arrow_type)
        what = "a date or time type" if temporal else "dates or timestamps"
        evidence.setdefault(Kind.EVENT_TIME, []).append(
            f"column has {what}" if temporal else _share(dates, count, what)
        )
    if profile.text_rows and profile.text_pii_rate > 0:
        score = scores.setdefault(Kind.FREE_TEXT, _Score())
        score.value = max(score.value, min(0.95, 0.5 + 5 * profile.text_evidence))
        evidence.setdefault(Kind.FREE_TEXT, []).append(
            f"{profile.text_pii_rate:.0%} of {profile.text_rows:,} sampled texts contain "
            f"PII ({', '.join(profile.text_pii_kinds)})"
        )


def _discount_names(
    profile: ValueProfile,
    arrow_type: pa.DataType,
    scores: dict[Kind, _Score],
    evidence: dict[Kind, list[str]],
) -> None:
    """Lower name-only scores that the values contradict."""
    numeric = profile.get("number") >= 0.95 or pa.types.is_integer(arrow_type)
    for kind, score in scores.items():
        if not score.name or profile.count < _MIN_VALUES:
            continue
        checks = _CHECKABLE.get(kind)
        if checks and max(profile.get(c) for c in checks) < 0.2:
            score.name *= 0.3
            evidence[kind].append(f"but few of {profile.count:,} sampled values fit that kind")
        elif kind in _TEXTUAL and kind not in _CODED and numeric:
            score.name *= 0.3
            evidence[kind].append("but the values are numbers")
        elif pa.types.is_boolean(arrow_type) and kind is not Kind.UNKNOWN:
            score.name *= 0.2
            evidence[kind].append("but the values are true/false flags")
        elif kind is Kind.AGE and profile.get("age_range") < 0.9 and profile.get("number") < 0.9:
            score.name *= 0.5
            evidence[kind].append("but the values are not ages")


def _free_text(
    profile: ValueProfile, scores: dict[Kind, _Score], reasons: list[str]
) -> tuple[ColumnClass, Kind, float, list[str]]:
    """User-written text is sensitive when it holds PII or its name says it is a message;
    a description or label with no PII is not personal."""
    score = scores[Kind.FREE_TEXT]
    named_text = score.name > 0
    if profile.text_evidence >= 0.01 or (named_text and profile.mean_words >= 3):
        return _S, Kind.FREE_TEXT, score.combined, reasons
    return _O, Kind.UNKNOWN, 1.0 - score.value, reasons


def _looks_like_birth_dates(profile: ValueProfile) -> bool:
    return profile.year_span is not None and profile.year_span >= 20 and not profile.has_time
