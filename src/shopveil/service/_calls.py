"""The ``service.call`` event of every request, appended in batches off the request path.

Each request queues its event (the key's name, method, route template and status); a
thread appends what has queued every ``interval`` seconds, in one transaction, so a
request never waits on the audit log's write lock. The operations that touch data
(releases, the vault, consent, erasure, DP charges) are audited by the library itself,
in their own transactions, before they answer; this is the access log beside them. A
crash can lose the last interval's call events; :meth:`CallLog.flush` writes everything
queued at once (the audit endpoint and shutdown call it).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from shopveil.audit import AuditLog

__all__ = ["CallLog"]


class CallLog:
    """Queue ``service.call`` events and append them in batches."""

    def __init__(self, audit: AuditLog, interval: float = 0.2) -> None:
        self.audit = audit
        self.interval = interval
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shopveil-calls", daemon=True)

    def record(self, actor: str, details: dict[str, Any]) -> None:
        """Queue one call's event; it is appended within ``interval`` seconds."""
        self._queue.put((actor, details))

    def flush(self) -> int:
        """Append every queued event now, in one transaction; return how many."""
        with self._lock:
            pending = []
            while True:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if pending:
                with self.audit.store.transaction() as conn:
                    self.audit.append_many_in(
                        conn, [(actor, "service.call", details) for actor, details in pending]
                    )
            return len(pending)

    def start(self) -> None:
        """Start appending in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and append what is still queued."""
        self._stop.set()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()
