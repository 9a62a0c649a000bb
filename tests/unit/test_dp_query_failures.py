"""No outcome of a DP query but its noisy numbers may depend on one person's row.

An analyst who can make a query fail on one row only (a modulo by zero, a text that
does not convert, an overflow) learns about that row for free from whether it fails.
Each test plants such a row and checks that the query answers the same way with and
without it: no error, the same columns, the same number of rows, the same values up to
that row's own contribution (the noise is seeded, so it is the same in both runs).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.dp import Answer, Ledger, QueryOptions, run_query
from shopveil.dp._query._functions import FUNCTIONS
from shopveil.store import Store

ROWS = 200
PLANTED_ID = 999
BIGINT_MIN = -(2**63)


def _table(*, planted: bool) -> pa.Table:
    rows: dict[str, list[Any]] = {
        "id": list(range(ROWS)),
        "n": [1 + i % 9 for i in range(ROWS)],
        "x": [0.5 + i % 17 for i in range(ROWS)],
        "s": [str(10 + i % 5) for i in range(ROWS)],
        "day": [f"2011-0{1 + i % 9}-1{i % 9}" for i in range(ROWS)],
        "g": ["a" if i % 2 else "b" for i in range(ROWS)],
        "flag": ["true" if i % 3 else "false" for i in range(ROWS)],
    }
    if planted:  # the row whose expressions fail: every hostile value at once
        hostile = {
            "id": PLANTED_ID, "n": BIGINT_MIN, "x": 1e308, "s": "abc", "day": "2011-13-45",
            "g": "a", "flag": "maybe",
        }  # fmt: skip
        for column, value in hostile.items():
            rows[column].append(value)
    return pa.table({**rows, "n": pa.array(rows["n"], pa.int64())})


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}")
    yield Ledger(store, default_total=ApproxDP(1e12, 0.5))
    store.close()


def _answer(ledger: Ledger, sql: str, data: pa.Table, **options: Any) -> Answer:
    with warnings.catch_warnings():
        # Seeded so both runs draw the same noise; the warning says so, and is expected.
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        rng = insecure_seeded_rng(11)
    settings_ = {"epsilon": PureDP(1000.0), **options}
    return run_query(
        sql, data, table="t", options=QueryOptions(**settings_), ledger=ledger, rng=rng
    )


def _values(answer: Answer) -> list[list[Any]]:
    out = []
    for row in answer.rows:
        out.append([getattr(v, "value", v) for v in (row[c] for c in answer.columns)])
    return out


def _same_outcome(ledger: Ledger, sql: str, *, slack: float = 1.0, **options: Any) -> None:
    """Both runs answer, with the same shape; numbers differ by the planted row at most."""
    without = _answer(ledger, sql, _table(planted=False), **options)
    with_row = _answer(ledger, sql, _table(planted=True), **options)
    assert with_row.columns == without.columns
    assert len(with_row.rows) == len(without.rows)
    for a_row, b_row in zip(_values(with_row), _values(without), strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, int | float) and isinstance(b, int | float):
                assert abs(a - b) <= slack + 0.01
            else:
                assert a == b


def test_the_modulo_by_zero_attack_no_longer_tells_a_price() -> None:
    """The reported attack: the query failed for one threshold and answered for the next."""
    data = pa.table(
        {
            "CustomerID": [17850, 17850, 12000, 13000] * 5,
            "UnitPrice": [35.5, 2.0, 40.0, 1.0] * 5,
        }
    )
    store = Store.open("sqlite://")
    try:
        ledger = Ledger(store, default_total=PureDP(1.0), people_key=PEOPLE_KEY)
        options = QueryOptions(epsilon=PureDP(0.0001), unit=PerCustomer("CustomerID", 5))
        for threshold in (35, 36):
            sql = (
                "SELECT COUNT(*) FROM orders WHERE 1 % CAST(abs(CustomerID - 17850) + "
                f"CAST(UnitPrice <= {threshold} AS BIGINT) AS BIGINT) = 0"
            )
            answer = run_query(
                sql, data, table="orders", options=options, ledger=ledger,
            )  # fmt: skip
            assert answer.columns == ("count",) and len(answer.rows) == 1
    finally:
        store.close()


# One expression per allowed function that fails on the planted row only: through the
# function itself where it can fail (abs, substr, nullif, least on an overflow), through
# its argument where it cannot.
FAILING: dict[str, str] = {
    "abs": "abs(n)",
    "round": "round(CAST(x AS DECIMAL), 1)",
    "floor": "floor(CAST(x AS DECIMAL))",
    "ceil": "ceil(n * 2)",
    "lower": "lower(CAST(CAST(s AS INTEGER) AS VARCHAR))",
    "upper": "upper(substr(s, n))",
    "trim": "trim(CAST(n - 1 AS VARCHAR))",
    "substr": "substr(s, n)",
    "substring": "substring(s, 1, n)",
    "length": "length(CAST(1 % (id - 999) AS VARCHAR))",
    "year": "year(CAST(day AS DATE))",
    "month": "month(CAST(day AS TIMESTAMP))",
    "day": "day(CAST(day AS DATE))",
    "hour": "hour(CAST(day AS TIMESTAMP))",
    "dayofweek": "dayofweek(CAST(day AS DATE))",
    "date_trunc": "date_trunc('month', CAST(day AS DATE))",
    "strftime": "strftime(CAST(day AS DATE), '%Y-%m')",
    "coalesce": "coalesce(CAST(s AS INTEGER), 0)",
    "least": "least(n - 1, 5)",
    "greatest": "greatest(-n, 5)",
    "concat": "concat(s, CAST(1 % (id - 999) AS VARCHAR))",
    "nullif": "nullif(s, 12)",
    "ln": "ln(CAST(s AS DOUBLE))",
    "sqrt": "sqrt(n * n)",
}


def test_every_allowed_function_has_a_failure_case() -> None:
    assert set(FAILING) == set(FUNCTIONS)


@pytest.mark.parametrize("function", sorted(FAILING))
def test_a_failing_function_changes_no_outcome(ledger: Ledger, function: str) -> None:
    expr = FAILING[function]
    keys = {"g": ("a", "b")}
    # In WHERE: the failing row is excluded.
    _same_outcome(ledger, f"SELECT COUNT(*) AS n FROM t WHERE {expr} IS NOT NULL")
    # As an aggregate's argument: the failing row's value is NULL, so it is left out.
    _same_outcome(ledger, f"SELECT g, COUNT({expr}) AS c FROM t GROUP BY g", keys=keys)
    # As a GROUP BY key: the failing row lands in the NULL group, not among the keys.
    _same_outcome(
        ledger,
        f"SELECT CAST({expr} AS VARCHAR) AS k, COUNT(*) AS c FROM t GROUP BY k",
        keys={"k": ("1", "2", "3")},
    )


@pytest.mark.parametrize("where", ["flag", "(flag)", "NOT flag", "flag AND n > 0"])
def test_a_text_column_used_as_a_condition_changes_no_outcome(ledger: Ledger, where: str) -> None:
    # DuckDB casts the text to BOOLEAN, and 'maybe' does not convert.
    _same_outcome(ledger, f"SELECT COUNT(*) AS n FROM t WHERE {where}")


def test_failing_sum_average_quantile_and_histogram_arguments_are_left_out(
    ledger: Ledger,
) -> None:
    arg = "CAST(s AS DOUBLE) * n"  # 'abc' does not convert on the planted row
    bounds = {"total": (0.0, 200.0), "mean": (0.0, 200.0), "mid": (0.0, 200.0)}
    _same_outcome(
        ledger,
        f"SELECT SUM({arg}) AS total, AVG({arg}) AS mean, MEDIAN({arg}) AS mid, "
        f"HISTOGRAM({arg}, 0, 200, 4) AS h FROM t GROUP BY g",
        keys={"g": ("a", "b")},
        bounds=bounds,
        slack=200.0,
    )


def test_a_row_the_csv_reader_cannot_parse_is_left_out(ledger: Ledger, tmp_path: Path) -> None:
    """A value far down a CSV that does not fit its sniffed type used to fail the scan."""
    lines = ["id,v"] + [f"{i},{i % 7}" for i in range(30_000)]
    clean, planted = tmp_path / "t.csv", tmp_path / "planted" / "t.csv"
    planted.parent.mkdir()
    clean.write_text("\n".join(lines) + "\n")
    planted.write_text("\n".join([*lines, "30001,abc", "30002,1,extra"]) + "\n")
    sql = "SELECT COUNT(*) AS n, SUM(v) AS total FROM t"
    answers = []
    for path in (clean, planted):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRandomnessWarning)
            rng = insecure_seeded_rng(3)
        options = QueryOptions(epsilon=PureDP(1000.0), bounds={"total": (0, 10)})
        answers.append(run_query(sql, path, options=options, ledger=ledger, rng=rng))
    assert answers[0].columns == answers[1].columns
    assert answers[0].rows[0]["n"].value == answers[1].rows[0]["n"].value


# Well-typed WHERE clauses from the allowed grammar, over a numeric, a text and a date
# column: they all bind, so any error could only come from the data.
_NUM_LEAVES = st.sampled_from(["n", "x", "id", "0", "1", "7", "2.5"])
_TEXT_LEAVES = st.sampled_from(["s", "day", "'abc'", "'12'", "g", "flag"])


def _numbers(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} + {p[1]})"),
        pair.map(lambda p: f"({p[0]} - {p[1]})"),
        pair.map(lambda p: f"({p[0]} * {p[1]})"),
        pair.map(lambda p: f"({p[0]} / {p[1]})"),
        pair.map(lambda p: f"({p[0]} % {p[1]})"),
        inner.map(lambda a: f"-{a}"),
        st.sampled_from(["abs", "round", "floor", "ceil", "ln", "sqrt"]).flatmap(
            lambda f: inner.map(lambda a: f"{f}({a})")
        ),
        st.sampled_from(["least", "greatest", "coalesce", "nullif"]).flatmap(
            lambda f: pair.map(lambda p: f"{f}({p[0]}, {p[1]})")
        ),
        st.tuples(_texts(), st.sampled_from(["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"])).map(
            lambda p: f"CAST({p[0]} AS {p[1]})"
        ),
        inner.map(lambda a: f"CAST({a} AS INTEGER)"),
        _texts().map(lambda a: f"length({a})"),
        st.tuples(st.sampled_from(["year", "month", "day", "hour", "dayofweek"]), _dates()).map(
            lambda p: f"{p[0]}({p[1]})"
        ),
    )


def _texts() -> st.SearchStrategy[str]:
    return st.one_of(
        _TEXT_LEAVES,
        st.sampled_from(["lower", "upper", "trim"]).flatmap(
            lambda f: _TEXT_LEAVES.map(lambda a: f"{f}({a})")
        ),
        st.tuples(_TEXT_LEAVES, _NUM_LEAVES).map(
            lambda p: f"substr({p[0]}, CAST({p[1]} AS BIGINT))"
        ),
        st.tuples(_TEXT_LEAVES, _NUM_LEAVES).map(lambda p: f"concat({p[0]}, {p[1]})"),
        _NUM_LEAVES.map(lambda a: f"CAST({a} AS VARCHAR)"),
    )


def _dates() -> st.SearchStrategy[str]:
    cast = st.tuples(_TEXT_LEAVES, st.sampled_from(["DATE", "TIMESTAMP"])).map(
        lambda p: f"CAST({p[0]} AS {p[1]})"
    )
    return st.one_of(cast, cast.map(lambda d: f"date_trunc('month', {d})"))


_NUMBERS = st.recursive(_NUM_LEAVES, _numbers, max_leaves=6)


def _conditions(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} AND {p[1]})"),
        pair.map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda a: f"NOT {a}"),
    )


_COMPARISONS = st.one_of(
    st.tuples(_NUMBERS, st.sampled_from(["=", "<", ">", "<=", ">=", "<>"]), _NUMBERS).map(" ".join),
    st.tuples(_texts(), _texts()).map(lambda p: f"{p[0]} = {p[1]}"),
    _texts().map(lambda a: f"{a} LIKE '1%'"),
    _NUMBERS.map(lambda a: f"{a} IN (1, 2, 3)"),
    _NUMBERS.map(lambda a: f"{a} BETWEEN 1 AND 5"),
    _NUMBERS.map(lambda a: f"{a} IS NULL"),
    _dates().map(lambda d: f"strftime({d}, '%Y') = '2011'"),
    _TEXT_LEAVES,  # a text used as a condition is cast to BOOLEAN
)
_WHERE = st.recursive(_COMPARISONS, _conditions, max_leaves=4)


@given(where=_WHERE)
def test_generated_where_clauses_answer_the_same_with_a_failing_row(
    ledger: Ledger, where: str
) -> None:
    _same_outcome(
        ledger,
        f"SELECT g, COUNT(*) AS n, SUM(x) AS total FROM t WHERE {where} GROUP BY g",
        keys={"g": ("a", "b")},
        bounds={"total": (0.0, 20.0)},
        slack=20.0,
    )
