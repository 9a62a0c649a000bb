"""The service under load: ``wrk`` against ``shopveil serve`` on loopback.

A Python load generator saturates a core before the server does, so the load comes from
Debian's ``wrk`` (``scripts/install-system-tools.sh``). The script trains a DP
co-purchase model on the bundled Online Retail slice, grants a shop-front and an analyst
key on a fresh SQLite store, posts a few events for 200 customers, starts
``shopveil serve --workers N`` on a free port, checks one answer of each endpoint, then
runs wrk against:

- ``GET /v1/recommendations/{customer}`` (a random one of the 200 customers per request);
- ``POST /v1/protect`` with 10 generated customer records (analyst, analytics).

For each: requests/s, p50, p99 and errors (non-2xx answers, and socket errors, a request
unanswered after 10 s among them) at 20 and 100 connections, and a sweep over 1-16
connections for the highest rate whose p99 stays under 50 ms (Debian's wrk cannot fix a
request rate; the sweep fixes the concurrency).
Every call is authenticated, rate-limited (the limit is set out of reach here) and
audited, as in production. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_service.py [--workers 2] [--seconds 10] [--out FILE]

Prints one JSON object, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pyarrow.csv as pacsv

from _harness import load_average, machine
from shopveil._core.budgets import ApproxDP
from shopveil._workspace import open_workspace
from shopveil.data import bundled_online_retail, generate_retail, product_catalogue
from shopveil.dp import Ledger, PeopleKey
from shopveil.learn import (
    Catalogue,
    DPCoPurchase,
    FitContext,
    NoSignalWarning,
    load_interactions,
    save_recommender,
    temporal_split,
)
from shopveil.policy import load_policy
from shopveil.store import Store

SRC = Path(__file__).resolve().parents[1] / "src"
# Prints the first answer that is not a 200, so a run with errors says why.
REPORT_ERRORS = """
local reported = false
response = function(status, headers, body)
  if status ~= 200 and not reported then
    reported = true
    io.stderr:write("first error: " .. status .. " " .. body .. "\\n")
  end
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def train(folder: Path) -> tuple[Path, list[str], list[str]]:
    """The model file, 200 customer ids and the catalogue's item ids."""
    orders = folder / "orders.csv"
    pacsv.write_csv(bundled_online_retail(), orders)
    items = Catalogue.from_table(product_catalogue())
    purchases = load_interactions(orders, catalogue=items)
    train_part, _ = temporal_split(purchases, datetime(2010, 12, 9))
    store = Store.open(f"sqlite:///{folder / 'training.db'}")
    try:
        ledger = Ledger(store, default_total=ApproxDP(10, 1e-5), people_key=PeopleKey(b"k" * 32))
        config = DPCoPurchase(ApproxDP(1.0, 1e-6))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoSignalWarning)
            fitted = config.fit(train_part, FitContext(ledger=ledger, dataset="orders"))
    finally:
        store.close()
    model = folder / "recs.npz"
    save_recommender(fitted, model, train=train_part, config=config, dataset="orders")
    customers = [str(c) for c in purchases.user_ids[:200]]
    return model, customers, [str(i) for i in items.item_ids[:50]]


def lua(path: Path, text: str) -> Path:
    path.write_text(text + REPORT_ERRORS)
    return path


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    """One wrk run: requests/s, p50 and p99 in ms, requests and errors."""
    threads = max(1, min(2, connections))
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = done.stdout
    if done.stderr:
        print(done.stderr.strip(), file=sys.stderr)

    def latency(pct: str) -> float:
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert found, out
        return round(float(found.group(1)) * _UNITS[found.group(2)], 2)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    assert rate and total, out
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(g) for g in sockets.groups()) if sockets else 0
    return {
        "connections": connections,
        "requests_per_s": round(float(rate.group(1)), 1),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests": int(total.group(1)),
        "errors": errors,
    }


def serve(env: dict[str, str], port: int, workers: int, model: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "shopveil", "serve", "--port", str(port), "--workers",
         str(workers), "--model", str(model)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the service did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: sudo bash scripts/install-system-tools.sh")
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="shopveil-bench-service-"))
    model, customers, items = train(folder)
    master = secrets.token_hex(32)
    db_url = f"sqlite:///{folder / 'store.db'}"
    with open_workspace(db_url, master_key=bytes.fromhex(master), actor="bench") as ws:
        policy = load_policy("gdpr")
        _, front = ws.access.grant("front", "shop_front", [], policy=policy, actor="bench")
        _, analyst = ws.access.grant("analyst", "analyst", [], policy=policy, actor="bench")
    env = {**os.environ, "PYTHONPATH": str(SRC), "SHOPVEIL_DB_URL": db_url,
           "SHOPVEIL_MASTER_KEY": master, "SHOPVEIL_HOME": str(folder / "home"),
           "XDG_CONFIG_HOME": str(folder / "config"), "SHOPVEIL_RATE_LIMIT": "1e9",
           "SHOPVEIL_RATE_BURST": "1000000000"}  # fmt: skip
    port = int(os.environ.get("BENCH_PORT", "0")) or _free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(env, port, args.workers, model)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {front}"}) as http:
            for i, customer in enumerate(customers):
                events = [{"kind": "basket", "item": items[(i + j) % len(items)]} for j in (0, 7)]
                answer = http.post("/v1/events", json={"customer": customer, "events": events})
                assert answer.json()["stored"] == 2, answer.text
            check = http.get(f"/v1/recommendations/{customers[0]}").json()
            assert check["personalized"] and len(check["items"]) == 10, check
        records = json.loads(
            json.dumps(generate_retail(10, seed=3).tables["customers"].to_pylist(), default=str)
        )
        body = json.dumps({"records": records, "purpose": "analytics"})
        protected = httpx.post(f"{url}/v1/protect", content=body, timeout=30,
                               headers={"Authorization": f"Bearer {analyst}",
                                        "content-type": "application/json"})  # fmt: skip
        assert protected.status_code == 200 and protected.json()["rows_out"] == 10
        assert records[0]["email"] not in protected.text
        body_file = folder / "protect.json"
        body_file.write_text(body)
        ids = ", ".join(json.dumps(c) for c in customers)
        recommend = lua(folder / "recommend.lua", (
            f'wrk.headers["Authorization"] = "Bearer {front}"\n'
            f"local ids = {{{ids}}}\n"
            "request = function()\n"
            '  return wrk.format(nil, "/v1/recommendations/" .. ids[math.random(#ids)])\n'
            "end\n"
        ))  # fmt: skip
        protect = lua(folder / "protect.lua", (
            'wrk.method = "POST"\n'
            f'wrk.headers["Authorization"] = "Bearer {analyst}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'local file = io.open("{body_file}", "rb")\n'
            "wrk.body = file:read(\"*a\")\n"
            "file:close()\n"
        ))  # fmt: skip
        results = {}

        def drain_with(request: Callable[[], httpx.Response]) -> Callable[[], None]:
            # Requests wrk gave up on still run in the server's thread pool; one more
            # request answers only once they are done, so the next run starts idle.
            def drain() -> None:
                assert request().status_code == 200

            return drain

        http = httpx.Client(base_url=url, timeout=600)
        drains = {
            "recommendations": drain_with(
                lambda: http.get(f"/v1/recommendations/{customers[0]}",
                                 headers={"Authorization": f"Bearer {front}"})
            ),
            "protect_10_records": drain_with(
                lambda: http.post("/v1/protect", content=body,
                                  headers={"Authorization": f"Bearer {analyst}",
                                           "content-type": "application/json"})
            ),
        }  # fmt: skip
        runs = (
            ("recommendations", url, recommend),
            ("protect_10_records", f"{url}/v1/protect", protect),
        )
        for name, target, script in runs:
            drain = drains[name]
            run_wrk(target, script, 4, 3)  # warm-up, not kept: every worker's first calls
            drain()
            sweep = []
            for c in (1, 2, 4, 8, 16):
                sweep.append(run_wrk(target, script, c, max(3, args.seconds // 2)))
                drain()
            at = {}
            for c in (20, 100):
                at[c] = run_wrk(target, script, c, args.seconds)
                drain()
            under = [r for r in sweep if r["requests"] and r["p99_ms"] < 50 and not r["errors"]]
            best = max(under, key=lambda r: r["requests_per_s"]) if under else None
            results[name] = {"at_20": at[20], "at_100": at[100], "sweep": sweep,
                             "best_under_50ms_p99": best}  # fmt: skip
        http.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    report = {
        "benchmark": "service",
        "workers": args.workers,
        "seconds": args.seconds,
        "store": "sqlite",
        "results": results,
        "machine": machine(load_before),
    }
    text = json.dumps(report, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
