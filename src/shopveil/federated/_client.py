"""The Flower ClientApp: a store, region or device training a model on its customers.

A client holds the rows of its shard of a task (``node_config["partition-id"]``): the
churn model's :class:`~shopveil.federated._data.ChurnData`, or any model's
:class:`LocalTask` (the recommender's :class:`~shopveil.federated._recsys.FactorTask`);
the messages are the same for every model. Message types:

* ``train``: plain local training (FedAvg / FedProx) → a compressed update and its
  example count; or, with ``dp`` set, per-customer updates, clipped and rounded to the
  grid, summed → an integer ``sum`` plus the count of customers within the clip.
* ``query.keys`` / ``query.shares`` / ``query.reveal``: the secure-aggregation steps
  (:mod:`shopveil.federated._secagg`); with ``secagg`` set, ``train`` sends the masked
  integer vector instead, or, when the message carries a Paillier key ``he-key``, that
  vector encrypted (:mod:`shopveil.federated._homomorphic`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shopveil._core.extras import from_extra
from shopveil._core.rng import secure_rng
from shopveil.errors import ParameterError
from shopveil.federated._compress import Compression, Compressor, compress
from shopveil.federated._data import ChurnData
from shopveil.federated._dp import clip_rows, to_grid
from shopveil.federated._homomorphic import encrypt_vector
from shopveil.federated._model import LocalTraining, local_update, per_customer_updates
from shopveil.federated._secagg import SEALED, MaskingClient
from shopveil.federated._state import load_arrays, load_session, save_arrays, save_session

__all__ = [
    "PLAIN_GRID", "ChurnTask", "LocalTask", "client_app", "decode_keys", "encode_keys",
    "pack_rows", "pack_sealed", "unpack_rows", "unpack_sealed",
]  # fmt: skip

PLAIN_GRID = 1e-7
"""Fixed-point step of plain (non-DP) updates under secure aggregation."""


_LIMB = 66  # bytes of one Shamir share (below 2^521)


def pack_rows(rows: Sequence[tuple[int, ...]]) -> np.ndarray:
    """``(id, share, ...)`` tuples as one uint8 array: 8 bytes of id, 66 per share."""
    data = b"".join(
        r[0].to_bytes(8, "little") + b"".join(v.to_bytes(_LIMB, "big") for v in r[1:]) for r in rows
    )
    return np.frombuffer(data, dtype=np.uint8).copy()


def unpack_rows(array: np.ndarray, values: int = 1) -> list[tuple[int, ...]]:
    """The inverse of :func:`pack_rows` for rows of ``values`` shares."""
    raw = np.asarray(array, dtype=np.uint8).tobytes()
    width = 8 + _LIMB * values
    out = []
    for start in range(0, len(raw), width):
        row = raw[start : start + width]
        shares = (
            int.from_bytes(row[8 + _LIMB * k : 8 + _LIMB * (k + 1)], "big") for k in range(values)
        )
        out.append((int.from_bytes(row[:8], "little"), *shares))
    return out


def pack_sealed(sealed: dict[int, bytes]) -> np.ndarray:
    """Sealed shares by client id as one uint8 array: 8 bytes of id, then the box."""
    data = b"".join(i.to_bytes(8, "little") + box for i, box in sealed.items())
    return np.frombuffer(data, dtype=np.uint8).copy()


def unpack_sealed(array: np.ndarray) -> dict[int, bytes]:
    """The inverse of :func:`pack_sealed`."""
    raw = np.asarray(array, dtype=np.uint8).tobytes()
    width = 8 + SEALED
    rows = (raw[k : k + width] for k in range(0, len(raw), width))
    return {int.from_bytes(r[:8], "little"): r[8:] for r in rows}


def encode_keys(keys: dict[int, bytes]) -> np.ndarray:
    """Public keys as one ``(n, 40)`` uint8 array: 8 bytes of id, then the 32-byte key."""
    ids = np.array(sorted(keys), dtype=np.uint64)  # Flower node ids use all 64 bits
    raw = np.frombuffer(b"".join(keys[i] for i in ids), dtype=np.uint8).reshape(-1, 32)
    return np.concatenate([ids.view(np.uint8).reshape(-1, 8), raw], axis=1)


def decode_keys(array: np.ndarray) -> dict[int, bytes]:
    """The inverse of :func:`encode_keys`."""
    rows = np.asarray(array, dtype=np.uint8).reshape(-1, 40)
    ids = rows[:, :8].copy().view(np.uint64).reshape(-1)
    return {int(i): rows[k, 8:].tobytes() for k, i in enumerate(ids)}


class LocalTask(Protocol):
    """A model's local training on one client's customers (rows of a shared task)."""

    def update(
        self, weights: np.ndarray, index: np.ndarray, training: LocalTraining,
        rng: np.random.Generator,
    ) -> np.ndarray:  # fmt: skip
        """The client's plain update: the change to ``weights`` after local training."""
        ...

    def clipped_sum(
        self, weights: np.ndarray, index: np.ndarray, training: LocalTraining, clip: float,
        step: float,
    ) -> tuple[np.ndarray, int]:  # fmt: skip
        """One update per customer, each clipped to ``clip`` and rounded to multiples of
        ``step`` (int64), summed; and how many were within the clip."""
        ...


@dataclass(frozen=True, eq=False)
class ChurnTask:
    """The churn model's local training (:mod:`shopveil.federated._model`)."""

    data: ChurnData

    def _rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.data.x[index].astype(np.float64), self.data.y[index].astype(np.float64)

    def update(
        self, weights: np.ndarray, index: np.ndarray, training: LocalTraining,
        rng: np.random.Generator,
    ) -> np.ndarray:  # fmt: skip
        """Local SGD (FedAvg, or FedProx with ``mu``)."""
        return local_update(weights, *self._rows(index), training, rng)

    def clipped_sum(
        self, weights: np.ndarray, index: np.ndarray, training: LocalTraining, clip: float,
        step: float,
    ) -> tuple[np.ndarray, int]:  # fmt: skip
        """Per-customer updates, clipped and rounded, summed."""
        clipped, within = clip_rows(
            per_customer_updates(weights, *self._rows(index), training), clip
        )
        return to_grid(clipped, step).sum(axis=0), int(within.sum())


def client_app(
    data: ChurnData | LocalTask, shards: list[np.ndarray], *, seed: int | None = None
) -> Any:
    """A Flower ``ClientApp`` serving ``shards`` of ``data`` (one shard per partition id).

    ``data`` is the churn task, or any model's :class:`LocalTask`.
    """
    local: LocalTask = ChurnTask(data) if isinstance(data, ChurnData) else data
    with from_extra("fl"):
        from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
        from flwr.clientapp import ClientApp

    app = ClientApp()

    def rows(context: Context) -> np.ndarray:
        return shards[int(context.node_config["partition-id"])]

    def arrays(message: Message) -> dict[str, np.ndarray]:
        record = message.content.array_records["arrays"]
        return {k: v.numpy() for k, v in record.items()}

    def reply(message: Message, out: dict[str, np.ndarray], **metrics: float) -> Message:
        content = RecordDict({"arrays": ArrayRecord({k: _array(v) for k, v in out.items()})})
        if metrics:
            content["metrics"] = MetricRecord(dict(metrics))
        return Message(content, reply_to=message)

    @app.train()
    def train(message: Message, context: Context) -> Message:
        config = message.content.config_records["config"]
        weights = arrays(message)["weights"]
        index = rows(context)
        training = LocalTraining(
            epochs=_int(config["epochs"]), batch_size=_int(config["batch-size"]),
            learning_rate=_float(config["learning-rate"]), mu=_float(config["mu"]),
        )  # fmt: skip
        node = context.node_id
        rng = (
            secure_rng()
            if seed is None
            else np.random.default_rng([seed, node, message_round(config)])
        )
        if "clip" in config:
            clip = _float(config["clip"])
            total, within = local.clipped_sum(
                weights, index, training, clip, clip * _float(config["grid"])
            )
            vector = np.concatenate([total, [within, len(index)]])
            return _maybe_masked(message, vector, config, context, reply, count=len(index))
        update = (
            local.update(weights, index, training, rng) if len(index) else np.zeros_like(weights)
        )
        if bool(config.get("secagg", False)):
            vector = np.concatenate([to_grid(update * len(index), PLAIN_GRID), [len(index)]])
            return _maybe_masked(message, vector, config, context, reply, count=len(index))
        setting = Compression(
            Compressor(str(config["compress"])), _int(config["bits"]), _float(config["fraction"])
        )
        if setting.kind is Compressor.NONE:
            payload, _ = compress(update, np.zeros_like(update), setting, rng)
            return reply(message, payload, **{"num-examples": float(len(index))})
        kept = load_arrays(context, "residual")  # error feedback, kept on the node
        residual = kept["residual"] if kept is not None else np.zeros_like(update)
        payload, residual = compress(update, residual, setting, rng)
        save_arrays(context, "residual", {"residual": residual})  # what was left out
        return reply(message, payload, **{"num-examples": float(len(index))})

    @app.query("keys")
    def keys(message: Message, context: Context) -> Message:
        session = MaskingClient(_int(message.content.config_records["config"]["cid"]))
        save_session(context, session)
        public = np.frombuffer(session.public_key(), dtype=np.uint8).copy()
        return reply(message, {"public": public})

    @app.query("shares")
    def shares(message: Message, context: Context) -> Message:
        config = message.content.config_records["config"]
        session = load_session(context)
        made = session.make_shares(decode_keys(arrays(message)["keys"]), _int(config["threshold"]))
        save_session(context, session)
        return reply(message, {"shares": pack_sealed(made)})

    @app.query("hold")
    def hold(message: Message, context: Context) -> Message:
        session = load_session(context)
        for owner, sealed in unpack_sealed(arrays(message)["held"]).items():
            session.keep_shares(owner, sealed)
        save_session(context, session)
        return reply(message, {"ok": np.ones(1, dtype=np.uint8)})

    @app.query("reveal")
    def reveal(message: Message, context: Context) -> Message:
        got = arrays(message)
        session = load_session(context, pop=True)
        answer = session.reveal(set(got["survived"].tolist()), set(got["dropped"].tolist()))
        table = [(owner, value) for owner, (_, value) in answer.items()]
        return reply(message, {"revealed": pack_rows(table)})

    return app


def message_round(config: Any) -> int:
    """The round number a server message carries."""
    return int(config.get("round", 0))


def _array(value: np.ndarray) -> Any:
    with from_extra("fl"):
        from flwr.app import Array

    return Array(np.ascontiguousarray(value))


def _maybe_masked(
    message: Any, vector: np.ndarray, config: Any, context: Any, reply: Any, *, count: int,
) -> Any:  # fmt: skip
    """The integer vector, masked when the round runs secure aggregation (encrypted when
    it runs homomorphic aggregation)."""
    sent = message.content.array_records["arrays"]
    if "he-key" in sent:
        return reply(message, {"encrypted": encrypt_vector(sent["he-key"].numpy(), vector)})
    if bool(config.get("secagg", False)):
        return reply(message, {"masked": load_session(context).masked(vector)})
    return reply(message, {"sum": vector.astype(np.int64)}, **{"num-examples": float(count)})


def _float(value: object) -> float:
    """A number from a message's config record; anything else is a malformed message."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"a config value must be a number, got {type(value).__name__}")
    return float(value)


def _int(value: object) -> int:
    """A whole number from a message's config record."""
    number = _float(value)
    if not number.is_integer():
        raise ParameterError(f"a config value must be a whole number, got {number}")
    return int(number)
