"""The policy's free-text and image-column techniques: ``redact_text``, ``redact_faces``."""

from __future__ import annotations

import pyarrow as pa
import pytest

from shopveil._core import Kind
from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError, PolicyError, SchemaError
from shopveil.keys import Keyring
from shopveil.mask import FaceMethod, RedactFaces
from shopveil.policy import parse_policy
from shopveil.pseudo import RedactText, TextAction
from shopveil.vision import RedactionMethod

MESSAGES = [
    "Hi, this is Mr. Hughes, card 4111 1111 1111 1111, mail zed.hughes@example.org",
    None,
    "Mr. Hughes again, call +44 20 7946 0958",
]


def _context(keyring: Keyring | None, purpose: str = "analytics") -> OperatorContext:
    return OperatorContext(purpose=purpose, column="message", keys=keyring)


def test_labels_and_masks_replace_every_span_and_keep_nulls() -> None:
    operator = RedactText(action="label", engine="rules", per_kind={"card_number": "mask"})
    out = operator.apply(pa.array(MESSAGES), _context(None)).to_pylist()
    assert out[0] == "Hi, this is Mr. [person_name], card **** **** **** ****, mail [email]"
    assert out[1] is None and out[2] == "Mr. [person_name] again, call [phone]"


def test_pseudonyms_are_the_same_across_rows_and_batches_and_differ_across_purposes(
    keyring: Keyring,
) -> None:
    operator = RedactText(engine="rules")
    whole = operator.apply(pa.array(MESSAGES), _context(keyring)).to_pylist()
    alone = operator.apply(pa.array(MESSAGES[2:]), _context(keyring)).to_pylist()
    assert alone == whole[2:] and "Hughes" not in str(whole) and "7946" not in str(whole)
    fake = whole[2].split(" again")[0]
    assert fake in whole[0] and fake != "Mr. Hughes"
    other = operator.apply(pa.array(MESSAGES), _context(keyring, "marketing")).to_pylist()
    assert other[0] != whole[0]
    with pytest.raises(Exception, match="keyring"):
        operator.apply(pa.array(MESSAGES), _context(None))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "scramble"}, "action must be one of pseudonym, label, mask"),
        ({"engine": "gpt"}, "engine must be one of rules, model"),
        ({"per_kind": {"gender": "mask"}}, "not found in text"),
        ({"per_kind": {"email": "hide"}}, r"per_kind\['email'\]"),
    ],
)
def test_bad_text_parameters_are_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        RedactText(**params)  # type: ignore[arg-type]


def test_a_text_column_that_is_not_text_is_refused() -> None:
    with pytest.raises(SchemaError, match="not text"):
        RedactText(action=TextAction.LABEL).apply(pa.array([1, 2]), _context(None))


def test_face_methods_are_the_vision_methods_and_bad_ones_are_refused() -> None:
    assert {m.value for m in FaceMethod} == {m.value for m in RedactionMethod}
    with pytest.raises(ParameterError, match="margin"):
        RedactFaces(margin=3)
    with pytest.raises(ParameterError, match="method must be one of"):
        RedactFaces(method="smudge")  # type: ignore[arg-type]


def test_faces_outside_a_file_release_are_refused_naming_the_column() -> None:
    with pytest.raises(PolicyError, match=r"'photo'.*shopveil anonymize"):
        RedactFaces().apply(pa.array(["a.jpg"]), OperatorContext("analytics", "photo"))


def test_the_compiler_scopes_the_pseudonyms_key_like_a_tokens() -> None:
    policy = parse_policy(
        "shopveil_policy: 1\nname: t\nextends: gdpr\ncolumns:\n"
        "  message: {class: sensitive, kind: free_text, technique: redact_text}\n"
        "  photo: {class: sensitive, technique: redact_faces}\n"
    )
    rule = policy.columns["message"].default.for_kind(Kind.FREE_TEXT)
    assert isinstance(rule, RedactText) and rule.domain == "free_text"
    assert isinstance(policy.columns["photo"].default.operator, RedactFaces)
