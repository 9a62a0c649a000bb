"""The churn ServerApp and ClientApp for a real Flower deployment (SuperLink, SuperNodes).

Each SuperNode holds its own Online Retail file (``--node-config 'data="FILE"'``) and
keeps 30% of its customers to score the final model on; the SuperLink runs
:data:`server`, which waits for ``min-nodes`` nodes, trains with
:func:`~shopveil.federated._server.train_on_grid` and asks every node for its held-out
AUC. The Flower App that names them (``[tool.flwr.app.components]``) is
``serverapp = "shopveil.federated._deploy:server"`` and
``clientapp = "shopveil.federated._deploy:client"``; its run config keys are
``rounds``, ``min-nodes``, ``timeout`` and ``output`` (a JSON file for the result).

Plain FedAvg only: a secure-aggregation session and a compression residual live in the
ClientApp's memory between messages, and a SuperNode starts a fresh ClientApp process
per message; keeping them in ``Context.state`` instead is not done yet.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil.data import load_online_retail
from shopveil.federated._client import client_app
from shopveil.federated._data import ChurnData, churn_data
from shopveil.federated._model import auc, predict
from shopveil.federated._server import FederatedRun, _ask, _content, train_on_grid

with from_extra("fl"):
    from flwr.app import Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp

__all__ = ["client", "server"]

log = logging.getLogger("shopveil.federated")

server = ServerApp()
client = ClientApp()
_nodes: dict[str, tuple[ChurnData, Any]] = {}


def _local(context: Context) -> tuple[ChurnData, Any, Context]:
    path = str(context.node_config["data"])
    if path not in _nodes:
        data = churn_data(load_online_retail(path))
        _nodes[path] = (data, client_app(data, [np.flatnonzero(data.train)]))
    data, app = _nodes[path]
    local = Context(
        context.run_id, context.node_id, {"partition-id": 0}, context.state, context.run_config
    )
    return data, app, local


def _delegate(message: Message, context: Context) -> Message:
    _, app, local = _local(context)
    reply: Message = app(message, local)
    return reply


client.train()(_delegate)
for _step in ("keys", "shares", "hold", "reveal"):
    client.query(_step)(_delegate)


@client.evaluate()
def _evaluate(message: Message, context: Context) -> Message:
    data, _, _ = _local(context)
    weights = message.content.array_records["arrays"]["weights"].numpy()
    test = ~data.train
    score = auc(predict(weights, data.x[test].astype(np.float64)), data.y[test])
    metrics = MetricRecord({"auc": score, "num-examples": float(test.sum())})
    return Message(RecordDict({"metrics": metrics}), reply_to=message)


@server.main()
def _main(grid: Grid, context: Context) -> None:
    config = context.run_config
    wanted, timeout = int(config["min-nodes"]), float(config["timeout"])
    deadline = time.monotonic() + timeout
    while len(list(grid.get_node_ids())) < wanted and time.monotonic() < deadline:
        time.sleep(0.5)
    run = FederatedRun(rounds=int(config["rounds"]), timeout=timeout)
    weights, reports = train_on_grid(grid, 10, run)
    nodes = list(grid.get_node_ids())
    replies = _ask(grid, nodes, "evaluate", lambda n: _content({"weights": weights}), 0, timeout)
    scores = [r.content.metric_records["metrics"] for r in replies.values() if not r.has_error()]
    total = sum(float(m["num-examples"]) for m in scores)
    result = {
        "nodes": len(nodes), "rounds": len(reports),
        "replies_per_round": [r.replies for r in reports],
        "auc": sum(float(m["auc"]) * float(m["num-examples"]) for m in scores) / max(total, 1),
        "bytes_per_round": float(np.mean([r.uplink_bytes for r in reports])),
    }  # fmt: skip
    Path(str(config["output"])).write_text(json.dumps(result))
    log.warning("federated run done: %s", result)
