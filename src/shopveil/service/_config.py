"""The service's settings: a frozen dataclass, read from the environment by ``serve``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shopveil.detect import TextEngine
from shopveil.errors import ParameterError

__all__ = ["ServiceConfig"]


@dataclass(frozen=True)
class ServiceConfig:
    """How the service runs.

    Parameters
    ----------
    db_url
        The store (``SHOPVEIL_DB_URL``); None for the default SQLite file.
    policy
        A preset name or a policy file (``SHOPVEIL_POLICY``): roles, purposes and the law.
    model
        A model file written by ``shopveil train`` (``SHOPVEIL_MODEL``) for
        recommendations; None serves none.
    people
        The customers' table with their id and birth date or age (``SHOPVEIL_PEOPLE``):
        the minors the policy's law leaves out of a purpose are left out of its queries,
        and are not personalized. Without it, where the law leaves unknown ages out
        (GDPR, LGPD, PIPL), no one is personalized and marketing queries hold no one.
    rate_per_second
        Requests per second each key may make on average (``SHOPVEIL_RATE_LIMIT``).
    burst
        Requests a key may make at once above the average.
    max_body_bytes
        The largest request body accepted (``SHOPVEIL_MAX_BODY``); one request carries
        at most 1,000 records, values, tokens or texts whatever its size.
    key_check_seconds
        How long a key's grant is trusted before the store is asked again
        (``SHOPVEIL_KEY_CHECK_SECONDS``): a revoked key is refused within this time.
    text_engine
        How ``/v1/redact`` finds PII (``SHOPVEIL_TEXT_ENGINE``: ``model`` or ``rules``);
        None: with the entity model where the ``text`` extra is installed, else by rules.
    """

    db_url: str | None = None
    policy: str = "gdpr"
    model: Path | None = None
    people: Path | None = None
    rate_per_second: float = 50.0
    burst: int = 100
    max_body_bytes: int = 1_000_000
    key_check_seconds: float = 1.0
    text_engine: TextEngine | None = None

    def __post_init__(self) -> None:
        if self.text_engine is not None and not isinstance(self.text_engine, TextEngine):
            raise ParameterError(
                f"text_engine must be model or rules, got {self.text_engine!r}; "
                "e.g. SHOPVEIL_TEXT_ENGINE=rules"
            )
        if not self.rate_per_second > 0:
            raise ParameterError(
                f"rate_per_second must be > 0, got {self.rate_per_second}; e.g. 50"
            )
        if not 0 <= self.key_check_seconds <= 60:
            raise ParameterError(
                f"key_check_seconds must be in [0, 60], got {self.key_check_seconds}; e.g. 1"
            )
        for name in ("burst", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an integer >= 1, got {value!r}")

    @classmethod
    def from_env(cls) -> ServiceConfig:
        """The settings from ``SHOPVEIL_*`` variables, defaults for the rest."""
        env = os.environ
        model = env.get("SHOPVEIL_MODEL")
        people = env.get("SHOPVEIL_PEOPLE")
        return cls(
            db_url=env.get("SHOPVEIL_DB_URL") or None,
            policy=env.get("SHOPVEIL_POLICY") or "gdpr",
            model=Path(model) if model else None,
            people=Path(people) if people else None,
            rate_per_second=_number(env, "SHOPVEIL_RATE_LIMIT", cls.rate_per_second),
            burst=int(_number(env, "SHOPVEIL_RATE_BURST", cls.burst)),
            max_body_bytes=int(_number(env, "SHOPVEIL_MAX_BODY", cls.max_body_bytes)),
            key_check_seconds=_number(env, "SHOPVEIL_KEY_CHECK_SECONDS", cls.key_check_seconds),
            text_engine=_engine(env.get("SHOPVEIL_TEXT_ENGINE")),
        )


def _engine(text: str | None) -> TextEngine | None:
    if not text:
        return None
    try:
        return TextEngine(text)
    except ValueError:
        raise ParameterError(
            f"SHOPVEIL_TEXT_ENGINE={text!r} is not model or rules; e.g. SHOPVEIL_TEXT_ENGINE=rules"
        ) from None


def _number(env: os._Environ[str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"{name}={text!r} is not a number; e.g. {name}={default:g}") from None
