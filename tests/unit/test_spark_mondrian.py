"""Mondrian k-anonymity on Spark, checked by an independent pyarrow group-by.

One ``local[2]`` session for the module; a few hundred rows (each round of cuts is a
few Spark jobs). Skipped where PySpark or Java is missing (the ``spark`` extra).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI has Java 17
    pytest.skip("Spark needs Java", allow_module_level=True)

from pyspark.sql import SparkSession

from shopveil.errors import ParameterError, PrivacyError
from shopveil.pipeline._spark import no_pandas_warning, spark_session
from shopveil.pipeline._spark_mondrian import mondrian_frame

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()


def _people(rows: int, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)  # data only
    ages = rng.integers(18, 80, rows)
    return pa.table(
        {
            "customer_id": [f"C{i:05d}" for i in range(rows)],
            "email": [f"user{i}@shop.example" for i in range(rows)],
            # skewed, with ties and a few nulls: cuts at the median must keep k a side
            "age": pa.array(
                np.where(rng.random(rows) < 0.3, 35, ages), mask=rng.random(rows) < 0.03
            ),
            "zip": rng.integers(10000, 10040, rows),
            "spend": np.round(rng.gamma(2.0, 30.0, rows), 2),
            "row": np.arange(rows),
        }
    )


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session(
        "local[2]", app_name="shopveil-mondrian-tests", config={"spark.sql.shuffle.partitions": "2"}
    )
    yield session
    session.stop()


def _range_holds(label: str | None, value: float | None) -> bool:
    if value is None or label is None:
        return True  # a missing value is released as its class's range
    if label.startswith("["):
        low, high = (float(x) for x in label[1:-1].split(", "))
        return low <= value <= high
    return float(label) == value


def test_every_class_holds_k_rows_by_an_independent_group_by(spark: SparkSession) -> None:
    table, k, qi = _people(150), 6, ["age", "zip", "spend"]
    with no_pandas_warning():
        made = mondrian_frame(spark.createDataFrame(table).repartition(3), qi, k)
        out = made.frame.toArrow()
    assert out.num_rows == table.num_rows == made.rows  # nothing suppressed
    sizes = out.group_by(qi).aggregate([("row", "count")])["row_count"].to_pylist()
    assert min(sizes) == made.k >= k  # pyarrow's group-by agrees with Spark's
    assert len(sizes) == made.classes
    # Mondrian cuts as long as k rows stay a side: classes are small, not one big one.
    assert max(sizes) < 4 * k and len(sizes) > table.num_rows // (4 * k)
    # Each released range holds the row's own value; other columns are unchanged.
    original = {r["row"]: r for r in table.to_pylist()}
    for released in out.to_pylist():
        source = original[released["row"]]
        assert released["email"] == source["email"]
        for name in qi:
            assert _range_holds(released[name], source[name]), (name, released, source)


def test_refusals_are_one_line(spark: SparkSession) -> None:
    with no_pandas_warning():
        frame = spark.createDataFrame(_people(30))
        with pytest.raises(ParameterError, match="'email' is string: k-anonymity on Spark"):
            mondrian_frame(frame, ["age", "email"], 5)
        with pytest.raises(PrivacyError, match="30 rows, fewer than k = 50"):
            mondrian_frame(frame, ["age"], 50)


POLICY_GATE = """\
shopveil_policy: 1
name: gated
extends: gdpr
columns:
  age: {class: quasi_identifier, kind: age, technique: keep}
  zip: {class: quasi_identifier, kind: postcode, technique: keep}
  spend: {class: other, technique: keep}
  row: {class: other, technique: keep}
gates:
  k: 5
  quasi_identifiers: [age, zip]
"""


def test_cli_anonymize_k_on_spark(spark: SparkSession, tmp_path: Path) -> None:
    data, out = tmp_path / "people.parquet", tmp_path / "out.parquet"
    pq.write_table(_people(60), data)
    policy = tmp_path / "gated.yaml"
    policy.write_text(POLICY_GATE)
    spark_args = ["--engine", "spark", "--master", "local[2]", "--policy", str(policy)]
    # The policy's gate asks for k = 5 on age and zip: the raw columns fail it.
    refused = runner.invoke(app, ["anonymize", str(data), "-o", str(out), *spark_args])
    assert refused.exit_code == 1, refused.output  # a privacy failure, as on the local engine
    assert "fails the policy's gate (k = 1 < 5)" in refused.stderr and not out.exists()
    made = runner.invoke(
        app, ["anonymize", str(data), "-o", str(out), "--k", "5", "--qi", "age,zip", *spark_args]
    )
    assert made.exit_code == 0, made.output
    assert "k-anonymous on age, zip (Mondrian on Spark)" in made.output
    released = pq.read_table(out)
    sizes = released.group_by(["age", "zip"]).aggregate([("row", "count")])["row_count"]
    assert min(sizes.to_pylist()) >= 5 and released.num_rows == 60
    # The policy ran too: the ids are tokenized, or dropped from a k-anonymous release.
    ids = released["customer_id"].to_pylist() if "customer_id" in released.column_names else []
    assert "C00001" not in ids


def test_cli_k_on_spark_refuses_what_mondrian_on_spark_lacks(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["anonymize", "x.parquet", "-o", str(tmp_path / "o.parquet"), "--k", "5", "--qi", "age",
         "--l", "2", "--engine", "spark"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--l: k-anonymity on Spark is Mondrian for k alone" in result.stderr
