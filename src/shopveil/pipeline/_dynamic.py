"""Role-based dynamic masking: one table, a different view for each role.

The stored table stays as it is; each read goes through the policy compiled for the
reader's role and purpose, so an analyst, a support agent and a marketer each see only
what their policy allows. Two ways in: :func:`masked_view` returns the masked Arrow
table (a Python call), and :func:`create_masked_view` defines a DuckDB view whose
columns are computed by ShopVeil's operators at query time (the base table is never
copied, and SQL users get no path to the clear values through the view).

Both show only the rows a release under the same plan would hold: customers the consent
register does not allow for the purpose, opted out of a sale or share, or minors (by the
table's own birth date or age) are left out (:mod:`shopveil.pipeline._view_consent`).
A DuckDB view asks the register again as it is read, so a withdrawal reaches it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pyarrow as pa

from shopveil._core.extras import from_extra
from shopveil._core.operators import KeySource, OperatorContext, RecordOperator
from shopveil.errors import ParameterError, PolicyError, SchemaError
from shopveil.pipeline._run import apply_plan, kept_rows, row_check_columns
from shopveil.pipeline._view_consent import LiveConsent, view_consent
from shopveil.policy import ColumnLabel, Plan, Policy, ReleaseMode, compile_plan
from shopveil.store import Store

__all__ = ["create_masked_view", "masked_view", "plan_for_role"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _purpose_for(policy: Policy, role: str, purpose: str | None) -> str:
    if purpose is not None:
        return purpose
    if role not in policy.roles:
        raise PolicyError(
            f"{policy.source}: unknown role {role!r}; use one of {', '.join(sorted(policy.roles))}"
        )
    record = sorted(
        p
        for p in policy.roles[role].purposes
        if p in policy.purposes and ReleaseMode.RECORD in policy.purposes[p].release_modes
    )
    if len(record) != 1:
        choices = ", ".join(record) or "none"
        raise ParameterError(
            f"role {role!r} reads records for {len(record)} purposes ({choices}); pass purpose="
        )
    return record[0]


def _labels_for(table: pa.Table, policy: Policy) -> dict[str, ColumnLabel]:
    from shopveil.detect import scan_table

    unnamed = [c for c in table.column_names if c not in policy.columns]
    if not unnamed:
        return {}
    report = scan_table(table.select(unnamed))
    return report.labels()


def plan_for_role(
    policy: Policy,
    schema_or_table: pa.Schema | pa.Table,
    role: str,
    *,
    purpose: str | None = None,
    labels: Mapping[str, ColumnLabel] | None = None,
    as_of: date | None = None,
) -> Plan:
    """The plan ``role`` reads under; columns the policy does not name are scanned.

    ``as_of`` is the day minors' ages are counted at (today by default).
    """
    purpose = _purpose_for(policy, role, purpose)
    if isinstance(schema_or_table, pa.Table):
        schema = schema_or_table.schema
        if labels is None:
            labels = _labels_for(schema_or_table, policy)
    else:
        schema = schema_or_table
    return compile_plan(policy, schema, purpose=purpose, role=role, labels=labels, as_of=as_of)


def masked_view(
    table: pa.Table,
    policy: Policy,
    role: str,
    *,
    purpose: str | None = None,
    keys: KeySource | None = None,
    labels: Mapping[str, ColumnLabel] | None = None,
    as_of: date | None = None,
    store: Store | None = None,
    consent: bool = True,
    people: str | os.PathLike[str] | None = None,
) -> pa.Table:
    """``table`` as ``role`` may see it: masked by the role's plan, dropped columns gone,
    and only the rows a release for the same purpose would hold.

    ``purpose`` may be left out when the role reads records for one purpose only.
    ``store``'s consent register decides whose rows stay (by every customer id column);
    it is required when the table holds customer ids or an opt-out flag, unless
    ``consent=False`` shows every customer (only where no law asks for their consent).
    Minors the policy leaves out of the purpose go by the table's own birth date or age
    column, else by ``people``, a table of the same customers with their birth date or
    age (as :func:`~shopveil.pipeline.anonymize_file`). The input table is not changed.
    """
    plan = plan_for_role(policy, table, role, purpose=purpose, labels=labels, as_of=as_of)
    plan, live = view_consent(
        plan,
        policy,
        table.schema,
        store=store,
        keys=keys,
        consent=consent,
        as_of=as_of,
        people=people,
    )
    subjects = live.current()
    return pa.Table.from_batches(
        [apply_plan(plan, table, keys=keys, as_of=as_of, subjects=subjects)]
    )


def _duckdb_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_null(arrow_type):
        return "VARCHAR"
    names = {
        pa.bool_(): "BOOLEAN",
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.date32(): "DATE",
    }
    if arrow_type in names:
        return names[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    raise SchemaError(f"a masked column of type {arrow_type} cannot be shown in a DuckDB view")


def _udf(operator: RecordOperator, context: OperatorContext) -> Callable[[Any], pa.Array]:
    # DuckDB reads the function's signature: it must take exactly the column.
    def run(values: Any) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return operator.apply(values, context)

    return run


def _row_udf(plan: Plan, live: LiveConsent) -> Callable[[Any], pa.Array]:
    # One STRUCT argument holds every column the row checks read.
    def keep(rows: Any) -> pa.Array:
        if isinstance(rows, pa.ChunkedArray):
            rows = rows.combine_chunks()
        batch = pa.RecordBatch.from_struct_array(rows)
        return kept_rows(plan, batch, live.current())

    return keep


def create_masked_view(
    con: Any,
    source: str,
    policy: Policy,
    role: str,
    *,
    view: str | None = None,
    purpose: str | None = None,
    keys: KeySource | None = None,
    labels: Mapping[str, ColumnLabel] | None = None,
    as_of: date | None = None,
    store: Store | None = None,
    consent: bool = True,
    people: str | os.PathLike[str] | None = None,
    refresh: float = 1.0,
) -> str:
    """Create (or replace) the DuckDB view ``view`` of table ``source`` for ``role``.

    Each column of the view calls a vectorized Arrow UDF that runs the role's operator
    for that column, so the view is always current with its table. Operators see one
    DuckDB vector (about 2,048 rows) at a time: keyed operators are unaffected, a
    shuffle mixes rows within a vector only. Returns the view's name
    (``<source>_<role>`` by default).

    The view's ``WHERE`` calls one more UDF that leaves out the rows :func:`masked_view`
    leaves out; ``store``, ``consent`` and ``people`` as there. It asks ``store``'s consent register
    again once its answer is ``refresh`` seconds old (0: for every batch), so a
    customer who withdraws is gone from queries that start ``refresh`` seconds later.
    ``store`` must stay open while the view is read.
    """
    with from_extra("dp"):
        import duckdb

    view = view or f"{source}_{role}"
    for what, name in (("source", source), ("view", view)):
        if not _IDENTIFIER.match(name):
            raise ParameterError(f"{what} {name!r} must be a plain SQL identifier (letters, _)")
    relation = con.sql(f'SELECT * FROM "{source}" LIMIT 1000')
    # DuckDB 1.x calls it arrow(), 2.x to_arrow_table().
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    sample = fetch()
    plan = plan_for_role(policy, sample, role, purpose=purpose, labels=labels, as_of=as_of)
    plan, live = view_consent(
        plan,
        policy,
        sample.schema,
        store=store,
        keys=keys,
        consent=consent,
        as_of=as_of,
        people=people,
        refresh=refresh,
    )
    masked_sample = apply_plan(plan, sample, keys=keys, as_of=as_of)
    declared = {row[0]: row[1] for row in con.execute(f'DESCRIBE "{source}"').fetchall()}
    selects = []
    for step in plan.steps:
        if step.operator is None:
            continue
        assert step.operator is not None
        if not _IDENTIFIER.match(step.column):
            raise SchemaError(f"column {step.column!r} is not a plain SQL identifier")
        udf = f"shopveil_{view}_{step.column}"
        context = OperatorContext(
            purpose=plan.purpose, column=step.column, keys=keys, as_of=as_of or date.today()
        )
        output_type = _duckdb_type(masked_sample.schema.field(step.column).type)

        with contextlib.suppress(duckdb.Error):  # not registered yet: nothing to remove
            con.remove_function(udf)
        con.create_function(
            udf,
            _udf(step.operator, context),
            [duckdb.sqltype(declared[step.column])],
            duckdb.sqltype(output_type),
            type="arrow",
            null_handling="special",
            side_effects=True,
        )
        selects.append(f'{udf}("{step.column}") AS "{step.column}"')
    if not selects:
        raise PolicyError(f"role {role!r} may see no column of {source!r}; no view was made")
    checks = row_check_columns(plan)
    where = ""
    if checks:
        bad = [c for c in checks if not _IDENTIFIER.match(c)]
        if bad:
            raise SchemaError(f"column {bad[0]!r} is not a plain SQL identifier")
        udf = f"shopveilrows_{view}"  # column UDFs start "shopveil_"
        fields = ", ".join(f'"{c}" {declared[c]}' for c in checks)
        packed = ", ".join(f'"{c}" := "{c}"' for c in checks)
        with contextlib.suppress(duckdb.Error):
            con.remove_function(udf)
        con.create_function(
            udf,
            _row_udf(plan, live),
            [duckdb.sqltype(f"STRUCT({fields})")],
            duckdb.sqltype("BOOLEAN"),
            type="arrow",
            null_handling="special",
            side_effects=True,
        )
        where = f" WHERE {udf}(struct_pack({packed}))"
    con.execute(
        f'CREATE OR REPLACE VIEW "{view}" AS SELECT {", ".join(selects)} FROM "{source}"{where}'
    )
    return view
