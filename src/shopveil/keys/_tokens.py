"""Vault token format: ``vt<version>_<24 random base64url characters>``.

The random part comes from :mod:`secrets` (144 bits) and says nothing about the value;
the version is the vault key version the token was issued under.
"""

from __future__ import annotations

import re
import secrets

from shopveil.errors import ParameterError

__all__ = ["TOKEN_PREFIX", "is_token", "new_token", "parse_token"]

TOKEN_PREFIX = "vt"
_RANDOM_BYTES = 18
_TOKEN_RE = re.compile(r"vt([1-9][0-9]{0,8})_[A-Za-z0-9_-]{24}")


def new_token(version: int) -> str:
    return f"{TOKEN_PREFIX}{version}_{secrets.token_urlsafe(_RANDOM_BYTES)}"


def is_token(text: object) -> bool:
    """Whether ``text`` has the form of a vault token."""
    return isinstance(text, str) and _TOKEN_RE.fullmatch(text) is not None


def parse_token(text: object, where: str) -> int:
    """The key version a token names; :class:`ParameterError` if it is not a vault token."""
    match = _TOKEN_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        shown = f"a {type(text).__name__}" if not isinstance(text, str) else f"{len(text)} chars"
        raise ParameterError(
            f"{where} is not a vault token ({shown}); expected vt<version>_ followed by "
            "24 base64url characters, as returned by Vault.tokenize"
        )
    return int(match.group(1))
