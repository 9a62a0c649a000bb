"""A real ShopVeil service for tests: ``shopveil serve`` in a subprocess on a free port.

The store is a SQLite file or a fresh PostgreSQL schema; the setup (keys for every role,
a registered dataset, a DP model) goes through the library and the command line, then
the tests talk to the server over HTTP with httpx only.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pyarrow.csv as pacsv
import sqlalchemy as sa

from _stores import fresh_store_url
from shopveil._core.budgets import ApproxDP
from shopveil._workspace import open_workspace
from shopveil.data import bundled_online_retail, product_catalogue
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

MINOR = "M-15"  # a customer of 15 in the people table, with no guardian's consent

BACKENDS = ["sqlite", "postgresql"] if os.environ.get("SHOPVEIL_TEST_PG_URL") else ["sqlite"]
ROLES = ("steward", "analyst", "marketer", "support_agent", "shop_front")
SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Served:
    """A running service: its URL, one key per role, its log file and its store."""

    url: str
    keys: dict[str, str]
    log: Path
    db_url: str
    master_key: str
    orders: Path

    def client(self, role: str | None = None, key: str | None = None) -> httpx.Client:
        """An httpx client on the service, sending ``role``'s key (or ``key``)."""
        key = key if key is not None else (self.keys[role] if role else None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def workspace(self):  # type: ignore[no-untyped-def]
        """The service's workspace, opened beside it (for checks of what it stored)."""
        return open_workspace(self.db_url, master_key=bytes.fromhex(self.master_key))

    def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
        finally:
            engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A store URL: a SQLite file, or a fresh schema of SHOPVEIL_TEST_PG_URL."""
    with fresh_store_url(backend, folder, os.environ.get("SHOPVEIL_TEST_PG_URL")) as url:
        yield url


def write_people(folder: Path, orders: Path) -> Path:
    """The customers' ages the service starts with: every buyer an adult, and MINOR 15."""
    ids = sorted({str(int(c)) for c in pacsv.read_csv(orders).column("CustomerID").to_pylist()
                  if c is not None})  # fmt: skip
    born = date.today().replace(month=1, day=1)
    minor = born.replace(year=born.year - 15).isoformat()  # 15 until next new year
    rows = [f"{c},1980-05-01" for c in ids] + [f"{MINOR},{minor}"]
    people = folder / "people.csv"
    people.write_text("customer_id,birth_date\n" + "\n".join(rows) + "\n")
    return people


def train_model(folder: Path) -> tuple[Path, Path]:
    """A DP co-purchase model on the bundled Online Retail slice, and its orders file."""
    orders = folder / "orders.csv"
    pacsv.write_csv(bundled_online_retail(), orders)
    items = Catalogue.from_table(product_catalogue())
    train, _ = temporal_split(load_interactions(orders, catalogue=items), datetime(2010, 12, 9))
    store = Store.open(f"sqlite:///{folder / 'training-ledger.db'}")
    try:
        ledger = Ledger(store, default_total=ApproxDP(10, 1e-5), people_key=PeopleKey(b"k" * 32))
        config = DPCoPurchase(ApproxDP(1.0, 1e-6))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoSignalWarning)
            fitted = config.fit(train, FitContext(ledger=ledger, dataset="orders"))
    finally:
        store.close()
    model = folder / "recs.npz"
    save_recommender(fitted, model, train=train, config=config, dataset="orders")
    return model, orders


@contextmanager
def serve(
    backend: str, folder: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Start ``shopveil serve`` on ``backend``; stop it (and drop its store) afterwards."""
    model, orders = train_model(folder)
    master = secrets.token_hex(32)
    with database(backend, folder) as url:
        env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "SHOPVEIL_DB_URL": url,
            "SHOPVEIL_MASTER_KEY": master,
            "SHOPVEIL_HOME": str(folder / "home"),
            "XDG_CONFIG_HOME": str(folder / "config"),
            "SHOPVEIL_RATE_LIMIT": "1000",
            "SHOPVEIL_RATE_BURST": "1000",
            "SHOPVEIL_MAX_BODY": "200000",
            **(extra_env or {}),
        }
        keys = {}
        with open_workspace(url, master_key=bytes.fromhex(master), actor="setup") as ws:
            policy = load_policy("gdpr")
            for role in ROLES:
                _, keys[role] = ws.access.grant(role, role, [], policy=policy, actor="setup")
        subprocess.run(
            [sys.executable, "-m", "shopveil", "data", "add", "orders", str(orders),
             "--unit", "CustomerID", "--budget", "3,1e-5"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        port = free_port()
        log = folder / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "shopveil", "serve", "--port", str(port),
                 "--model", str(model), "--people", str(write_people(folder, orders))],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                served = Served(f"http://127.0.0.1:{port}", keys, log, url, master, orders)
                _wait(served, server)
                yield served
            finally:
                server.terminate()
                server.wait(timeout=30)


def _wait(served: Served, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {served.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz within 90 s")
