"""DP queries: the SQL subset, refusals, sensitivities, intervals, and charging rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _people import PEOPLE_KEY

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Cell, Ledger, Query, QueryOptions, parse_query, run_query, table_name
from shopveil.errors import BudgetExceeded, ParameterError, QueryError, SchemaError, SourceError
from shopveil.store import Store

ROWS = 4000

# The steward declares these tables' rows independent people (tests of the engine itself).
PER_ROW = {"unit": PerRow(), "unit_declared": True}


def _orders() -> pa.Table:
    rng = np.random.default_rng(12345)  # data generation only, never noise
    customers = rng.integers(0, 400, ROWS)
    return pa.table(
        {
            "customer": [f"c{c}" for c in customers],
            "country": rng.choice(["FR", "DE", "UK"], ROWS, p=[0.2, 0.3, 0.5]).tolist(),
            "qty": rng.integers(1, 10, ROWS),
            "price": np.round(rng.uniform(1, 20, ROWS), 2),
        }
    )


def _bounded_rows(limit: int) -> int:
    """Rows left when each customer keeps at most ``limit`` of theirs."""
    _, per_customer = np.unique(_orders()["customer"].to_numpy(), return_counts=True)
    return int(np.minimum(per_customer, limit).sum())


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(1000.0, 1e-3))
    store.close()


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(_orders(), path)
    return path


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM t", "raw rows"),
        ("SELECT country FROM t", "raw values are refused"),
        ("SELECT country FROM t GROUP BY country", "at least one aggregate"),
        ("SELECT COUNT(*) FROM t JOIN u ON t.id = u.id", "joins are refused"),
        ("SELECT COUNT(*) FROM t, u", "joins are refused"),
        ("SELECT COUNT(*) FROM (SELECT * FROM t)", "subqueries"),
        ("SELECT COUNT(*) FROM t WHERE x IN (SELECT y FROM u)", "unexpected keyword"),
        ("SELECT COUNT(*) FROM t ORDER BY 1", "ORDER is not supported"),
        ("SELECT COUNT(*) FROM t LIMIT 5", "LIMIT is not supported"),
        ("SELECT system('rm') FROM t", "not allowed"),
        ("SELECT SUM(SUM(x)) FROM t", "cannot be nested"),
        ("SELECT QUANTILE(x, 2) FROM t", "QUANTILE needs q"),
        ("SELECT COUNT(*) FROM t; DROP TABLE t", "unexpected"),
        ("", "empty"),
        ("SELECT COUNT(*) AS a, SUM(x) AS a FROM t", "same name"),
    ],
)
def test_unsupported_sql_is_refused_clearly(sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(sql)


def test_supported_sql_parses() -> None:
    spec = parse_query(
        "SELECT country, month(ts) AS m, COUNT(*), COUNT(DISTINCT customer) AS buyers, "
        "SUM(qty * price) AS revenue, AVG(price), MEDIAN(price), QUANTILE(price, 0.9), "
        "HISTOGRAM(price, 0, 20, 4) AS h FROM orders "
        "WHERE country IN ('FR', 'DE') AND NOT price BETWEEN 1 AND 2 AND ts IS NOT NULL "
        "GROUP BY country, m;"
    )
    assert spec.table == "orders"
    assert [a.func for a in spec.aggregates] == [
        "count", "count_distinct", "sum", "avg", "quantile", "quantile", "histogram",
    ]  # fmt: skip
    assert [k.alias for k in spec.keys] == ["country", "m"]
    assert spec.where is not None and spec.where.columns == {"country", "price", "ts"}


def test_counts_and_sums_are_close_at_high_epsilon(ledger: Ledger) -> None:
    data = _orders()
    options = QueryOptions(
        epsilon=PureDP(100.0),
        bounds={"revenue": (0, 200)},
        keys={"country": ("FR", "DE", "UK")},
        **PER_ROW,
    )
    # Seeded: an unseeded draw lands outside twice the 95% half-width about once in 130 runs.
    with pytest.warns(InsecureRandomnessWarning):
        rng = insecure_seeded_rng(7)
    answer = run_query(
        "SELECT country, COUNT(*) AS n, SUM(qty * price) AS revenue FROM orders GROUP BY country",
        data,
        table="orders",
        options=options,
        ledger=ledger,
        rng=rng,
    )
    countries = np.asarray(data["country"].to_pylist())
    revenue = np.asarray(data["qty"]) * np.asarray(data["price"])
    for country in ("FR", "DE", "UK"):
        n = answer.value("n", country=country)
        assert isinstance(n.value, int) and n.low is not None and n.high is not None
        assert abs(n.value - int((countries == country).sum())) <= 5
        r = answer.value("revenue", country=country)
        truth = float(np.minimum(revenue[countries == country], 200).sum())
        assert abs(float(r.value) - truth) <= (r.high - r.low)  # type: ignore[arg-type,operator]
    assert answer.cost == PureDP(100.0)
    assert dict(answer.split) == pytest.approx({"n": 50.0, "revenue": 50.0})


def test_public_keys_release_empty_groups_too(ledger: Ledger) -> None:
    options = QueryOptions(epsilon=PureDP(1.0), keys={"country": ("FR", "XX")}, **PER_ROW)
    answer = run_query(
        "SELECT country, COUNT(*) FROM orders GROUP BY country",
        _orders(),
        table="orders",
        options=options,
        ledger=ledger,
    )
    assert [row["country"] for row in answer.rows] == ["FR", "XX"]


def test_partition_selection_hides_rare_groups(ledger: Ledger) -> None:
    rare = pa.table({"k": ["common"] * 3000 + ["rare"], "v": list(range(3001))})
    answer = run_query(
        "SELECT k, COUNT(*) FROM t GROUP BY k",
        rare,
        table="t",
        options=QueryOptions(epsilon=PureDP(1.0), delta=1e-8, **PER_ROW),
        ledger=ledger,
    )
    assert [row["k"] for row in answer.rows] == ["common"]
    assert isinstance(answer.cost, ApproxDP) and answer.cost.delta == 1e-8
    assert any("partition selection" in note for note in answer.notes)


def test_per_customer_bounding_and_quantiles(ledger: Ledger, csv_path: Path) -> None:
    options = QueryOptions(
        epsilon=PureDP(200.0),
        unit=PerCustomer("customer", 4),
        bounds={"price": (0, 20)},
    )
    answer = run_query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT customer) AS buyers, AVG(price), MEDIAN(price) "
        "FROM orders",
        csv_path,
        options=options,
        ledger=ledger,
    )
    row = answer.rows[0]
    assert abs(row["n"].value - 400 * 4) < 80  # ≤ 4 rows kept per customer; ~all have 4+
    assert abs(row["buyers"].value - 400) <= 10
    assert 9 < row["avg_price"].value < 12
    median: Cell = row["q05_price"]
    assert median.rank_error is not None and 8 < float(median.value) < 13  # type: ignore[arg-type]
    assert any("dropped at random" in note for note in answer.notes)


def test_histogram_and_builder_give_the_same_engine(ledger: Ledger, csv_path: Path) -> None:
    query = Query("orders").where("qty > 0").histogram("price", 0, 20, 4)
    customers = PerCustomer("customer", 10)
    answer = query.run(csv_path, epsilon=PureDP(50.0), ledger=ledger, unit=customers)
    assert [row["histogram_low"] for row in answer.rows] == [0, 5, 10, 15]
    # Each customer keeps at most 10 rows: the histogram counts about 10 per customer.
    kept = sum(row["histogram"].value for row in answer.rows)
    assert kept == pytest.approx(_bounded_rows(10), abs=40)
    built = Query("orders").group_by("country").count().sum("qty", bounds=(0, 10), alias="q")
    assert "SUM(qty) AS q" in built.to_sql()
    assert built.run(csv_path, epsilon=PureDP(5.0), ledger=ledger, unit=customers).columns == (
        "country", "count", "q",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "options", "error", "message"),
    [
        ("SELECT SUM(qty) FROM orders", {}, ParameterError, "missing bounds"),
        ("SELECT COUNT(*) FROM nope", {}, QueryError, "unknown table"),
        ("SELECT SUM(nope) FROM orders", {"bounds": {"nope": (0, 1)}}, SchemaError,
         "unknown column"),
        ("SELECT customer, COUNT(*) FROM orders GROUP BY customer",
         {"unit": PerCustomer("customer", 2)}, QueryError, "privacy unit"),
        ("SELECT COUNT(*) FROM orders", {"epsilon": PureDP(5000.0)}, BudgetExceeded, "Nothing"),
    ],
)  # fmt: skip
def test_bad_input_charges_nothing(
    ledger: Ledger, csv_path: Path, sql: str, options: dict, error: type, message: str
) -> None:
    settings = {"epsilon": PureDP(1.0), **PER_ROW, **options}
    with pytest.raises(error, match=message):
        run_query(sql, csv_path, options=QueryOptions(**settings), ledger=ledger)
    assert ledger.accounts() == []  # not even a default account appeared


def test_zero_epsilon_and_missing_files_are_refused(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="epsilon must be > 0"):
        QueryOptions(epsilon=PureDP(0.0))
    with pytest.raises(SourceError, match="no such file"):
        run_query(
            "SELECT COUNT(*) FROM x",
            tmp_path / "x.csv",
            options=QueryOptions(epsilon=PureDP(1.0)),
            ledger=ledger,
        )


def test_retry_replays_the_stored_answer(ledger: Ledger) -> None:
    options = QueryOptions(epsilon=PureDP(0.5), keys={"country": ("FR", "DE", "UK")}, **PER_ROW)
    sql = "SELECT country, COUNT(*) FROM orders GROUP BY country"
    first = run_query(
        sql, _orders(), table="orders", options=options, ledger=ledger, request_id="r"
    )
    again = run_query(
        sql, _orders(), table="orders", options=options, ledger=ledger, request_id="r"
    )
    assert again.replayed and not first.replayed
    assert [r["count"].value for r in again.rows] == [r["count"].value for r in first.rows]
    assert ledger.show("orders", PerRow()).spent == ApproxDP(0.5, 0.0)


def test_table_name_defaults_to_the_file_stem() -> None:
    assert table_name("data/orders.csv.gz") == "orders"
    assert table_name("sales.parquet") == "sales"


def test_top_products_and_pairs(ledger: Ledger) -> None:
    from shopveil.dp import top_k, top_pairs

    rows = []
    for c in range(300):  # everyone buys A and B together; some buy C; few buy D
        basket = ["A", "B"] + (["C"] if c % 2 else []) + (["D"] if c % 50 == 0 else [])
        rows += [(f"c{c}", f"inv{c}", item) for item in basket]
    data = pa.table(
        dict(zip(("customer", "invoice", "item"), zip(*rows, strict=True), strict=True))
    )
    unit = PerCustomer("customer", 3)
    best = top_k(
        data, "item", 2, epsilon=PureDP(5.0), ledger=ledger, table="sales", unit=unit,
        candidates=["A", "B", "C", "D", "E"],
    )  # fmt: skip
    assert {r["item"] for r in best.rows} == {"A", "B"}
    assert best.cost == PureDP(5.0)
    pairs = top_pairs(
        data, "item", "invoice", 1, epsilon=PureDP(20.0), ledger=ledger, table="sales", unit=unit
    )
    assert [(r["item_a"], r["item_b"]) for r in pairs.rows] == [("A", "B")]
    assert isinstance(pairs.cost, ApproxDP)
    with pytest.raises(ParameterError, match="customer privacy unit"):
        top_pairs(
            data, "item", "invoice", 1, epsilon=PureDP(1.0), ledger=ledger, table="sales",
            unit=PerRow(),
        )  # fmt: skip
    with pytest.raises(QueryError, match="holds customer ids"):
        top_pairs(data, "item", "invoice", 1, epsilon=PureDP(1.0), ledger=ledger, table="sales")


def test_large_sums_are_never_silently_truncated(ledger: Ledger) -> None:
    """OpenDP's unsized float sum keeps 2^20 records; every row counts here."""
    rows = 2**21
    data = pa.table({"v": np.full(rows, 250.0)})
    with pytest.warns(InsecureRandomnessWarning):  # seeded, as above: no flaky tails
        rng = insecure_seeded_rng(8)
    answer = run_query(
        "SELECT SUM(v) AS total, COUNT(*) AS n FROM big",
        data,
        table="big",
        options=QueryOptions(epsilon=PureDP(1.0), bounds={"total": (0, 250)}),
        ledger=ledger,
        rng=rng,
    )
    total = answer.rows[0]["total"]
    assert abs(total.value - rows * 250.0) <= (total.high - total.low)
    assert abs(answer.rows[0]["n"].value - rows) <= 20


def test_missing_bounds_can_be_estimated_privately(ledger: Ledger) -> None:
    data = pa.table({"v": np.linspace(10.0, 50.0, 5000)})
    options = QueryOptions(epsilon=PureDP(50.0), estimate_bounds=True)
    answer = run_query(
        "SELECT SUM(v) AS total, AVG(v) AS mean FROM t", data, table="t", options=options,
        ledger=ledger,
    )  # fmt: skip
    split = dict(answer.split)
    assert split["bounds_estimation"] == pytest.approx(10.0)
    assert answer.cost == PureDP(50.0)
    assert any("estimated privately" in note for note in answer.notes)
    # the estimated upper bound is a power of two ≥ ~49 (the 98th percentile): 64
    assert abs(answer.rows[0]["mean"].value - 30.0) < 3
    assert abs(answer.rows[0]["total"].value - 150_000) < 0.1 * 150_000
