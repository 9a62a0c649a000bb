"""``shopveil fl serve`` and ``shopveil fl join``: a real deployment on Flower.

``serve`` starts Flower's SuperLink, submits the churn Flower App to it and waits for the
run; ``join`` starts one SuperNode that trains on the node's own file. The ServerApp
they run is :data:`shopveil._commands._fl_server.server`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shopveil._commands._common import console, translate_errors
from shopveil._commands._fl_options import (
    AdaptiveClip,
    Compress,
    Db,
    DPDelta,
    DPEpsilon,
    Json,
    RequestId,
    SecureAggregation,
    Strategy,
    federated_run,
)
from shopveil._commands.learn import Law, People, Purpose
from shopveil.errors import ParameterError, ShopVeilError

if TYPE_CHECKING:
    pass

__all__ = ["join", "serve"]

_BIN = Path(sys.executable).parent  # Flower's tools sit next to the interpreter
_APP = "shopveil.federated.deploy:client"
_SERVER = "shopveil._commands._fl_server:server"


def _address(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError(f"{option} {value!r} is not HOST:PORT, e.g. 127.0.0.1:9092")
    return host, int(port)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(host: str, port: int, seconds: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=seconds):
            return True
    except OSError:
        return False


@contextmanager
def _process(command: list[object], env: dict[str, str], log: Path) -> Iterator[Any]:
    """A background process in its own process group, logging to ``log``; stopped on exit."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(c) for c in command], env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        # Flower's tools start children of their own (SuperExec, the apps): stop the group.
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def _env(home: Path) -> dict[str, str]:
    return os.environ | {
        "FLWR_HOME": str(home),
        "PATH": f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string


def _app(folder: Path, config: Mapping[str, object]) -> Path:
    """The Flower App that names ShopVeil's components, with ``config`` as its run config."""
    folder.mkdir()
    lines = "\n".join(f"{k} = {_toml(v)}" for k, v in config.items())
    (folder / "pyproject.toml").write_text(f"""[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "shopveil-churn"
version = "1.0.0"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "shopveil"

[tool.flwr.app.components]
serverapp = "{_SERVER}"
clientapp = "{_APP}"

[tool.flwr.app.config]
{lines}
""")
    return folder


def _tail(log: Path, lines: int = 1) -> str:
    text = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return " / ".join(text[-lines:]) if text else "no output"


def _print(result: dict[str, object], json_output: bool) -> None:
    if json_output:
        print(json.dumps(result, allow_nan=False))
        return
    for key, value in result.items():
        console.print(f"{key}: {value}", highlight=False)


@translate_errors
def serve(
    min_clients: Annotated[
        int, typer.Option("--min-clients", min=1, help="Wait for this many clients to join.")
    ] = 2,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 20,
    host: Annotated[
        str, typer.Option("--host", help="Address the clients connect to (plain gRPC, no TLS).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 9092,
    output: Annotated[
        Path | None, typer.Option("--output", help="Also write the result as JSON to this file.")
    ] = None,
    strategy: Strategy = "fedavg",
    dp_epsilon: DPEpsilon = None,
    dp_delta: DPDelta = 1e-6,
    adaptive_clip: AdaptiveClip = False,
    secure_aggregation: SecureAggregation = False,
    compress: Compress = "none",
    round_timeout: Annotated[
        float, typer.Option("--round-timeout", help="Seconds a round waits for a client.")
    ] = 120.0,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for --min-clients to join.")
    ] = 600.0,
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="The ledger's account when no registered dataset holds the clients' customers.",
        ),
    ] = "federated-churn",
    db: Db = None,
    request_id: RequestId = None,
    json_output: Json = False,
    purpose: Purpose = "personalization",
    jurisdiction: Law = None,
    people: People = None,
) -> None:
    """Serve a federated churn run: clients join with shopveil fl join, train, and leave.

    Starts Flower's SuperLink on --host:--port, waits for --min-clients, admits each
    client's customers through the consent register (and, with --dp-epsilon, charges
    each training customer that ε once on the ledger before round 1), trains --rounds
    rounds and prints the result: the clients' held-out AUC, rounds and bytes per
    round. Client traffic is plain gRPC: keep it on a private network.
    """
    with_extra_check()
    run = federated_run(rounds, strategy, dp_epsilon, dp_delta, adaptive_clip,
                         secure_aggregation, compress, round_timeout)  # fmt: skip
    if output is not None and not output.parent.is_dir():
        raise ParameterError(f"--output {output}: the folder {output.parent} does not exist")
    if people is not None and not people.is_file():
        raise ParameterError(f"--people {people}: no such file")
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ParameterError(
                f"--port {port} on {host} is not free ({error.strerror}); stop what holds it "
                "or pick another --port"
            ) from None
    from shopveil.federated.deploy import run_config

    with tempfile.TemporaryDirectory(prefix="shopveil-fl-") as scratch:
        work = Path(scratch)
        result_file = work / "result.json"
        config = run_config(run) | {
            "min-nodes": min_clients, "wait": wait, "output": str(result_file),
            "db": db or "", "dataset": dataset, "purpose": purpose,
            "jurisdiction": jurisdiction or "", "people": str(people.resolve()) if people else "",
            "request-id": request_id or f"fl-{secrets.token_hex(8)}",
        }  # fmt: skip
        home = work / "flwr"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "here"\n\n[superlink.here]\n'
            f'address = "127.0.0.1:{port}"\ninsecure = true\n'
        )
        env = _env(home)
        link_log = work / "superlink.log"
        link = [_BIN / "flower-superlink", "--insecure", "--host", host, "--port", port,
                "--database", work / "link.db"]  # fmt: skip
        with _process(link, env, link_log) as superlink:
            deadline = time.monotonic() + 60
            while not _listening("127.0.0.1" if host == "0.0.0.0" else host, port, 0.5):
                if superlink.poll() is not None or time.monotonic() > deadline:
                    raise ParameterError(f"the server did not start: {_tail(link_log)}")
                time.sleep(0.2)
            budget = wait + rounds * 6 * round_timeout + 120  # 6 steps a round at most
            try:
                submitted = subprocess.run(
                    [str(_BIN / "flwr"), "run", str(_app(work / "app", config)), "here",
                     "--stream"],
                    env=env, capture_output=True, timeout=budget, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise ShopVeilError(f"the run did not end within {budget:g} s") from None
        if not result_file.exists():
            said = (submitted.stdout + submitted.stderr).decode(errors="replace").strip()
            last = said.splitlines()[-1] if said else _tail(link_log)
            raise ShopVeilError(f"the run failed before it wrote a result: {last[:300]}")
        result = json.loads(result_file.read_text())
    if "error" in result:
        raise ParameterError(str(result["error"]))
    if output is not None:
        partial = output.with_name(f".{output.name}.partial")
        partial.write_text(json.dumps(result, allow_nan=False))
        os.replace(partial, output)
    _print(result, json_output)


def with_extra_check() -> None:
    """Fail in one line, before anything starts, without the fl extra."""
    from shopveil._core.extras import from_extra

    with from_extra("fl"):
        import flwr  # noqa: F401


@translate_errors
def join(
    server: Annotated[
        str, typer.Option("--server", help="The server's HOST:PORT (shopveil fl serve).")
    ],
    data: Annotated[
        Path, typer.Option("--data", help="This client's own Online Retail CSV (plain or .gz).")
    ],
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up if the run has not ended by then (s).")
    ] = 3600.0,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for the server to answer.")
    ] = 60.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Join a federated run as one client: train on --data here, send only updates.

    Starts a Flower SuperNode connected to --server. The data never leaves this
    machine; the client keeps 30% of its customers to score the final model on and
    prints that AUC when the run ends.
    """
    with_extra_check()
    from shopveil.data import load_online_retail
    from shopveil.federated import churn_data

    if not data.is_file():
        raise ParameterError(f"--data {data}: no such file")
    if '"' in str(data.resolve()):
        raise ParameterError(f"--data {data}: a path with a double quote cannot be passed on")
    churn_data(load_online_retail(data))  # bad data fails here, before anything connects
    host, port = _address(server, "--server")
    deadline = time.monotonic() + wait
    while not _listening(host, port, 1.0) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not _listening(host, port, 1.0):
        raise ParameterError(
            f"--server {server}: no server answered within {wait:g} s; start one with "
            "shopveil fl serve, or check the address"
        )
    if not 0 < timeout < float("inf"):
        raise ParameterError(f"--timeout must be > 0 seconds, got {timeout}")
    with tempfile.TemporaryDirectory(prefix="shopveil-fl-node-") as scratch:
        work = Path(scratch)
        done = work / "result.json"
        node_log = work / "supernode.log"
        node = [_BIN / "flower-supernode", "--insecure", "--superlink", f"{host}:{port}",
                "--port", _free_port(), "--max-wait-time", 30,
                "--node-config", f'data="{data.resolve()}" result="{done}"']  # fmt: skip
        (work / "flwr").mkdir()
        with _process(node, _env(work / "flwr"), node_log) as supernode:
            deadline = time.monotonic() + timeout
            while not done.exists():
                if supernode.poll() is not None:  # the server went away for 30 s
                    raise ShopVeilError(f"the server stopped answering: {_tail(node_log)}")
                if time.monotonic() > deadline:
                    raise ShopVeilError(f"the run did not end within --timeout {timeout:g} s")
                time.sleep(0.5)
        result = json.loads(done.read_text())
    _print(result, json_output)
