"""API keys checked against the access register at most once per key every ``ttl`` seconds.

Looking a key up in the store costs a round trip on every request. The service keeps
the grant a key opened for ``ttl`` seconds (one second by default), indexed by a hash
of the key, so a revocation made anywhere (``shopveil access revoke`` in another
process) takes effect within ``ttl`` seconds. Unknown and revoked keys are never
cached: they are looked up every time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from shopveil.governance import AccessGrant, AccessRegister

__all__ = ["GrantCache"]


class GrantCache:
    """The grants of recently seen keys, each re-checked after ``ttl`` seconds."""

    def __init__(
        self,
        access: AccessRegister,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access = access
        self.ttl = ttl
        self._clock = clock
        self._grants: dict[bytes, tuple[AccessGrant, float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, key: str) -> AccessGrant | None:
        """The active grant ``key`` opens (as of at most ``ttl`` seconds ago), or None."""
        if not isinstance(key, str):
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        with self._lock:
            found = self._grants.get(digest)
        if found is not None and now - found[1] < self.ttl:
            return found[0]
        grant = self.access.authenticate(key)
        with self._lock:
            if grant is None:
                self._grants.pop(digest, None)
            else:
                if len(self._grants) > 10_000:  # keys come and go: never grow without end
                    self._grants.clear()
                self._grants[digest] = (grant, now)
        return grant
