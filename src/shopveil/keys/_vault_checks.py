"""Input checks for the vault: every bad value is refused before anything is written."""

from __future__ import annotations

from collections.abc import Sequence

from shopveil._core.subjects import canonical_id
from shopveil.errors import ParameterError, ShopVeilError
from shopveil.keys._crypto import encode_fields

__all__ = [
    "Refusal",
    "check_subject",
    "check_value",
    "legacy_subject_bytes",
    "sequence",
    "subject_bytes",
]


class Refusal(Exception):
    """A detokenization refused for ``reason`` (audited); the caller gets ``error``."""

    def __init__(self, reason: str, error: ShopVeilError) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


def sequence(items: object, name: str) -> Sequence[object]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ParameterError(
            f"{name} must be a list of items, got {type(items).__name__}; wrap one item in a list"
        )
    return items


def check_value(value: object, where: str) -> bytes:
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise ParameterError(f"{where} is not valid UTF-8; decode it or pass str") from None
        data = value
    elif isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ParameterError(f"{where} holds a lone surrogate and cannot be stored") from None
    else:
        raise ParameterError(f"{where} must be str or UTF-8 bytes, got {type(value).__name__}")
    if not data:
        raise ParameterError(f"{where} is empty; leave empty values out instead of tokenizing them")
    return data


def check_subject(subject_id: object, where: str) -> str | int:
    if isinstance(subject_id, bool) or not isinstance(subject_id, str | int):
        raise ParameterError(f"{where} must be a str or int, got {type(subject_id).__name__}")
    if isinstance(subject_id, str) and not subject_id.strip():
        raise ParameterError(f"{where} is empty; every value needs the id of its subject")
    return subject_id


def subject_bytes(subject_id: object, where: str) -> bytes:
    """The subject's canonical id, encoded for the reference MAC.

    ``17850``, ``"17850"``, ``" 17850"`` and ``"17850.0"`` are one person, so they get
    one reference, one key and one erasure (:func:`shopveil._core.subjects.canonical_id`).
    """
    check_subject(subject_id, where)
    try:
        return encode_fields(canonical_id(subject_id))
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    except UnicodeError:
        raise ParameterError(f"{where} holds a lone surrogate") from None


def legacy_subject_bytes(subject_id: str | int) -> bytes | None:
    """The encoding older versions used (the exact text), or None if it is the canonical one.

    Stores written before ids were canonical may hold a subject under this reference;
    erasure shreds it too.
    """
    try:
        exact = encode_fields(str(subject_id))
        return None if exact == encode_fields(canonical_id(subject_id)) else exact
    except (ParameterError, UnicodeError):
        return None
