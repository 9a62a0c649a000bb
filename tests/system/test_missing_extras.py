"""Without an optional extra, a command says which extra to install, in one line, exit 2.

Each test runs ShopVeil in a fresh interpreter whose import system finds the blocked
packages nowhere, as on a core install (``pip install shopveil``) without the extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

import shopveil
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.store import Store

# The checkout under test, whatever the working folder of the child.
SRC = Path(shopveil.__file__).resolve().parents[1]

ABSENT = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv.pop(1).split(","))


    class Absent:
        # Finds the blocked packages nowhere, as if they were not installed.
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Absent())
    """
)
RUN_CLI = ABSENT + "import runpy\nrunpy.run_module('shopveil', run_name='__main__')\n"


def _without(blocked: str, code: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "SHOPVEIL_HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PYTHONPATH": str(SRC),
    }
    env.pop("SHOPVEIL_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code, blocked, *args],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=home,
    )  # fmt: skip


def _one_line_naming(done: subprocess.CompletedProcess[str], package: str, extra: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"error: {package} is not installed; it comes with the {extra} extra: "
        f"pip install 'shopveil[{extra}]'"
    ]


def _db(folder: Path) -> str:
    return f"sqlite:///{folder / 'ledger.db'}"


def _charges(folder: Path) -> list[object]:
    if not (folder / "ledger.db").exists():
        return []
    store = Store.open(_db(folder))
    try:
        return [account.spent for account in Ledger(store).accounts()]
    finally:
        store.close()


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("retail")
    files = {"orders": folder / "orders.csv", "catalogue": folder / "catalogue.csv"}
    pacsv.write_csv(bundled_online_retail().slice(0, 3000), files["orders"])
    pacsv.write_csv(product_catalogue(), files["catalogue"])
    return files


def test_the_blocker_blocks() -> None:
    code = ABSENT + "import json\n"
    assert subprocess.run([sys.executable, "-c", code, "json"], check=False).returncode == 1
    assert subprocess.run([sys.executable, "-c", code, "csv"], check=False).returncode == 0


def test_train_without_scipy_names_the_ml_extra(retail: dict[str, Path], tmp_path: Path) -> None:
    done = _without(
        "scipy", RUN_CLI, "train", "--data", str(retail["orders"]), "--model", "dp-popularity",
        "--epsilon", "1", "-o", str(tmp_path / "model.npz"), "--db", _db(tmp_path),
        "--catalogue", str(retail["catalogue"]), home=tmp_path,
    )  # fmt: skip
    _one_line_naming(done, "scipy", "ml")
    assert not (tmp_path / "model.npz").exists()
    assert _charges(tmp_path) == []


def test_train_without_torch_names_the_ml_extra(retail: dict[str, Path], tmp_path: Path) -> None:
    # scipy is there: the package imports, and the DP-SGD model fails where it needs torch.
    done = _without(
        "torch", RUN_CLI, "train", "--data", str(retail["orders"]), "--model", "dp-mf",
        "--epsilon", "1", "-o", str(tmp_path / "model.npz"), "--db", _db(tmp_path),
        "--catalogue", str(retail["catalogue"]), home=tmp_path,
    )  # fmt: skip
    _one_line_naming(done, "torch", "ml")
    assert not (tmp_path / "model.npz").exists()
    assert _charges(tmp_path) == []  # it failed before the ledger was charged


def test_query_without_duckdb_names_the_dp_extra(retail: dict[str, Path], tmp_path: Path) -> None:
    done = _without(
        "duckdb", RUN_CLI, "query", "SELECT COUNT(*) FROM orders", "--data",
        str(retail["orders"]), "--epsilon", "1", "--privacy-unit", "CustomerID", home=tmp_path,
    )  # fmt: skip
    _one_line_naming(done, "duckdb", "dp")


def test_a_postgres_store_without_psycopg_names_the_postgres_extra(tmp_path: Path) -> None:
    code = ABSENT + textwrap.dedent(
        """
        from shopveil.errors import MissingExtraError
        from shopveil.store import Store

        try:
            Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none")
        except MissingExtraError as exc:
            print(type(exc).__name__, exc.name, exc.extra, exc, sep="|")
        """
    )
    done = _without("psycopg", code, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "MissingExtraError|psycopg|postgres|psycopg is not installed; it comes with the "
        "postgres extra: pip install 'shopveil[postgres]'"
    )


def test_the_learn_package_without_scipy_is_a_module_not_found_error(tmp_path: Path) -> None:
    code = ABSENT + textwrap.dedent(
        """
        from shopveil.errors import ShopVeilError

        for name in ("shopveil.learn", "shopveil.learn._dp_cobuy"):
            try:
                __import__(name)
            except ModuleNotFoundError as exc:
                assert isinstance(exc, ShopVeilError), exc
                print(name, exc.name, exc.extra)
        """
    )
    done = _without("scipy", code, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "shopveil.learn scipy ml",
        "shopveil.learn._dp_cobuy scipy ml",
    ]


def test_the_demo_skips_its_recommender_without_the_ml_extra(tmp_path: Path) -> None:
    code = ABSENT + textwrap.dedent(
        """
        import secrets
        from pathlib import Path

        from shopveil.data import bundled_online_retail
        from shopveil.demo._personalize import personalize
        from shopveil.dp import Ledger, PeopleKey
        from shopveil.store import Store

        store = Store.open(f"sqlite:///{Path.cwd() / 'demo.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        print(personalize(bundled_online_retail(), Path.cwd(), ledger).note)
        """
    )
    done = _without("scipy", code, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "skipped: install shopveil[ml] for the recommender step"
