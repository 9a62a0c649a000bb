"""k, l and t on Spark agree with the local assessment, and k holds by a group-by of our own."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI has Java 17
    pytest.skip("Spark needs Java", allow_module_level=True)

from pyspark.sql import SparkSession

from shopveil.anonymity import KAnonymity, LDiversity, TCloseness, TDistance, assess
from shopveil.errors import ParameterError
from shopveil.pipeline._spark import spark_session
from shopveil.pipeline._spark_assess import assess_frame, failed_requirements

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    # The same session the engine tests use when they run first (getOrCreate).
    yield spark_session(
        "local[2]", app_name="shopveil-tests", config={"spark.sql.shuffle.partitions": "2"}
    )


def _table() -> pa.Table:
    ages = ["20-29", "30-39", "40-49", None]
    towns = ["Leeds", "York", "Hull"]
    items = ["tea", "coffee", "cake", "tea", "tea", None, "cake"]
    n = 211
    return pa.table(
        {
            "age": [ages[i % 4] for i in range(n)],
            "town": [towns[(i // 4) % 3] for i in range(n)],
            "item": [items[(i * 5) % 7] for i in range(n)],
            "basket": [f"b{i % 3}" for i in range(n)],
        }
    )


def test_k_l_t_agree_with_the_local_assessment(spark: SparkSession) -> None:
    table = _table()
    local = assess(table, ["age", "town"], ["item", "basket"], t_distance=TDistance.EQUAL)
    on_spark = assess_frame(spark.createDataFrame(table), ["age", "town"], ["item", "basket"])
    assert (on_spark.rows, on_spark.classes, on_spark.k) == (local.rows, local.classes, local.k)
    assert dict(on_spark.class_sizes) == dict(local.class_sizes)
    assert on_spark.l == local.l
    assert on_spark.t == pytest.approx(local.t, abs=1e-12)
    for name, t in local.sensitive_t.items():
        assert on_spark.sensitive_t[name] == pytest.approx(t, abs=1e-12)


def test_k_anonymity_holds_by_an_independent_group_by(spark: SparkSession) -> None:
    table = _table()
    report = assess_frame(spark.createDataFrame(table), ["age", "town"])
    # Our own count of every class, in plain Python.
    sizes = Counter(
        zip(table.column("age").to_pylist(), table.column("town").to_pylist(), strict=True)
    )
    assert report.k == min(sizes.values())
    assert report.classes == len(sizes)
    assert failed_requirements(report, [KAnonymity(report.k)]) == []
    assert failed_requirements(report, [KAnonymity(report.k + 1)]) == [
        f"k = {report.k} < {report.k + 1}"
    ]


def test_gates_spark_cannot_check_are_refused(spark: SparkSession) -> None:
    report = assess_frame(spark.createDataFrame(_table()), ["age"], ["item"])
    assert failed_requirements(report, [LDiversity(report.l or 1)]) == []
    with pytest.raises(ParameterError, match="--engine local"):
        failed_requirements(report, [TCloseness(0.3, TDistance.ORDERED)])
    with pytest.raises(ParameterError, match="no column 'nope'"):
        assess_frame(spark.createDataFrame(_table()), ["nope"])


def test_cli_assess_on_spark_gives_the_local_k_and_its_verdict(
    spark: SparkSession, tmp_path: Path
) -> None:
    data = tmp_path / "visits.csv"
    pacsv.write_csv(_table(), data)
    runner = CliRunner()
    args = ["assess", str(data), "--qi", "age,town", "--sensitive", "item", "--json"]
    local = json.loads(runner.invoke(app, args).stdout)
    spark_args = [*args, "--engine", "spark", "--master", "local[2]"]
    passed = runner.invoke(app, [*spark_args, "--k", str(local["k"])])
    assert passed.exit_code == 0, passed.output
    shown = json.loads(passed.stdout)
    assert (shown["k"], shown["l"], shown["rows"]) == (local["k"], local["l"], local["rows"])
    assert shown["verdict"] == {"passed": True, "failures": []}
    failed = runner.invoke(app, [*spark_args, "--k", str(local["k"] + 1)])
    assert failed.exit_code == 1
    assert f"k = {local['k']} < {local['k'] + 1}" in failed.stderr
