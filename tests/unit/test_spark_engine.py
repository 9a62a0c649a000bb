"""The Spark engine runs the same plan as the local one: identical rows under one key.

One ``local[2]`` session for the module (Spark starts in seconds, not per test); tiny
data; no UI. Skipped where PySpark or Java is missing (the ``spark`` extra).
"""

from __future__ import annotations

import secrets
import shutil
import sys
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI has Java 17
    pytest.skip("Spark needs Java", allow_module_level=True)

from pyspark.sql import SparkSession

from shopveil.errors import KeyringError, ParameterError
from shopveil.keys import Keyring
from shopveil.pipeline import apply_plan
from shopveil.pipeline._spark import (
    PreparedKeys,
    prepare_keys,
    protect_frame,
    spark_session,
)
from shopveil.policy import compile_plan, parse_policy

POLICY = """\
shopveil_policy: 1
name: spark
purposes:
  analytics: {release_modes: [record]}
roles:
  analyst: {purposes: [analytics], sees: [direct_identifier, quasi_identifier, other]}
columns:
  customer_id: {class: direct_identifier, kind: customer_id, technique: token}
  email: {class: direct_identifier, kind: email, technique: mask_email}
  card: {class: direct_identifier, kind: card_number, technique: mask_card}
  phone: {class: direct_identifier, kind: phone, technique: fpe, params: {keep_first: 2}}
  postcode: {class: quasi_identifier, kind: postcode, technique: generalize_postcode}
  name: {class: direct_identifier, kind: person_name, technique: fake}
  note: {class: other, technique: keep}
  secret: {class: direct_identifier, technique: drop}
"""
DAY = date(2026, 12, 1)

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
SPARK = ("--engine", "spark", "--master", "local[2]")


def _table(rows: int) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"C{i % 37:05d}" if i % 11 else None for i in range(rows)],
            "email": [f"user{i}@shop{i % 5}.example" for i in range(rows)],
            "card": ["4111 1111 1111 1111" if i % 2 else "5500005555555559" for i in range(rows)],
            "phone": [f"+44 20 7946 {i % 10000:04d}" for i in range(rows)],
            "postcode": [f"SW1A {i % 9}AA" for i in range(rows)],
            "name": [f"Ann Example{i % 13}" for i in range(rows)],
            "note": [str(i) for i in range(rows)],
            "secret": ["x"] * rows,
        }
    )


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session(
        "local[2]", app_name="shopveil-tests", config={"spark.sql.shuffle.partitions": "2"}
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return compile_plan(parse_policy(POLICY), _table(1).schema, purpose="analytics")


def test_spark_and_local_outputs_are_identical(spark, plan, keyring: Keyring) -> None:  # type: ignore[no-untyped-def]
    table = _table(500)
    local = apply_plan(plan, table, keys=keyring, as_of=DAY)
    frame = spark.createDataFrame(table).repartition(3)
    out = protect_frame(plan, frame, keys=keyring, as_of=DAY).toArrow()
    # Partitions come back in any order: compare as sorted rows.
    local_rows = sorted(local.to_pylist(), key=lambda r: r["note"])
    spark_rows = sorted(out.to_pylist(), key=lambda r: r["note"])
    assert spark_rows == local_rows
    assert "secret" not in out.column_names
    assert local.column("customer_id").null_count == table.column("customer_id").null_count
    # The check can fail: another key gives other tokens.
    prepared = prepare_keys(plan, table.to_batches()[0], keyring, DAY)
    other = PreparedKeys({name: secrets.token_bytes(32) for name in prepared.keys})
    changed = apply_plan(plan, table, keys=other, as_of=DAY)
    assert changed.column("customer_id") != local.column("customer_id")


def test_keys_are_not_in_the_spark_plan(spark, plan, keyring: Keyring) -> None:  # type: ignore[no-untyped-def]
    frame = spark.createDataFrame(_table(20))
    prepared = prepare_keys(plan, _table(3).to_batches()[0], keyring, DAY)
    assert prepared.keys, "the token, FPE and fake operators take keys"
    protected = protect_frame(plan, frame, keys=keyring, as_of=DAY)
    shown = protected._jdf.queryExecution().toString()
    assert "shopveil_apply_plan" in shown
    for key in prepared.keys.values():
        assert key.hex() not in shown and key.hex().upper() not in shown
    assert repr(prepared) == "PreparedKeys()"  # never printed or logged


def test_prepared_keys_refuse_a_context_not_derived(keyring: Keyring) -> None:
    prepared = PreparedKeys({("analytics", "token:a", 1): keyring.derive("analytics", "token:a")})
    assert prepared.derive("analytics", "token:a") == keyring.derive("analytics", "token:a")
    with pytest.raises(KeyringError, match="token:b"):
        prepared.derive("analytics", "token:b")


def test_a_master_that_does_not_answer_is_one_line() -> None:
    with pytest.raises(ParameterError, match=r"does not answer on 127\.0\.0\.1:9"):
        spark_session("spark://127.0.0.1:9")
    with pytest.raises(ParameterError, match="--master"):
        spark_session("yarn-ish://x")


def test_no_java_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ParameterError, match="needs Java 17"):
        spark_session("local[1]")


def _cli_input(tmp_path: Path) -> tuple[Path, Path]:
    table = _table(300).set_column(6, "note", pa.array([f"n{i}" for i in range(300)]))
    data, policy = tmp_path / "customers.csv", tmp_path / "policy.yaml"
    pacsv.write_csv(table, data)
    policy.write_text(POLICY)
    return data, policy


def test_cli_spark_engine_writes_what_the_local_engine_writes(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, policy = _cli_input(tmp_path)
    common = ["--policy", str(policy), "--as-of", DAY.isoformat()]
    local = runner.invoke(app, ["anonymize", str(data), "-o", str(tmp_path / "l.parquet"), *common])
    assert local.exit_code == 0, local.output
    on_spark = runner.invoke(
        app,
        ["anonymize", str(data), "-o", str(tmp_path / "s.parquet"), *common, *SPARK],
    )
    assert on_spark.exit_code == 0, on_spark.output
    assert "300 rows in, 300 rows out" in on_spark.output
    expected = pq.read_table(tmp_path / "l.parquet").to_pylist()
    got = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert sorted(got, key=lambda r: r["note"]) == sorted(expected, key=lambda r: r["note"])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_cli_without_pyspark_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, policy = _cli_input(tmp_path)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    result = runner.invoke(
        app,
        [
            "anonymize",
            str(data),
            "-o",
            str(tmp_path / "s.parquet"),
            "--policy",
            str(policy),
            *SPARK,
        ],
    )
    assert result.exit_code == 2
    assert "pyspark is not installed" in result.stderr and "shopveil[spark]" in result.stderr
    assert not (tmp_path / "s.parquet").exists()


def test_vault_tokens_are_refused_on_spark(keyring: Keyring) -> None:
    policy = POLICY.replace(
        "customer_id: {class: direct_identifier, kind: customer_id, technique: token}",
        "customer_id: {class: direct_identifier, kind: customer_id, technique: erasable_token}",
    )
    plan = compile_plan(parse_policy(policy), _table(1).schema, purpose="analytics")
    with pytest.raises(ParameterError, match="'customer_id' uses erasable_token"):
        prepare_keys(plan, _table(2).to_batches()[0], keyring, DAY)
