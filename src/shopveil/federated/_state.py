"""What a client keeps between messages, in Flower's ``Context.state``.

A deployed SuperNode runs each message in a fresh ClientApp process and hands it the
node's ``Context``, whose ``state`` it keeps between messages of a run; anything a
ClientApp keeps in its own memory is gone by the next message. So a client's
secure-aggregation session (its key pair, self-mask seed and the peers' shares it
holds) and its compression residual live here, as arrays. The state stays on the
client's node: the SuperNode never sends it to the server.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil.federated._secagg import MaskingClient

__all__ = ["drop", "load_arrays", "load_session", "save_arrays", "save_session"]

_SESSION = "secagg-session"


def save_arrays(context: Any, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep ``arrays`` under ``name`` in the node's state."""
    with from_extra("fl"):
        from flwr.app import Array, ArrayRecord

    context.state[name] = ArrayRecord(
        {k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()}
    )


def load_arrays(context: Any, name: str) -> dict[str, np.ndarray] | None:
    """The arrays kept under ``name``, or None."""
    if name not in context.state.array_records:
        return None
    return {k: v.numpy() for k, v in context.state.array_records[name].items()}


def drop(context: Any, name: str) -> None:
    """Forget what is kept under ``name`` (nothing if there is none)."""
    if name in context.state:
        del context.state[name]


def save_session(context: Any, session: MaskingClient) -> None:
    """Keep this round's secure-aggregation session."""
    save_arrays(context, _SESSION, session.export())


def load_session(context: Any, *, pop: bool = False) -> MaskingClient:
    """This round's session; ``pop`` forgets it (after the last step of a round)."""
    saved = load_arrays(context, _SESSION)
    if saved is None:
        raise KeyError(
            "no secure-aggregation session on this node: the round's keys step is missing"
        )
    if pop:
        drop(context, _SESSION)
    return MaskingClient.restore(saved)
