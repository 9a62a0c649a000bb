"""Hierarchical aggregation: customers' devices → a regional edge → the cloud.

Each region (a country) has an edge aggregator. To the cloud's ServerApp an edge is one
client; to its region's devices (one customer each) it is the server: every round it
forwards the cloud's model and config to its devices, aggregates their updates (with
secure aggregation when the run asks for it, so the edge sees only its region's sum) and
sends the cloud one update for the whole region (masked again among the edges under
secure aggregation, so the cloud sees only the sum over regions).

What an edge forwards is what the flat run would have summed: the devices' weighted mean
update and their count (plain), or the exact integer sum of their clipped, gridded
per-customer updates and counts (DP). So the cloud's model is the flat run's model; DP
noise is added once, by the cloud, to the same sum, and a customer, on one device in one
region, changes that sum by the same sensitivity: the accounting and the one ledger
charge per customer are the flat run's. What changes is the traffic: the cloud receives
one update per region instead of one per device.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil._core.rng import secure_rng
from shopveil.errors import ParameterError
from shopveil.federated._client import client_app
from shopveil.federated._compress import Compression, Compressor, compress, payload_bytes
from shopveil.federated._data import ChurnData, Partition
from shopveil.federated._server import (
    FederatedRun,
    _ask,
    _content,
    _decoded,
    _same,
    _secure_setup,
    _secure_sum,
    _valid,
)
from shopveil.federated._simulate import SimulationResult, simulate
from shopveil.federated._state import load_arrays, load_session, save_arrays

__all__ = ["HierarchyResult", "edge_app", "simulate_hierarchy"]


@dataclasses.dataclass(frozen=True)
class HierarchyResult(SimulationResult):
    """A hierarchical run: ``clients`` are the edges; ``bytes_per_round`` is what the
    cloud receives (edge → cloud), ``device_bytes_per_round`` what the edges receive."""

    devices: int = 0
    device_bytes_per_round: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints."""
        return super().as_dict() | {
            "edges": self.clients,
            "devices": self.devices,
            "device_bytes_per_round": round(self.device_bytes_per_round, 1),
        }


def _setting(config: Any) -> Compression:
    return Compression(
        Compressor(str(config["compress"])), int(config["bits"]), float(config["fraction"])
    )


def _region_round(
    grid: Any, weights: np.ndarray, config: Any, timeout: float | None
) -> tuple[np.ndarray, float, int]:
    """One round over the region's devices: the region's vector, its count, uplink bytes.

    The vector is the integer sum (DP, or plain under secure aggregation: the devices'
    gridded ``n·update`` and ``n``), or the float weighted-mean update (plain).
    """
    dim = len(weights)
    dp, secagg = "clip" in config, bool(config.get("secagg", False))
    run = FederatedRun(rounds=1, secure_aggregation=secagg, timeout=timeout)
    rnd = int(config.get("round", 0))
    nodes = list(grid.get_node_ids())
    joined = nodes
    if secagg:
        joined, secure = _secure_setup(grid, nodes, rnd, run)
    sent = functools.partial(_same, {"weights": weights}, dict(config))
    replies = _ask(grid, joined, "train", sent, rnd, timeout)
    width = dim + 2 if dp else dim + 1
    if secagg:
        total, _, uplink = _secure_sum(grid, replies, joined, secure, width, rnd, run)
        return total, float(total[-1]), uplink
    uplink, parts, counts = 0, [], []
    for reply in replies.values():
        value = (
            _valid(reply, "sum", (width,), np.int64)
            if dp
            else _decoded(reply, _setting(config), dim)
        )
        if value is None:
            continue
        arrays = reply.content.array_records["arrays"]
        uplink += payload_bytes({k: v.numpy() for k, v in arrays.items()})
        parts.append(value)
        counts.append(float(reply.content.metric_records["metrics"]["num-examples"]))
    if dp:
        total = np.sum(parts, axis=0) if parts else np.zeros(width, dtype=np.int64)
        return total.astype(np.int64), float(total[-1]), uplink
    n = float(sum(counts))
    mean = sum(c * p for c, p in zip(counts, parts, strict=True)) / n if n > 0 else np.zeros(dim)
    return np.asarray(mean), n, uplink


def edge_app(
    data: ChurnData, region: np.ndarray, *, seed: int | None = None, tally: list[int] | None = None
) -> Any:
    """The ClientApp of one region's edge, serving ``region`` (row indices) as one device
    per customer; each round's device → edge bytes are appended to ``tally``."""
    with from_extra("fl"):
        from flwr.app import Context, Message, MetricRecord, RecordDict
        from flwr.clientapp import ClientApp

    from shopveil.federated._grid import InProcessGrid

    devices = client_app(data, [region[i : i + 1] for i in range(len(region))], seed=seed)
    grid = InProcessGrid([devices] * len(region))
    # The edge's own part in the cloud's secure aggregation is a client's (its session
    # lives in the edge's Context.state): the query steps go to a client app of no rows.
    protocol = client_app(data, [np.zeros(0, dtype=np.int64)])
    app = ClientApp()
    for step in ("keys", "shares", "hold", "reveal"):
        app.query(step)(protocol)

    @app.train()
    def train(message: Message, context: Context) -> Message:
        config = message.content.config_records["config"]
        weights = message.content.array_records["arrays"]["weights"].numpy()
        vector, n, uplink = _region_round(grid, weights, config, None)
        if tally is not None:
            tally.append(uplink)
        metrics = {"metrics": MetricRecord({"num-examples": n})}
        if bool(config.get("secagg", False)):
            masked = load_session(context).masked(vector.astype(np.int64))
            return Message(RecordDict({"arrays": _arrays({"masked": masked})}), reply_to=message)
        if "clip" in config:
            out = {"sum": vector.astype(np.int64)}
        elif vector.dtype.kind == "f":
            kept = load_arrays(context, "residual")
            residual = kept["residual"] if kept is not None else np.zeros_like(vector)
            rng = secure_rng() if seed is None else np.random.default_rng([seed, int(n)])
            out, residual = compress(vector, residual, _setting(config), rng)
            save_arrays(context, "residual", {"residual": residual})
        else:  # pragma: no cover - the integer form comes only with secure aggregation
            raise ParameterError("a plain region sum without secure aggregation")
        return Message(RecordDict({"arrays": _arrays(out)} | metrics), reply_to=message)

    return app


def _arrays(values: dict[str, np.ndarray]) -> Any:
    record = _content(values)
    return record.array_records["arrays"]


def simulate_hierarchy(
    data: ChurnData,
    run: FederatedRun,
    *,
    how: Partition = Partition.CUSTOMER,
    clients: int | None = None,
    seed: int | None = None,
    **options: Any,
) -> HierarchyResult:
    """:func:`~shopveil.federated._simulate.simulate` with one device per customer, an
    edge per country (``clients`` caps the edges: the smallest countries merge), and the
    cloud over the edges. Takes :func:`simulate`'s keyword options (ledger, subjects …)."""
    if how is not Partition.CUSTOMER:
        raise ParameterError(
            "--hierarchy country puts one customer on each device: use --partition customer"
        )
    tally: list[int] = []
    devices: list[int] = []

    def edges(shards: list[np.ndarray]) -> list[object]:
        devices.append(sum(len(s) for s in shards))
        return [edge_app(data, s, seed=seed, tally=tally) for s in shards]

    build: Callable[[list[np.ndarray]], list[object]] = edges
    flat = simulate(
        data, run, how=Partition.COUNTRY, clients=clients, seed=seed, apps=build, **options
    )
    fields = {f.name: getattr(flat, f.name) for f in dataclasses.fields(SimulationResult)}
    return HierarchyResult(
        **fields, devices=devices[0], device_bytes_per_round=sum(tally) / run.rounds
    )
