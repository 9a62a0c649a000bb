"""An in-process Flower ``Grid``: the ServerApp drives ClientApps in this process.

Flower's own simulation starts a Ray actor pool and keeps every node's state in it; this
grid calls the ClientApp of one node at a time, so a run with thousands of clients needs
the memory of one client at a time plus each node's small :class:`Context`. The same
ServerApp code runs unchanged against Flower's gRPC SuperLink.

A client that raises is logged and gives no reply (a dropout); a client still running
when ``timeout`` has passed is logged and its reply, if any, is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from shopveil._core.extras import from_extra

with from_extra("fl"):
    from flwr.app import Context, Message, RecordDict
    from flwr.serverapp import Grid
    from flwr.supercore.run import Run
    from flwr.supercore.task_identity import TaskIdentity

__all__ = ["InProcessGrid"]

log = logging.getLogger("shopveil.federated")


class InProcessGrid(Grid):
    """Nodes ``1..n``, node ``i`` serving partition ``i - 1`` with ``apps[i - 1]``."""

    def __init__(self, apps: list[Any]) -> None:
        self._apps = apps
        self._contexts = {
            i + 1: Context(1, i + 1, {"partition-id": i}, RecordDict(), {})
            for i in range(len(apps))
        }
        self._run: Run | None = None
        self._replies: dict[str, Message] = {}
        # Messages carry the run and task of the process that makes them; outside a
        # Flower process there is none, so this grid is run 1, task 1, node 0.
        for name, value in (("run_id", 1), ("task_id", 1), ("node_id", 0)):
            if getattr(TaskIdentity, f"_{name}") is None:
                setattr(TaskIdentity, name, value)

    def set_run(self, run: Run) -> None:
        """Set the run (unused in process)."""
        self._run = run

    @property
    def run(self) -> Run:
        """The run set by :meth:`set_run`."""
        assert self._run is not None
        return self._run

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str,
        ttl: float | None = None,
    ) -> Message:  # fmt: skip
        """A message to one node."""
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        """The node ids."""
        return list(self._contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        """Deliver each message now; the ids pull the replies."""
        ids = []
        for k, message in enumerate(messages):
            key = f"{message.metadata.dst_node_id}:{k}:{time.monotonic_ns()}"
            reply = self._call(message, None)
            if reply is not None:
                self._replies[key] = reply
            ids.append(key)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """The replies to pushed messages (each once)."""
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterator[Message]:
        """Each node's reply, those that came within ``timeout`` seconds, one at a time
        (each message is delivered when the caller asks for the next reply).

        Nodes run one after another here, where deployed they run side by side: each gets
        the whole ``timeout``, as each would have the round's time on its own device, so a
        silent node does not use up the others' time.
        """
        for message in messages:
            reply = self._call(message, timeout)
            if reply is not None:
                yield reply

    def _call(self, message: Message, timeout: float | None) -> Message | None:
        node = message.metadata.dst_node_id
        app, context = self._apps[node - 1], self._contexts[node]
        kind = message.metadata.message_type
        if timeout is None:
            try:
                reply: Message = app(message, context)
                return reply
            except Exception as error:
                log.warning("node %s failed on %s (%s): no reply", node, kind, type(error).__name__)
                return None
        box: list[Any] = []

        def target() -> None:
            try:
                box.append(app(message, context))
            except Exception as error:
                log.warning("node %s failed on %s (%s): no reply", node, kind, type(error).__name__)

        worker = threading.Thread(target=target, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive() or not box:
            if worker.is_alive():
                log.warning("node %s timed out on %s after %.1f s: no reply", node, kind, timeout)
            return None
        done: Message = box[0]
        return done
