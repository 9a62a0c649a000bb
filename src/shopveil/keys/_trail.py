"""What the vault needs from an audit log, as a protocol the log satisfies.

The audit log sits above keys (its hash chain is keyed by this keyring), so keys never
imports it: :class:`shopveil.audit.AuditLog` matches :class:`AuditTrail` by its shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa

from shopveil._core.clock import Clock
from shopveil.store import Store

__all__ = ["AuditRecord", "AuditTrail"]


class AuditRecord(Protocol):
    """An appended event: its position in the chain."""

    @property
    def seq(self) -> int: ...


class AuditTrail(Protocol):
    """Validates events, then appends them, alone or inside the change's transaction.

    ``store`` must be the vault's own store, so a change and its event commit together.
    """

    @property
    def store(self) -> Store:
        """The store the trail writes to."""

    @property
    def clock(self) -> Clock:
        """The clock that stamps events."""

    def check(self, actor: str, action: str, details: Mapping[str, Any] | None = None) -> None:
        """Refuse an event that could not be appended, before the work it records."""
        ...

    def append(
        self, actor: str, action: str, details: Mapping[str, Any] | None = None
    ) -> AuditRecord:
        """Append one event in a transaction of its own."""
        ...

    def append_in(
        self,
        conn: sa.Connection,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one event inside ``conn``'s transaction, committing with the change."""
        ...
