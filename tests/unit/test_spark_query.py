"""DP queries on Spark: the local engine's bounded aggregates, its charges, its noise.

One ``local[2]`` session for the module; a few thousand rows. Skipped where PySpark or
Java is missing (the ``spark`` extra).
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI has Java 17
    pytest.skip("Spark needs Java", allow_module_level=True)

from _people import PEOPLE_KEY
from pyspark.sql import DataFrame, SparkSession

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Cell, Ledger, QueryOptions, parse_query, run_query
from shopveil.dp._query._compile import compile_plan
from shopveil.dp._query._duckdb import UNFILTERED, bind, open_data, run
from shopveil.dp._query._plan import PERSON, SOURCE
from shopveil.dp._query._spark import SparkSource
from shopveil.errors import ParameterError
from shopveil.pipeline._spark import no_pandas_warning, spark_session
from shopveil.store import Store

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
ROWS = 3000


def _orders() -> pa.Table:
    rng = np.random.default_rng(20261208)  # data only, never noise
    price = np.round(rng.uniform(-2, 25, ROWS), 2)
    return pa.table(
        {
            "customer": [f"c{c}" for c in rng.integers(0, 300, ROWS)],
            "country": rng.choice(["FR", "DE", "UK", "fr", ""], ROWS).tolist(),
            "qty": pa.array(rng.integers(1, 10, ROWS)).filter(pa.array(rng.random(ROWS) < 2)),
            "price": pa.array(price, mask=rng.random(ROWS) < 0.05),  # nulls rank last
            "note": rng.choice(["12", "x", "7"], ROWS).tolist(),  # text that may not convert
        }
    )


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session(
        "local[2]", app_name="shopveil-query-tests", config={"spark.sql.shuffle.partitions": "2"}
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query") / "orders.parquet"
    pq.write_table(_orders(), path, row_group_size=700)  # several partitions
    return path


@pytest.fixture(scope="module")
def frame(spark: SparkSession, orders: Path) -> DataFrame:
    with no_pandas_warning():
        return spark.read.parquet(str(orders)).repartition(3)


def _ledger(tmp_path: Path, name: str, total: float = 1e4) -> Ledger:
    return Ledger(
        Store.open(f"sqlite:///{tmp_path / name}"),
        people_key=PEOPLE_KEY,
        default_total=ApproxDP(total, 1e-3),
    )


CASES = [
    # private keys (selection counts people), an expression key, a WHERE that can fail,
    # sums whose value depends on which rows bounding keeps
    (
        "SELECT upper(country) AS c, COUNT(*) AS n, SUM(price) AS s, AVG(qty) AS a "
        "FROM orders WHERE CAST(note AS INTEGER) > 8 GROUP BY upper(country)",
        PerCustomer("customer", 3),
    ),
    (
        "SELECT COUNT(price) AS n, COUNT(DISTINCT country) AS d, SUM(price) AS s FROM orders",
        PerCustomer("customer", 2),
    ),
    ("SELECT country, COUNT(*) AS n, SUM(qty) AS q FROM orders GROUP BY country", PerRow()),
]


@pytest.mark.parametrize(("sql", "unit"), CASES)
def test_bounded_aggregates_are_the_local_engines(
    frame: DataFrame, sql: str, unit: PerCustomer | PerRow
) -> None:
    """Before noise, Spark's bounded aggregates equal DuckDB's, group for group, under a
    fresh bounding seed: the same rows of each person are kept and summed."""
    options = QueryOptions(
        epsilon=PureDP(1.0), unit=unit, bounds={"s": (0.0, 20.0), "a": (1.0, 8.0), "q": (0, 9)}
    )
    seed = secrets.randbits(64)
    plan = compile_plan(parse_query(sql), options, _orders().column_names, seed=seed)
    con, _, _ = open_data(_orders(), "orders")
    try:
        # Each row's person, as the engine gives it (the ids here are written canonically).
        con.register(SOURCE, con.sql(f"SELECT *, customer AS {PERSON} FROM {UNFILTERED}"))
        local = run(bind(con, plan.sql))
    finally:
        con.close()
    with no_pandas_warning():
        on_spark = SparkSource(frame).aggregate(plan, seed)
    assert sorted(on_spark, key=str) == sorted(local, key=str)
    if isinstance(unit, PerCustomer):
        # Another seed keeps other rows: the equality above is about which rows.
        other = compile_plan(parse_query(sql), options, _orders().column_names, seed=seed ^ 1)
        with no_pandas_warning():
            assert sorted(SparkSource(frame).aggregate(other, seed ^ 1), key=str) != sorted(
                local, key=str
            )


def test_answers_fall_within_their_intervals(spark: SparkSession, tmp_path: Path) -> None:
    """Over 400 released cells the 95% intervals miss about 5% of the true values: fewer
    misses than that means the noise is smaller than stated (halving it leaves ~0.25%)."""
    rng = np.random.default_rng(7)
    groups = [f"g{i:02d}" for i in range(100)]
    n = 1200
    table = pa.table(
        {
            "customer": [f"c{i // 2}" for i in range(n)],  # two rows each: bounding keeps all
            "g": rng.choice(groups, n).tolist(),
            "v": rng.integers(0, 10, n),
        }
    )
    truth = {
        row["g"]: (row["v_count"], row["v_sum"])
        for row in table.group_by("g").aggregate([("v", "count"), ("v", "sum")]).to_pylist()
    }
    ledger = _ledger(tmp_path, "l.db")
    options = QueryOptions(
        epsilon=PureDP(1.0),
        unit=PerCustomer("customer", 2),
        bounds={"s": (0.0, 10.0)},
        keys={"g": tuple(groups)},
    )
    misses = cells = 0
    with no_pandas_warning():
        frame = spark.createDataFrame(table)
        for _ in range(2):
            answer = run_query(
                "SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g",
                frame, table="t", options=options, ledger=ledger,
            )  # fmt: skip
            for row in answer.rows:
                count, total = truth.get(row["g"], (0, 0))
                for cell, true in ((row["n"], count), (row["s"], total)):
                    assert isinstance(cell, Cell) and cell.low is not None
                    assert cell.high is not None
                    cells += 1
                    misses += not cell.low <= true <= cell.high
    assert cells == 400
    assert 5 <= misses <= 45, f"{misses} of {cells} intervals missed the true value"


def test_charges_and_leaves_out_whom_the_local_engine_does(
    frame: DataFrame, orders: Path, tmp_path: Path
) -> None:
    """Two ledgers with one history: the Spark query charges the same people and leaves
    out the same ones (who spent their budget on another table) as the local query."""
    half = tmp_path / "half.parquet"
    table = _orders()
    pq.write_table(table.filter(pc.is_in(table["customer"], pa.array(
        [f"c{i}" for i in range(0, 300, 2)]))), half)  # fmt: skip
    options = QueryOptions(epsilon=PureDP(40.0), unit=PerCustomer("customer", 1))
    answers = []
    for engine in ("local", "spark"):
        ledger = _ledger(tmp_path, f"{engine}.db", total=50.0)
        run_query("SELECT COUNT(*) AS n FROM half", str(half), options=options, ledger=ledger)
        with no_pandas_warning():
            data = str(orders) if engine == "local" else frame
            answers.append(
                run_query(
                    "SELECT COUNT(*) AS n FROM orders",
                    data,
                    table="orders",
                    options=options,
                    ledger=ledger,
                )
            )
    local, on_spark = answers
    affordable = len(set(table["customer"].to_pylist())) - 150  # the half cannot pay twice
    assert local.rows[0]["n"].value == on_spark.rows[0]["n"].value == affordable
    assert (local.cost, local.budget_left, local.unit) == (
        on_spark.cost,
        on_spark.budget_left,
        on_spark.unit,
    )


def test_spark_refuses_what_it_does_not_run_before_charging(
    frame: DataFrame, tmp_path: Path
) -> None:
    ledger = _ledger(tmp_path, "r.db", total=1.0)
    for sql, options, fix in [
        ("SELECT MEDIAN(price) AS m FROM orders",
         QueryOptions(epsilon=PureDP(1.0), unit=PerCustomer("customer", 1),
                      bounds={"m": (0, 20)}), "quantiles"),
        ("SELECT COUNT(*) AS n FROM orders", QueryOptions(epsilon=PureDP(1.0)),
         "--max-contributions"),
    ]:  # fmt: skip
        if fix == "--max-contributions":
            from shopveil.dp import AutoBounds

            options = QueryOptions(epsilon=PureDP(1.0), automatic=AutoBounds())
        with pytest.raises(ParameterError, match=fix):
            run_query(sql, frame, table="orders", options=options, ledger=ledger)
    # Nothing was charged: everyone can still pay for ε = 1 (nobody is left out).
    answer = run_query(
        "SELECT COUNT(*) AS n FROM orders", frame, table="orders", ledger=ledger,
        options=QueryOptions(epsilon=PureDP(1.0), unit=PerCustomer("customer", 1)),
    )  # fmt: skip
    assert answer.rows[0]["n"].value > 250  # 300 people, noise of scale 1


QUERY = ["query", "SELECT country, COUNT(*) AS n, SUM(qty) AS q FROM orders GROUP BY country"]


def _cli(orders: Path, *extra: str) -> list[str]:
    return [
        *QUERY, "--data", str(orders), "--epsilon", "1", "--privacy-unit", "customer",
        "--max-contributions", "2", "--bounds", "q=0:9", "--keys", "country=FR,DE,UK",
        "--json", *extra,
    ]  # fmt: skip


def test_cli_query_on_spark(spark: SparkSession, orders: Path) -> None:
    result = runner.invoke(app, _cli(orders, "--engine", "spark", "--master", "local[2]"))
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [row["country"] for row in answer["rows"]] == ["FR", "DE", "UK"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--master", "spark://127.0.0.1:9"), "does not answer on 127.0.0.1:9"),
        (("--master", "yarn"), "--master: expected local"),
        (("--no-pyspark",), "pyspark is not installed"),
        (("--no-java",), "needs Java 17"),
    ],
)
def test_cli_query_bad_input_is_one_line(
    orders: Path, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...], message: str
) -> None:
    if extra == ("--no-pyspark",):
        monkeypatch.setitem(sys.modules, "pyspark.sql", None)
        extra = ()
    if extra == ("--no-java",):
        monkeypatch.setenv("PATH", "/nonexistent")
        monkeypatch.delenv("JAVA_HOME", raising=False)
        extra = ()
    result = runner.invoke(app, _cli(orders, "--engine", "spark", *extra))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
