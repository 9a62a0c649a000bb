"""The Spark engine: the same :class:`~shopveil.policy.Plan` and :func:`apply_plan`, run
on executors through Arrow (``DataFrame.mapInArrow``).

Keys reach the executors inside the pickled Python function Spark ships to run each
partition, never as a column, a literal in the query, or a string in the plan: Spark's
logical and physical plans (``explain()``, the UI, event logs) show a ``mapInArrow`` node
with the function's name only. The driver derives the purpose-bound keys the plan's
operators ask for (:class:`PreparedKeys`) from the keyring; the master key and the store
never leave the driver, and an executor that asks for any other key gets an error.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow as pa

from shopveil._core.operators import KeySource, OperatorContext
from shopveil._core.subjects import SubjectFilter
from shopveil.data import escape_formulas, table_format
from shopveil.errors import KeyringError, MissingExtraError, ParameterError
from shopveil.pipeline._run import apply_plan
from shopveil.policy import Plan

if TYPE_CHECKING:
    from pyspark import Accumulator
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "Engine",
    "PreparedKeys",
    "no_pandas_warning",
    "prepare_keys",
    "protect_frame",
    "read_frame",
    "spark_session",
]

_SAMPLE_ROWS = 64
_STORE_TECHNIQUES = frozenset({"erasable_token"})  # vault tokens: per-subject keys in the store
# PySpark 4 warns about pandas 3 whenever it touches Arrow; this engine never uses pandas.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


class Engine(Enum):
    """Where a plan runs: in this process, or as a Spark job."""

    LOCAL = "local"
    SPARK = "spark"


@dataclass(frozen=True)
class PreparedKeys:
    """The derived keys one run needs, and no other: what executors receive.

    Implements :class:`shopveil._core.operators.KeySource` for the (purpose, context,
    version) triples derived on the driver; any other asks fail, since the master key is
    not here to derive them.
    """

    keys: dict[tuple[str, str, int], bytes] = field(repr=False)

    def derive(self, purpose: str, context: str, *, version: int = 1) -> bytes:
        """The key derived on the driver for ``purpose``, ``context`` and ``version``."""
        try:
            return self.keys[(purpose, context, version)]
        except KeyError:
            raise KeyringError(
                f"key context {context!r} (purpose {purpose!r}, version {version}) was not "
                "prepared on the driver; run the plan through protect_frame, which derives "
                "every key the plan's operators use"
            ) from None


@dataclass
class _Recorder:
    keys: KeySource
    seen: dict[tuple[str, str, int], bytes] = field(default_factory=dict, repr=False)

    def derive(self, purpose: str, context: str, *, version: int = 1) -> bytes:
        key = self.keys.derive(purpose, context, version=version)
        self.seen[(purpose, context, version)] = key
        return key


def prepare_keys(
    plan: Plan, sample: pa.RecordBatch, keys: KeySource | None, as_of: date | None = None
) -> PreparedKeys:
    """Derive on the driver every key ``plan``'s operators take, by running each on ``sample``.

    Operators derive their key from their own settings (domain, column, version), not
    from the values, so a few rows of the table find every key the run needs.
    """
    recorder = _Recorder(keys) if keys is not None else None
    for step in plan.steps:
        if step.technique in _STORE_TECHNIQUES:
            raise ParameterError(
                f"column {step.column!r} uses {step.technique}, which needs the key store on "
                "every executor; it runs on the local engine only (--engine local)"
            )
        if step.operator is None or step.column not in sample.schema.names:
            continue
        context = OperatorContext(
            purpose=plan.purpose, column=step.column, keys=recorder, as_of=as_of or date.today()
        )
        step.operator.apply(sample.column(step.column), context)
    return PreparedKeys(dict(recorder.seen) if recorder is not None else {})


def protect_frame(
    plan: Plan,
    frame: DataFrame,
    *,
    keys: KeySource | None = None,
    as_of: date | None = None,
    subjects: SubjectFilter | None = None,
    csv_escape: bool = False,
    counts: tuple[Accumulator[int], Accumulator[int]] | None = None,
) -> DataFrame:
    """``frame`` through ``plan`` on Spark: the rows and columns :func:`apply_plan` gives.

    Each Arrow batch of each partition goes through :func:`apply_plan` on an executor,
    with the keys :func:`prepare_keys` derived here (see the module's note on where they
    travel). ``subjects`` travels the same way, so it must be picklable. ``csv_escape``
    prefixes formula-like text cells with ``'`` (see :func:`shopveil.data.escape_formulas`);
    ``counts`` (two accumulators) add up the rows read and the rows let out.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    with no_pandas_warning():
        sample = _first_rows(frame)
    prepared = prepare_keys(plan, sample, keys, as_of)
    day = as_of or date.today()
    schema = _string_nulls(apply_plan(plan, sample, keys=prepared, as_of=day).schema)

    def protect(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = apply_plan(plan, batch, keys=prepared, as_of=day, subjects=subjects)
            out = out if out.schema == schema else out.cast(schema)
            if csv_escape:
                out = pa.RecordBatch.from_arrays(
                    [escape_formulas(column) for column in out.columns], schema=out.schema
                )
            if counts is not None:
                counts[0].add(batch.num_rows)
                counts[1].add(out.num_rows)
            yield out

    protect.__name__ = protect.__qualname__ = "shopveil_apply_plan"
    with no_pandas_warning():
        return frame.mapInArrow(protect, from_arrow_schema(schema))


def read_frame(spark: SparkSession, path: Path, *, typed: bool = False) -> DataFrame:
    """``path`` (CSV, TSV or Parquet) as a Spark DataFrame; CSV as text, empty cells null
    (``typed``: with the types Spark infers)."""
    in_format = table_format(path)
    if not path.exists():
        raise ParameterError(f"input {str(path)!r} does not exist; give a CSV or Parquet file")
    if in_format == "parquet":
        return spark.read.parquet(str(path))
    sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    return spark.read.csv(
        str(path), header=True, sep=sep, quote='"', escape='"', multiLine=True, inferSchema=typed
    )


def spark_session(
    master: str = "local[*]",
    *,
    app_name: str = "shopveil",
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """A Spark session on ``master``, or a one-line error naming what is missing.

    Checks, before Spark starts: PySpark is installed (the ``spark`` extra), Java is on
    the PATH or under ``JAVA_HOME``, and a ``spark://`` master answers on its port.
    Python workers run this interpreter unless ``PYSPARK_PYTHON`` names another (on a
    cluster, one with ShopVeil installed); the UI is off and logs keep to errors.
    ``config`` adds Spark settings.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MissingExtraError("pyspark", "spark") from None
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or (
        java_home is not None and os.path.exists(os.path.join(java_home, "bin", "java"))
    )
    if not has_java:
        raise ParameterError(
            "--engine spark needs Java 17 or later, and no java is on the PATH or under "
            "JAVA_HOME; install a JDK (apt-get install openjdk-17-jre-headless) or use "
            "--engine local"
        )
    _check_master(master)
    # PySpark reads the workers' interpreter from the environment when the context starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **(config or {}),
    }
    builder: Any = SparkSession.builder.master(master).appName(app_name)
    for name, value in settings.items():
        builder = builder.config(name, value)
    session: SparkSession = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def no_pandas_warning() -> Iterator[None]:
    """Hide PySpark 4's warning about pandas 3, which it gives whenever it touches Arrow."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _PANDAS_WARNING, FutureWarning)
        yield


def _check_master(master: str) -> None:
    if master == "local" or master.startswith("local["):
        return
    parts = urlsplit(master)
    if parts.scheme != "spark" or not parts.hostname:
        raise ParameterError(
            f"--master: expected local, local[N], local[*] or spark://HOST:PORT, got {master!r}"
        )
    port = parts.port or 7077
    try:
        with socket.create_connection((parts.hostname, port), timeout=5):
            pass
    except OSError:
        raise ParameterError(
            f"--master {master!r} does not answer on {parts.hostname}:{port}; start the "
            "Spark master there or check the URL"
        ) from None


def _first_rows(frame: DataFrame) -> pa.RecordBatch:
    table: pa.Table = frame.limit(_SAMPLE_ROWS).toArrow()
    if not table.num_rows:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    return table.combine_chunks().to_batches()[0]


def _string_nulls(schema: pa.Schema) -> pa.Schema:
    """``schema`` with null-typed columns (all null in the sample) typed as text."""
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])
