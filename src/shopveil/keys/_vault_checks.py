"""Input checks for the vault: every bad value is refused before anything is written."""

from __future__ import annotations

from collections.abc import Sequence

from shopveil.errors import ParameterError, ShopVeilError
from shopveil.keys._crypto import encode_fields

__all__ = ["Refusal", "check_subject", "check_value", "sequence", "subject_bytes"]


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


def subject_bytes(subject_id: str | int, where: str) -> bytes:
    try:
        return encode_fields(str(check_subject(subject_id, where)))
    except UnicodeEncodeError:
        raise ParameterError(f"{where} holds a lone surrogate") from None
