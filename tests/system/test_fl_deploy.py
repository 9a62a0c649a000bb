"""``shopveil fl serve`` and five ``shopveil fl join`` processes over gRPC on loopback: a
run with secure aggregation and customer-level DP trains to the end, every client scores
the model, and the ledger is charged once; bad input fails in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

from _retail_files import write_retail

ROOT = Path(__file__).resolve().parents[2]
NODES = 5
runner = CliRunner()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_and_five_joins_train_with_secure_aggregation_and_dp(tmp_path: Path) -> None:
    from shopveil import open_workspace
    from shopveil.learn import CUSTOMER

    env = os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    shopveil = [sys.executable, "-m", "shopveil", "fl"]
    port = _port()
    output = tmp_path / "result.json"
    started = []
    try:
        started.append(subprocess.Popen(
            # One round: each message starts a fresh ClientApp process on each node (a few
            # seconds apiece), and one round already carries a secure-aggregation session
            # across four messages of the node's state.
            [*shopveil, "serve", "--min-clients", str(NODES), "--rounds", "1",
             "--port", str(port), "--secure-aggregation", "--dp-epsilon", "1",
             "--request-id", "fl-run-1", "--round-timeout", "240", "--wait", "300",
             "--output", str(output), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ))  # fmt: skip
        for i in range(NODES):
            data = write_retail(tmp_path / f"store{i}.csv", 50, seed=i, first_id=13000 + 1000 * i)
            started.append(subprocess.Popen(
                [*shopveil, "join", "--server", f"127.0.0.1:{port}", "--data", str(data),
                 "--timeout", "840", "--json"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            ))  # fmt: skip
        said = [p.communicate(timeout=900) for p in started]
    finally:
        for process in started:
            process.kill()
    codes = [p.returncode for p in started]
    assert codes == [0] * (NODES + 1), [e.decode()[-1500:] for _, e in said]
    result = json.loads(said[0][0])
    assert json.loads(output.read_text()) == result
    assert result["nodes"] == NODES and result["rounds"] == 1
    assert result["replies_per_round"] == [NODES] and result["secure_aggregation"]
    nodes = [json.loads(out) for out, _ in said[1:]]
    # Every training customer of every client was charged, once, before round 1.
    assert result["charged_customers"] == sum(n["training_customers"] for n in nodes) > 100
    assert result["epsilon"] == 1.0 and result["noise_multiplier"] > 0
    assert all(n["test_customers"] > 0 for n in nodes)
    workspace = open_workspace()
    try:
        charges = workspace.ledger.history("federated-churn", CUSTOMER)
    finally:
        workspace.close()
    assert [c.request_id for c in charges] == ["fl-run-1"]


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = runner.invoke(app, ["fl", "serve", "--port", str(port), "--rounds", "1"])
    assert result.exit_code == 2
    assert f"--port {port}" in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unreachable_server_is_one_line_and_exit_2(tmp_path: Path) -> None:
    data = write_retail(tmp_path / "store.csv", 30, seed=1)
    result = runner.invoke(
        app, ["fl", "join", "--server", f"127.0.0.1:{_port()}", "--data", str(data), "--wait", "1"]
    )
    assert result.exit_code == 2
    assert "--server" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--data", "missing.csv"], "--data"),
        (["--server", "nowhere", "--data", "{data}"], "--server"),
    ],
)
def test_bad_join_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], named: str) -> None:
    data = write_retail(tmp_path / "store.csv", 30, seed=1)
    args = [a.replace("{data}", str(data)) for a in args]
    server = [] if "--server" in args else ["--server", "127.0.0.1:9"]
    result = runner.invoke(app, ["fl", "join", *server, *args])
    assert result.exit_code == 2
    assert named in result.output and len(result.output.strip().splitlines()) == 1


def test_simulate_through_regional_edges_prints_both_tiers(tmp_path: Path) -> None:
    data = write_retail(tmp_path / "retail.csv", 60, seed=4)
    base = ["fl", "simulate", "--data", str(data), "--rounds", "2", "--json"]
    result = runner.invoke(app, [*base, "--partition", "customer", "--hierarchy", "country"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["edges"] == out["clients"] == 3  # the file's three countries
    assert out["bytes_per_round"] == 3 * 10 * 8  # one float64 update per edge
    assert out["device_bytes_per_round"] == out["devices"] * 10 * 8 > out["bytes_per_round"]
    refused = runner.invoke(app, [*base, "--partition", "country", "--hierarchy", "country"])
    assert refused.exit_code == 2 and "--partition customer" in refused.output
