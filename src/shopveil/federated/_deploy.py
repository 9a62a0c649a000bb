"""The churn ServerApp and ClientApp for a real Flower deployment (SuperLink, SuperNodes).

Each SuperNode holds its own Online Retail file (``--node-config 'data="FILE"'``) and
keeps 30% of its customers to score the final model on. A SuperNode runs every message
in a fresh ClientApp process, so nothing a node needs between messages lives in memory:
its features, labels and split, its secure-aggregation session and its compression
residual are kept in the node's ``Context.state`` (:mod:`shopveil.federated._state`),
which the SuperNode keeps for the run and never sends to the server.

The ServerApp (:func:`deployment_server`) waits for ``min-nodes`` nodes, admits their
customers when it has an ``admit`` hook (the consent register and, for a DP run, one
charge on the people ledger before round 1: ``shopveil fl serve``), trains with
:func:`~shopveil.federated._server.train_on_grid` and asks every node for its held-out
AUC. Run config keys: see :func:`run_config`. :data:`server` (no hook: plain runs only)
and :data:`client` are the components a Flower App names
(``shopveil.federated.deploy:server`` / ``:client``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP
from shopveil._core.extras import from_extra
from shopveil.data import load_online_retail
from shopveil.errors import ParameterError, ShopVeilError
from shopveil.federated._client import client_app
from shopveil.federated._compress import Compression, Compressor
from shopveil.federated._data import ChurnData, churn_data
from shopveil.federated._dp import ClipMode, DPFedAvgConfig, noise_multiplier
from shopveil.federated._model import LocalTraining, auc, predict
from shopveil.federated._server import FederatedRun, _ask, _content, train_on_grid
from shopveil.federated._state import load_arrays, save_arrays

with from_extra("fl"):
    from flwr.app import Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp

__all__ = ["Admit", "client", "deployment_server", "run_config", "run_from_config", "server"]

log = logging.getLogger("shopveil.federated")

Admit = Callable[[dict[str, Any], list[str], np.ndarray], tuple[np.ndarray, dict[str, Any]]]
"""``(run config, customer ids, is-training mask) -> (keep mask, result fields)``: whom the
run may use, after the consent register and (DP) the one ledger charge."""

_TRAIN, _TEST, _LEFT_OUT = 1, 0, -1
_NODE = "node-data"


def run_config(run: FederatedRun) -> dict[str, bool | int | float | str]:
    """The Flower run config that carries ``run`` to the ServerApp."""
    t, dp = run.training, run.dp
    return {
        "rounds": run.rounds, "timeout": run.timeout or 120.0,
        "epochs": t.epochs, "batch-size": t.batch_size, "learning-rate": t.learning_rate,
        "mu": t.mu, "secure-aggregation": run.secure_aggregation,
        "compress": run.compression.kind.value, "bits": run.compression.bits,
        "fraction": run.compression.fraction,
        "dp-epsilon": dp.budget.epsilon if dp is not None else 0.0,
        "dp-delta": dp.budget.delta if dp is not None else 0.0,
        "adaptive-clip": dp is not None and dp.mode is ClipMode.ADAPTIVE,
    }  # fmt: skip


def run_from_config(config: dict[str, Any]) -> FederatedRun:
    """The :class:`FederatedRun` that :func:`run_config` wrote."""
    dp = None
    if float(config.get("dp-epsilon", 0.0)) > 0:
        mode = ClipMode.ADAPTIVE if bool(config["adaptive-clip"]) else ClipMode.FIXED
        dp = DPFedAvgConfig(
            ApproxDP(float(config["dp-epsilon"]), float(config["dp-delta"])), mode=mode
        )
    return FederatedRun(
        rounds=int(config["rounds"]),
        training=LocalTraining(
            epochs=int(config.get("epochs", 1)),
            batch_size=int(config.get("batch-size", 32)),
            learning_rate=float(config.get("learning-rate", 0.5)),
            mu=float(config.get("mu", 0)),
        ),
        dp=dp,
        secure_aggregation=bool(config.get("secure-aggregation", False)),
        compression=Compression(
            Compressor(str(config.get("compress", "none"))),
            int(config.get("bits", 8)),
            float(config.get("fraction", 0.25)),
        ),
        timeout=float(config["timeout"]),
    )


# --- the node ----------------------------------------------------------------------------


def _node_data(context: Context) -> tuple[ChurnData, np.ndarray]:
    """The node's churn task and each customer's role (train, test, left out).

    Read from the node's file once; later messages (fresh processes) read the state.
    """
    kept = load_arrays(context, _NODE)
    if kept is None:
        data = churn_data(load_online_retail(str(context.node_config["data"])))
        role = np.where(data.train, _TRAIN, _TEST).astype(np.int8)
        raw = "\n".join(data.customers).encode()
        kept = {"x": data.x, "y": data.y, "role": role, "ids": np.frombuffer(raw, np.uint8)}
        save_arrays(context, _NODE, kept)
    role = kept["role"]
    ids = tuple(kept["ids"].tobytes().decode().split("\n"))
    data = ChurnData(ids, kept["x"], kept["y"], ("",) * len(ids), role == _TRAIN, kept["x"])
    return data, role


def _delegate(message: Message, context: Context) -> Message:
    data, role = _node_data(context)
    app = client_app(data, [np.flatnonzero(role == _TRAIN)])
    # The node's one shard is partition 0; the state is the node's own (shared, not copied).
    local = Context(
        context.run_id, context.node_id, {"partition-id": 0}, context.state, context.run_config
    )
    reply: Message = app(message, local)
    return reply


def _reply(message: Message, arrays: dict[str, np.ndarray]) -> Message:
    return Message(_content(arrays), reply_to=message)


client = ClientApp()
client.train()(_delegate)
for _step in ("keys", "shares", "hold", "reveal"):
    client.query(_step)(_delegate)


@client.query("enroll")
def _enroll(message: Message, context: Context) -> Message:
    """The node's customer ids and which of them train (for consent and the ledger)."""
    data, role = _node_data(context)
    ids = np.frombuffer("\n".join(data.customers).encode(), np.uint8)
    return _reply(message, {"ids": ids, "train": (role == _TRAIN).astype(np.uint8)})


@client.query("admit")
def _admit(message: Message, context: Context) -> Message:
    """Leave out the customers the server's ``keep`` mask drops, from training and test."""
    _, role = _node_data(context)
    keep = message.content.array_records["arrays"]["keep"].numpy().astype(bool)
    if keep.shape != role.shape:
        raise ParameterError(f"admit: {keep.size} flags for {role.size} customers")
    saved = load_arrays(context, _NODE)
    assert saved is not None
    save_arrays(context, _NODE, saved | {"role": np.where(keep, role, _LEFT_OUT).astype(np.int8)})
    return _reply(message, {"kept": np.array([int(keep.sum())], dtype=np.int64)})


@client.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    data, role = _node_data(context)
    weights = message.content.array_records["arrays"]["weights"].numpy()
    test = role == _TEST
    score = auc(predict(weights, data.x[test].astype(np.float64)), data.y[test])
    result = {"auc": score if math.isfinite(score) else None, "test_customers": int(test.sum()),
              "training_customers": int((role == _TRAIN).sum()),
              "left_out": int((role == _LEFT_OUT).sum())}  # fmt: skip
    if "result" in context.node_config:  # the node's own record that the run ended
        _write_json(Path(str(context.node_config["result"])), result)
    metrics = MetricRecord({"auc": score, "num-examples": float(test.sum())})
    return Message(RecordDict({"metrics": metrics}), reply_to=message)


# --- the server --------------------------------------------------------------------------


class _Polling:
    """A Grid's nodes (all, or the admitted ones) with replies polled every 0.2 s
    (Flower's own ``send_and_receive`` sleeps 3 s between polls)."""

    def __init__(self, grid: Grid, nodes: list[int] | None = None) -> None:
        self._grid, self.nodes = grid, nodes

    def get_node_ids(self) -> list[int]:
        return list(self.nodes if self.nodes is not None else self._grid.get_node_ids())

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> list[Message]:
        # Flower's grid reads the messages more than once: a generator would push none.
        waiting = set(self._grid.push_messages(list(messages)))
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        replies: list[Message] = []
        while waiting and time.monotonic() < deadline:
            got = list(self._grid.pull_messages(waiting))
            replies += got
            waiting -= {m.metadata.reply_to_message_id for m in got}
            if waiting:
                time.sleep(0.2)
        return replies


def _admit_nodes(
    grid: _Polling, nodes: list[int], config: dict[str, Any], admit: Admit, timeout: float
) -> tuple[list[int], dict[str, Any]]:
    """Ask each node for its customers, let ``admit`` decide, tell each node whom it keeps."""
    replies = _ask(grid, nodes, "query.enroll", lambda n: _content({}), 0, timeout)
    enrolled: dict[int, tuple[list[str], np.ndarray]] = {}
    for node, reply in replies.items():
        if reply.has_error():
            log.warning("node %s did not enrol: it takes no part", node)
            continue
        arrays = reply.content.array_records["arrays"]
        ids = arrays["ids"].numpy().tobytes().decode().split("\n")
        train = arrays["train"].numpy().astype(bool)
        if len(ids) == len(train):
            enrolled[node] = (ids, train)
    if not enrolled:
        raise ParameterError("no node enrolled its customers: nothing to train on")
    order = sorted(enrolled)
    ids = [c for n in order for c in enrolled[n][0]]
    keep, fields = admit(config, ids, np.concatenate([enrolled[n][1] for n in order]))
    bounds = np.cumsum([0] + [len(enrolled[n][0]) for n in order])
    masks = {n: keep[bounds[k] : bounds[k + 1]] for k, n in enumerate(order)}
    told = [n for n in order if not masks[n].all()]
    answers = _ask(
        grid, told, "query.admit", lambda n: _content({"keep": masks[n].astype(np.uint8)}), 0,
        timeout,
    )  # fmt: skip
    # A node that was told to leave customers out and did not confirm takes no part.
    admitted = [n for n in order if n not in told or (n in answers and not answers[n].has_error())]
    return admitted, fields


def _serve(grid: Grid, context: Context, admit: Admit | None) -> dict[str, Any]:
    config = dict(context.run_config)
    run = run_from_config(config)
    timeout = float(config["timeout"])
    wanted, wait = int(config["min-nodes"]), float(config.get("wait", timeout))
    deadline = time.monotonic() + wait
    while len(list(grid.get_node_ids())) < wanted and time.monotonic() < deadline:
        time.sleep(0.5)
    polling = _Polling(grid)
    nodes = sorted(polling.get_node_ids())
    if len(nodes) < wanted:
        raise ParameterError(f"{len(nodes)} of --min-clients {wanted} joined within {wait:g} s")
    fields: dict[str, Any] = {}
    if admit is not None:
        nodes, fields = _admit_nodes(polling, nodes, config, admit, timeout)
    elif run.dp is not None:
        raise ParameterError("a DP run charges the people ledger: start it with shopveil fl serve")
    if run.dp is not None:
        budget = run.dp.budget
        noise = noise_multiplier(budget, run.rounds, adaptive=run.dp.mode is ClipMode.ADAPTIVE)
        run = dataclasses.replace(run, noise=noise)
        fields |= {"epsilon": budget.epsilon, "delta": budget.delta, "noise_multiplier": noise}
    polling.nodes = nodes
    weights, reports = train_on_grid(polling, int(config.get("dim", 10)), run)
    replies = _ask(polling, nodes, "evaluate", lambda n: _content({"weights": weights}), 0, timeout)
    scores = [r.content.metric_records["metrics"] for r in replies.values() if not r.has_error()]
    scored = [m for m in scores if math.isfinite(float(m["auc"]))]
    total = sum(float(m["num-examples"]) for m in scored)
    weighted = sum(float(m["auc"]) * float(m["num-examples"]) for m in scored) / max(total, 1)
    return {
        "nodes": len(nodes), "rounds": len(reports),
        "replies_per_round": [r.replies for r in reports],
        "rejected_updates": sum(r.rejected for r in reports),
        "auc": round(weighted, 4) if scored else None,
        "bytes_per_round": float(np.mean([r.uplink_bytes for r in reports])),
        "secure_aggregation": run.secure_aggregation,
    } | fields  # fmt: skip


def deployment_server(admit: Admit | None = None) -> ServerApp:
    """The ServerApp; ``admit`` applies consent and charges the ledger (None: plain runs only).

    The result (or ``{"error": ...}`` on bad input) is written as JSON to the run
    config's ``output``.
    """
    app = ServerApp()

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        output = Path(str(context.run_config["output"]))
        try:
            result = _serve(grid, context, admit)
        except ShopVeilError as error:
            _write_json(output, {"error": str(error)})
            raise
        _write_json(output, result)
        log.warning("federated run done: %s", result)

    return app


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """``value`` as JSON at ``path``, whole or not at all."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(value, allow_nan=False))
    os.replace(partial, path)


server = deployment_server()
