"""``shopveil synth``: a thin adapter over ``shopveil.synth``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shopveil._commands._common import console, err_console, split_names, translate_errors
from shopveil._commands.dp import _bounds, open_default
from shopveil.errors import ParameterError, SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from shopveil._core.units import PerCustomer, PrivacyUnit
    from shopveil._workspace import Workspace
    from shopveil.dp import People
    from shopveil.policy import Policy
    from shopveil.synth import Synthetic, SynthMethod, SynthOptions

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)


@translate_errors
def synth(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet file to synthesize from.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file (.csv or .parquet).")],
    epsilon: Annotated[float, typer.Option("--epsilon", help="The release's ε.")],
    delta: Annotated[float, typer.Option("--delta", help="The release's δ.")] = 1e-6,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="Synthesizer: mst (a tree of 2-way marginals, fast) or aim (rounds of "
            "workload marginals up to 3-way, slower, closer on 3-way marginals).",
        ),
    ] = "mst",
    rows: Annotated[
        int | None, typer.Option("--rows", help="Rows to draw \\[default: the noisy input count].")
    ] = None,
    bounds: Annotated[
        list[str] | None,
        typer.Option(
            "--bounds",
            help="Public bounds NAME=LOW:HIGH; the column is then numeric, binned over them.",
        ),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", help="Bins per numeric column.")] = 16,
    exclude: Annotated[
        str | None, typer.Option("--exclude", help="Columns to leave out, comma-separated.")
    ] = None,
    privacy_unit: Annotated[
        str | None,
        typer.Option(
            "--privacy-unit",
            help="Customer id column (one row per customer is kept) \\[default: the "
            "registered dataset's, else every row is a different person].",
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            help="Policy file or preset: its direct identifiers are left out, its dp: bounds "
            "used, and --purpose must allow synthetic releases.",
        ),
    ] = None,
    purpose: Annotated[
        str, typer.Option("--purpose", help="Why (checked against --policy).")
    ] = "analytics",
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Retry-safe id: charged once.")
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Also print 1-, 2- and 3-way marginal errors and the distance to the closest "
            "real record (computed from the real data: for the data owner, not to publish).",
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, no progress bar.")
    ] = False,
) -> None:
    """Draw a DP synthetic copy of a table (MST or AIM), charged once to the privacy ledger."""
    from shopveil.data import read_table, write_table
    from shopveil.synth import SynthOptions

    parsed = _bounds(bounds)
    options = SynthOptions(
        epsilon=epsilon,
        delta=delta,
        method=_method(method),
        rows=rows,
        bounds=parsed,
        bins=bins,
        exclude=tuple(split_names(exclude)),
    )
    loaded = _policy(policy, purpose)
    if not source.is_file():
        raise SourceError(f"{source}: no such file; give a CSV or Parquet file")
    public = {**(loaded.dp.bounds if loaded is not None else {}), **parsed}
    table = _typed(read_table(source), public)
    with open_default() as workspace:
        dataset, unit = _account(workspace, source, table, privacy_unit, loaded)
        result = _run(workspace, table, options, dataset, unit, request_id, loaded, json_output)
    write_table(result.table, output)
    summary = {"output": str(output), "dataset": dataset, **result.summary()}
    if report:
        from shopveil.synth import compare_tables

        summary["report"] = compare_tables(
            table.select(list(result.columns)), result.table, bounds=public, bins=bins
        ).to_dict()
    if json_output:
        print(json.dumps(summary))
        return
    console.print(
        f"wrote {result.table.num_rows} synthetic rows to {output} "
        f"(cost {result.cost}, charged to {dataset})",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for name, why in result.dropped.items():
        console.print(f"  left out {name}: {why}", highlight=False, markup=False, soft_wrap=True)
    measured = ", ".join("-".join(edge) for edge in result.edges) or "none"
    console.print(
        f"  marginals measured beyond 1-way: {measured}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if report:
        shown = summary["report"]
        assert isinstance(shown, dict)
        errors = ", ".join(f"{k} {v}" for k, v in shown["marginal_error"].items())
        close = ", ".join(f"{k} {v}" for k, v in shown["closest_record"].items())
        for line in (
            f"  mean total variation distance of marginals: {errors}",
            f"  closest real record (columns that differ): {close}",
            f"  ({shown['note']})",
        ):
            console.print(line, highlight=False, markup=False, soft_wrap=True)


def _method(name: str) -> SynthMethod:
    from shopveil.synth import SynthMethod

    try:
        return SynthMethod(name)
    except ValueError:
        known = ", ".join(m.value for m in SynthMethod)
        raise ParameterError(f"--method must be one of {known}, got {name!r}") from None


def _policy(name: str | None, purpose: str) -> Policy | None:
    if name is None:
        return None
    from shopveil.policy import ReleaseMode, load_policy

    loaded = load_policy(name)
    loaded.require_release(purpose, ReleaseMode.SYNTHETIC, "synthetic data")
    return loaded


def _typed(table: pa.Table, bounds: dict[str, tuple[float, float]]) -> pa.Table:
    """The columns given bounds as numbers (CSV reads them as text)."""
    import pyarrow as pa

    from shopveil.data import TextTypes, apply_types

    names = [name for name in bounds if name in table.column_names]
    types = TextTypes(names)
    types.update(table)
    found = types.types()
    for name in names:
        text = pa.types.is_string(table.schema.field(name).type)
        if text and name not in found and table.column(name).null_count < table.num_rows:
            raise ParameterError(
                f"--bounds {name}: the column holds values that are not numbers; "
                f"drop --bounds {name} to model it by value"
            )
    return apply_types(table, found)


def _account(
    workspace: Workspace, source: Path, table: pa.Table, column: str | None, policy: Policy | None
) -> tuple[str, PrivacyUnit]:
    """The ledger account: the registered dataset the file is, else the file's name; the
    unit: --privacy-unit, else the registered dataset's, else the policy's, else a row."""
    from shopveil._commands._fit import dataset_name
    from shopveil._core.units import PerCustomer, PerRow

    ledger = workspace.ledger

    def people_of(unit: PerCustomer) -> People | None:
        if unit.id_column not in table.column_names:
            return None
        return ledger.people(table.column(unit.id_column), unit)

    entry = workspace.catalog.resolve(source, people_of)
    if column is not None:
        unit: PrivacyUnit = PerCustomer(column)
    elif entry is not None:
        unit = entry.unit
    elif policy is not None and policy.dp.unit is not None:
        unit = policy.dp.unit
    else:
        unit = PerRow()
    return (entry.name if entry is not None else dataset_name(source)), unit


def _run(
    workspace: Workspace,
    table: pa.Table,
    options: SynthOptions,
    dataset: str,
    unit: PrivacyUnit,
    request_id: str | None,
    policy: Policy | None,
    quiet: bool,
) -> Synthetic:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from shopveil.synth import STEPS, synthesize

    progress = Progress(
        TextColumn("[bold]synthesizing: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    )
    task = progress.add_task("start", total=len(STEPS))
    done: list[str] = []

    def on_step(step: str) -> None:
        progress.update(task, description=step, completed=len(done))
        done.append(step)

    with progress:
        return synthesize(
            table,
            options,
            ledger=workspace.ledger,
            dataset=dataset,
            unit=unit,
            request_id=request_id,
            policy=policy,
            on_step=on_step,
        )
