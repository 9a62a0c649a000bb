"""Five SuperNodes and a SuperLink as separate processes over gRPC on loopback: a
federated churn run trains to the end and every node scores the model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

from _retail_files import write_retail

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
SRC = Path(__file__).resolve().parents[2] / "src"
NODES = 5


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started processes, each stopped at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(port: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the SuperLink did not listen on {port} within {seconds} s")


def _start(command: list[object], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A background process whose output goes to ``log``."""
    handle = log.open("wb")
    try:
        return subprocess.Popen(
            [str(c) for c in command], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    finally:
        handle.close()  # the child holds its own copy


def test_five_supernodes_train_over_grpc(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    env = os.environ | {
        "PYTHONPATH": f"{SRC}{os.pathsep}{Path(__file__).resolve().parents[2]}",
        "FLWR_HOME": str(tmp_path / "flwr"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # Flower spawns its tools
    }
    link = _port()  # Flower 1.42 serves the Fleet, Control and Runtime APIs on one port
    app = tmp_path / "app"
    app.mkdir()
    output = tmp_path / "result.json"
    (app / "pyproject.toml").write_text(f"""
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "churn"
version = "1.0.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "shopveil"

[tool.flwr.app.components]
serverapp = "shopveil.federated._deploy:server"
clientapp = "shopveil.federated._deploy:client"

[tool.flwr.app.config]
rounds = 3
min-nodes = {NODES}
timeout = 120.0
output = "{output}"
""")
    (tmp_path / "flwr").mkdir()
    (tmp_path / "flwr" / "config.toml").write_text(f"""
[superlink]
default = "loopback"

[superlink.loopback]
address = "127.0.0.1:{link}"
insecure = true
""")
    processes.append(_start(
        [BIN / "flower-superlink", "--insecure", "--port", link,
         "--database", tmp_path / "link.db"],
        env, tmp_path / "superlink.log",
    ))  # fmt: skip
    _wait_for(link)  # SuperNodes that find no SuperLink back off for up to 30 s
    for i in range(NODES):
        data = write_retail(tmp_path / f"store{i}.csv", 60, seed=i, first_id=13000 + 1000 * i)
        processes.append(_start(
            [BIN / "flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{link}",
             "--port", str(_port()), "--node-config", f'data="{data}"'],
            env, tmp_path / f"node{i}.log",
        ))  # fmt: skip
    submitted = subprocess.run(
        [BIN / "flwr", "run", str(app), "loopback", "--stream"],
        env=env, capture_output=True, timeout=400, check=False,
    )  # fmt: skip
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log"))
    assert output.exists(), (
        submitted.stdout.decode()[-3000:] + submitted.stderr.decode()[-2000:] + logs
    )
    result = json.loads(output.read_text())
    assert result["nodes"] == NODES
    assert result["rounds"] == 3
    assert result["replies_per_round"] == [NODES] * 3
    assert result["auc"] > 0.6
