"""Who may call the service: named API keys, each bound to one role of the policy.

A key is shown once, when it is granted; the store keeps only an HMAC of it under a key
of the workspace's keyring (``access.api-key``), so a reader of the database can neither
use a key nor test a guessed one. Each grant names a role of the policy and the purposes
it may act for (a subset of the role's); :data:`ROLE_ACTIONS` says which service actions
each role may take. Grants and revocations are audited with names only.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.errors import ParameterError
from shopveil.keys import Keyring
from shopveil.policy import Policy
from shopveil.store import Store, access_keys

__all__ = ["ROLE_ACTIONS", "AccessGrant", "AccessRegister", "Action"]

KEY_COMPONENT = "access.api-key"
KEY_PREFIX = "svk_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class Action(StrEnum):
    """What a caller of the service may ask for."""

    PROTECT = "protect"
    PSEUDONYMIZE = "pseudonymize"
    DETOKENIZE = "detokenize"
    REDACT = "redact"
    QUERY = "query"
    BUDGETS = "budgets"
    CONSENT_READ = "consent.read"
    CONSENT_WRITE = "consent.write"
    SUBJECT_EXPORT = "subject.export"
    SUBJECT_ERASE = "subject.erase"
    EVENTS = "events"
    RECOMMEND = "recommend"
    AUDIT = "audit"


_A = Action
ROLE_ACTIONS: Mapping[str, frozenset[Action]] = MappingProxyType(
    {
        # The data protection officer: budgets, subject rights, consent and the audit log.
        "steward": frozenset(
            {
                _A.PROTECT,
                _A.REDACT,
                _A.QUERY,
                _A.BUDGETS,
                _A.CONSENT_READ,
                _A.CONSENT_WRITE,
                _A.SUBJECT_EXPORT,
                _A.SUBJECT_ERASE,
                _A.AUDIT,
            }
        ),
        "analyst": frozenset({_A.PROTECT, _A.REDACT, _A.QUERY, _A.BUDGETS}),
        "marketer": frozenset({_A.PROTECT, _A.REDACT}),
        # Customer service re-identifies for the customer's own contract, audited.
        "support_agent": frozenset(
            {_A.PROTECT, _A.REDACT, _A.PSEUDONYMIZE, _A.DETOKENIZE, _A.CONSENT_READ}
        ),
        # The shop's own systems: events in, recommendations out, the cookie banner's choices.
        "shop_front": frozenset(
            {_A.EVENTS, _A.RECOMMEND, _A.CONSENT_READ, _A.CONSENT_WRITE, _A.PSEUDONYMIZE}
        ),
    }
)
"""Role name → the service actions it may take. A role of the policy not listed here
may take none, and cannot be granted a key."""


@dataclass(frozen=True)
class AccessGrant:
    """One named API key: its role and purposes (never the key itself)."""

    name: str
    role: str
    purposes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the key still opens the service."""
        return self.revoked_at is None

    def may(self, action: Action) -> bool:
        """Whether this grant's role may take ``action``."""
        return action in ROLE_ACTIONS.get(self.role, frozenset())

    def as_dict(self) -> dict[str, object]:
        """The grant as plain JSON-ready values."""
        return {
            "name": self.name,
            "role": self.role,
            "purposes": list(self.purposes),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


class AccessRegister:
    """The service's API keys, on the workspace's store.

    Parameters
    ----------
    store, keyring, audit
        One store for all three, so each grant commits with its audit event.
    """

    def __init__(self, store: Store, keyring: Keyring, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit
        self._key = keyring.system_key(KEY_COMPONENT)

    def grant(
        self, name: str, role: str, purposes: Sequence[str], *, policy: Policy, actor: str
    ) -> tuple[AccessGrant, str]:
        """A new key named ``name`` for ``role``: the grant and the key, shown only now.

        ``purposes`` must be purposes the policy lets ``role`` act for; empty means all
        of them. A name in use by an active key is refused (revoke it first).
        """
        name = _check_name(name)
        purposes = _check_purposes(role, purposes, policy)
        self.audit.check(actor, "access.grant")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        at = self.audit.clock.now().isoformat()
        values = {
            "role": role,
            "purposes": json.dumps(list(purposes)),
            "key_hash": self._hash(key),
            "created_at": at,
            "revoked_at": None,
        }
        t = access_keys
        with self.store.transaction() as conn:
            found = conn.execute(sa.select(t.c.revoked_at).where(t.c.name == name)).first()
            if found is not None and found.revoked_at is None:
                raise ParameterError(
                    f"an active key is named {name!r}; revoke it first "
                    f"(shopveil access revoke {name}) or choose another name"
                )
            if found is None:
                conn.execute(sa.insert(t).values(name=name, **values))
            else:
                conn.execute(sa.update(t).where(t.c.name == name).values(**values))
            self.audit.append_in(
                conn,
                actor,
                "access.grant",
                {"name": name, "role": role, "purposes": list(purposes)},
            )
        return AccessGrant(name, role, purposes, at), key

    def revoke(self, name: str, *, actor: str) -> AccessGrant:
        """End the key named ``name`` for good; an unknown or revoked name is refused."""
        self.audit.check(actor, "access.revoke")
        t = access_keys
        at = self.audit.clock.now().isoformat()
        with self.store.transaction() as conn:
            row = conn.execute(sa.select(t).where(t.c.name == name)).first()
            if row is None or row.revoked_at is not None:
                active = ", ".join(g.name for g in self.grants() if g.active) or "none"
                raise ParameterError(f"no active key is named {name!r} (active: {active})")
            conn.execute(sa.update(t).where(t.c.name == name).values(revoked_at=at))
            self.audit.append_in(conn, actor, "access.revoke", {"name": name})
        return AccessGrant(row.name, row.role, tuple(json.loads(row.purposes)), row.created_at, at)

    def grants(self) -> list[AccessGrant]:
        """Every key ever granted, by name, revoked ones included."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(access_keys).order_by(access_keys.c.name)).all()
        return [_grant(row) for row in rows]

    def authenticate(self, key: str) -> AccessGrant | None:
        """The active grant ``key`` opens, or None (unknown, malformed or revoked)."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        t = access_keys
        query = sa.select(t).where(t.c.key_hash == self._hash(key), t.c.revoked_at.is_(None))
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        return _grant(row) if row is not None else None

    def _hash(self, key: str) -> str:
        return hmac.digest(self._key, key.encode("utf-8"), "sha256").hex()


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ParameterError(
            f"key name {str(name)[:40]!r} must be 1-100 letters, digits and . _ -, starting "
            "with a letter or digit; e.g. shop-front-eu"
        )
    return name


def _check_purposes(role: str, purposes: Sequence[str], policy: Policy) -> tuple[str, ...]:
    grantable = sorted(r for r in policy.roles if r in ROLE_ACTIONS)
    if role not in policy.roles or role not in ROLE_ACTIONS:
        raise ParameterError(
            f"role {role!r} cannot be granted a key under policy {policy.name!r}; use one of "
            f"{', '.join(grantable)}"
        )
    allowed = policy.roles[role].purposes
    wrong = [p for p in purposes if p not in allowed]
    if wrong:
        raise ParameterError(
            f"role {role!r} may not act for purpose {wrong[0]!r}; its purposes are "
            f"{', '.join(sorted(allowed))}"
        )
    return tuple(sorted(set(purposes) or allowed))


def _grant(row: sa.Row[tuple[object, ...]]) -> AccessGrant:
    return AccessGrant(
        name=str(row.name),
        role=str(row.role),
        purposes=tuple(json.loads(str(row.purposes))),
        created_at=str(row.created_at),
        revoked_at=None if row.revoked_at is None else str(row.revoked_at),
    )
