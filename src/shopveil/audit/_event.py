"""One audit event and its canonical encoding."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shopveil.errors import ParameterError

__all__ = ["GENESIS_HASH", "AuditEvent", "canonical_json", "check_action", "check_actor", "iso_utc"]

GENESIS_HASH = "0" * 64
_ACTION_RE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit log.

    Attributes
    ----------
    seq
        Position in the chain, from 1, without gaps.
    at
        When it was appended (UTC), from the log's clock.
    details
        JSON-able facts about the action (counts, names, parameters); never raw PII.
    prev_hash, hash
        The chain: ``hash`` is an HMAC over this event and ``prev_hash``.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    details: Mapping[str, Any] = field(hash=False)
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy, ``at`` as ISO 8601 text."""
        return {
            "seq": self.seq,
            "at": iso_utc(self.at),
            "actor": self.actor,
            "action": self.action,
            "details": json.loads(canonical_json(self.details)),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def iso_utc(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds; refuses a naive datetime (its zone is unknown)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ParameterError(
            f"the clock returned a naive datetime ({at.isoformat()}); "
            "give it a time zone, e.g. datetime(..., tzinfo=UTC)"
        )
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(details: Mapping[str, Any] | None) -> str:
    """Sorted keys, no spaces, no NaN: the same details always encode to the same text."""
    if details is None:
        details = {}
    if not isinstance(details, Mapping):
        raise ParameterError(
            f"details must be a mapping of JSON-able values, got {type(details).__name__}"
        )
    _check_json(details, "details")
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 200:
        raise ParameterError(
            f"actor must be a non-empty string of at most 200 characters, got {actor!r:.60}"
        )
    if _CONTROL_RE.search(actor):
        raise ParameterError("actor must not contain control characters (newlines, tabs, ...)")
    return actor


def check_action(action: object) -> str:
    """``action``, or :class:`ParameterError` when the log would refuse it as a name."""
    if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
        raise ParameterError(
            f"action must be 1-100 characters of letters, digits and . _ : -, "
            f"e.g. 'anonymize.run'; got {action!r:.60}"
        )
    return action


def _check_json(value: object, where: str) -> None:
    # json.dumps would accept tuples, NaN and non-str keys and change them on the way
    # back; refuse them so an event reads back exactly as it was written.
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParameterError(f"{where} is {value}; audit details must be finite numbers")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ParameterError(f"{where} has a non-string key {key!r:.40}; use str keys")
            _check_json(item, f"{where}[{key!r}]")
        return
    raise ParameterError(
        f"{where} is a {type(value).__name__}, which is not JSON; use str, int, float, "
        "bool, None, list or dict"
    )
