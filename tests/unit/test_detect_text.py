"""PII in free text: spans found by find_text_pii, values redacted by redact_text."""

from __future__ import annotations

import itertools
import json
import string
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core import Kind
from shopveil.detect import TextSpan, find_text_pii, redact_text
from shopveil.errors import ParameterError, SchemaError

DATA = Path(__file__).resolve().parents[1] / "data"


def _found(text: str) -> list[tuple[str, str]]:
    return [(s.kind.value, text[s.start : s.end]) for s in find_text_pii(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # plain email, trailing full stop left out
        ("write to jo.doe+shop@mail.example.co.uk.", [("email", "jo.doe+shop@mail.example.co.uk")]),
        # Visa test number, grouped with spaces; Luhn-valid
        ("card 4111 1111 1111 1111 exp 12/29", [("card_number", "4111 1111 1111 1111")]),
        # Amex with dashes
        ("amex 3782-822463-10005 ok", [("card_number", "3782-822463-10005")]),
        # same digits with the last one changed: Luhn fails, so not a card (nor a phone)
        ("ref 4111111111111112", []),
        # grouped IBAN followed by more capitals: cut at GB's 22 characters
        ("IBAN GB82 WEST 1234 5698 7654 32 AND MORE", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        # IBAN with a broken check
        ("IBAN GB82WEST12345698765433", []),
        ("from 192.168.10.254 and 2001:db8:85a3::8a2e:370:7334", [
            ("ip_address", "192.168.10.254"), ("ip_address", "2001:db8:85a3::8a2e:370:7334")]),
        # 999 is not an octet
        ("version 1.2.999.4", []),
        ("call +44 (0)20 7946 0958 today", [("phone", "+44 (0)20 7946 0958")]),
        ("call (555) 123-4567 x89", [("phone", "(555) 123-4567 x89")]),
        ("ring 07700 900123", [("phone", "07700 900123")]),
        # dates, SSN shapes, prices and house numbers are not phones; an order number
        # after its context word is an order number
        ("on 2011-09-30 order 536365 cost 1234.50 at 17 2450", [("record_id", "536365")]),
        ("Mr. Faina D. Yefremova and Tilly Nicholson", [
            ("person_name", "Faina D. Yefremova"), ("person_name", "Tilly Nicholson")]),
        ("Thanks Sarah, we will call", [("person_name", "Sarah")]),
        # ALL-CAPS product descriptions are never names
        ("WHITE HANGING HEART T-LIGHT HOLDER", []),
        ("", []),
    ],
)  # fmt: skip
def test_finds_each_kind(text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(text) == expected


def test_spans_are_sorted_and_disjoint() -> None:
    text = (
        "Hi John Smith, mail john@example.com or 4111-1111-1111-1111, ip 10.0.0.1, +1 555 010 9999"
    )
    spans = find_text_pii(text)
    assert spans == sorted(spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert {s.kind for s in spans} == {
        Kind.PERSON_NAME,
        Kind.EMAIL,
        Kind.CARD_NUMBER,
        Kind.IP_ADDRESS,
        Kind.PHONE,
    }


def test_offsets_are_code_points() -> None:
    text = "Grüße 😀 — écrivez à zoe@example.org"
    [span] = find_text_pii(text)
    assert text[span.start : span.end] == "zoe@example.org"
    assert span.end == len(text)


def test_presidio_sample_regex_kinds_are_found_exactly() -> None:
    """Lines copied from the Presidio-research synthetic set (MIT, see tests/data/README.md)."""
    labels = {
        "EMAIL_ADDRESS": "email",
        "CREDIT_CARD": "card_number",
        "IBAN_CODE": "iban",
        "IP_ADDRESS": "ip_address",
    }
    checked = 0
    for line in (DATA / "pii_text_sample.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        found = {(s.start, s.end, s.kind.value) for s in find_text_pii(record["full_text"])}
        for gold in record["spans"]:
            kind = labels.get(gold["entity_type"])
            if kind is None or (kind == "card_number" and len(gold["entity_value"]) < 13):
                continue  # 12-digit Maestro numbers are outside the 13-19 digits we accept
            assert (gold["start_position"], gold["end_position"], kind) in found
            checked += 1
    assert checked >= 10


def test_text_span_validates() -> None:
    with pytest.raises(ParameterError, match="start < end"):
        TextSpan(5, 5, Kind.EMAIL)


def test_find_text_pii_rejects_non_text() -> None:
    with pytest.raises(ParameterError, match="needs a str"):
        find_text_pii(b"bytes")  # type: ignore[arg-type]


# --- redact_text -------------------------------------------------------------------------


def test_redact_replaces_spans_and_keeps_nulls() -> None:
    values = pa.array(
        ["mail a.b@example.com now", None, "PACK OF 12 RED RETROSPOT", "card 4111111111111111"]
    )
    out = redact_text(values)
    assert out.to_pylist() == [
        "mail [email] now",
        None,
        "PACK OF 12 RED RETROSPOT",
        "card [card_number]",
    ]
    assert out.type == values.type
    assert values.to_pylist()[0] == "mail a.b@example.com now"  # input untouched


def test_redact_template_and_types() -> None:
    values = pa.array(["ip 10.1.2.3"], pa.large_string())
    out = redact_text(values, template="<{kind}>")
    assert out.type == pa.large_string()
    assert out.to_pylist() == ["ip <ip_address>"]
    assert redact_text(values, template="***").to_pylist() == ["ip ***"]
    chunked = pa.chunked_array([["a@b.co"], [None, "x"]])
    assert redact_text(chunked).to_pylist() == ["[email]", None, "x"]


def test_redact_template_with_a_backslash_is_literal() -> None:
    assert redact_text(pa.array(["a@b.co"]), template=r"\1{kind}").to_pylist() == [r"\1email"]


@pytest.mark.parametrize("template", ["{name}", "{", "{0}"])
def test_redact_rejects_bad_templates(template: str) -> None:
    with pytest.raises(ParameterError, match="template"):
        redact_text(pa.array(["x"]), template=template)


def test_redact_rejects_non_strings() -> None:
    with pytest.raises(SchemaError, match="string array"):
        redact_text(pa.array([1, 2]))


# --- properties ---------------------------------------------------------------------------

_filler = st.text(alphabet=string.ascii_lowercase + " ,.!?", max_size=40)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    body = [draw(st.integers(1, 9))] + [draw(st.integers(0, 9)) for _ in range(length - 2)]
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = digit * 2 if position % 2 == 0 else digit
        total += value - 9 if value > 9 else value
    digits = "".join(map(str, [*body, (10 - total % 10) % 10]))
    separator = draw(st.sampled_from(["", " ", "-"]))
    if separator:
        digits = separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return digits


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.from_regex(r"[a-z][a-z0-9._%+-]{0,15}", fullmatch=True))
    domain = draw(
        st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,8}){0,2}\.[a-z]{2,6}", fullmatch=True)
    )
    return f"{local}@{domain}"


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(["GB", "DE", "FR", "NL", "ES"]))
    length = {"GB": 22, "DE": 22, "FR": 27, "NL": 18, "ES": 24}[country]
    bban = draw(st.from_regex(rf"[A-Z0-9]{{{length - 4}}}", fullmatch=True))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    if draw(st.booleans()):
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def _embedded(data: st.DataObject, value: str) -> tuple[str, int]:
    before = data.draw(_filler)
    after = data.draw(_filler)
    prefix = before + " " if before else ""
    return f"{prefix}{value} {after}", len(prefix)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(["card", "email", "iban"]))
def test_embedded_values_are_found_with_exact_offsets(data: st.DataObject, kind: str) -> None:
    strategy = {"card": card_numbers(), "email": emails(), "iban": ibans()}[kind]
    value = data.draw(strategy)
    text, start = _embedded(data, value)
    expected = {"card": Kind.CARD_NUMBER, "email": Kind.EMAIL, "iban": Kind.IBAN}[kind]
    assert TextSpan(start, start + len(value), expected) in find_text_pii(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    values=st.lists(st.one_of(card_numbers(), emails()), min_size=1, max_size=6),
    nulls=st.lists(st.booleans(), min_size=1, max_size=6),
)
def test_redacted_output_never_contains_the_originals(
    data: st.DataObject, values: list[str], nulls: list[bool]
) -> None:
    texts: list[str | None] = []
    for i, value in enumerate(values):
        texts.append(None if nulls[i % len(nulls)] else _embedded(data, value)[0])
    out = redact_text(pa.array(texts, pa.string())).to_pylist()
    assert len(out) == len(texts)
    for original, value, redacted in zip(texts, values, out, strict=True):
        if original is None:
            assert redacted is None
        else:
            assert redacted is not None
            assert value not in redacted


_words = st.sampled_from(
    ["Hi", "John", "Smith", "Dr.", "mail", "x@y.org", "4111 1111 1111 1111", "+44 20 7946 0958",
     "10.0.0.1", "GB82WEST12345698765432", "order", "536365", "Maria", "Garcia", ",", "and",
     "2011-09-30", "Thanks", "RED", "HEART", "\n", "(555) 123-4567"]
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_words, max_size=12).map(" ".join), max_size=8))
def test_redact_matches_find_text_pii(texts: list[str]) -> None:
    """The vectorized path replaces exactly the spans the one-string path finds."""
    expected = []
    for text in texts:
        parts, cursor = [], 0
        for span in find_text_pii(text):
            parts += [text[cursor : span.start], f"[{span.kind.value}]"]
            cursor = span.end
        expected.append("".join(parts) + text[cursor:])
    assert redact_text(pa.array(texts, pa.string())).to_pylist() == expected


@pytest.mark.parametrize(
    "title",
    [
        "Airline Bag Vintage Jet Set Brown",
        "12 Ivory Rose Peg Place Settings",
        "6 Chocolate Love Heart T-Lights",
    ],
)
def test_title_case_labels_hold_no_names(title: str) -> None:
    assert find_text_pii(title) == []
