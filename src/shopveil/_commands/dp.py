"""``shopveil query``: a thin adapter over ``shopveil.dp``."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shopveil._commands._common import console, err_console, split_names, translate_errors
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil._core.budgets import Budget
    from shopveil._core.units import PrivacyUnit
    from shopveil._workspace import Workspace

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("query")(query)


def _pairs(values: list[str] | None, option: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, found, rest = item.partition("=")
        if not found or not name or not rest:
            raise ParameterError(f"{option} takes NAME=VALUE, got {item!r}; e.g. {option} {sep}")
        out[name.strip()] = rest.strip()
    return out


def _bounds(values: list[str] | None) -> dict[str, tuple[float, float]]:
    out = {}
    for name, text in _pairs(values, "--bounds", "revenue=0:500").items():
        low, found, high = text.partition(":")
        try:
            out[name] = (float(low), float(high))
        except ValueError:
            raise ParameterError(
                f"--bounds {name}={text}: write LOW:HIGH, e.g. --bounds {name}=0:500"
            ) from None
        if not found:
            raise ParameterError(f"--bounds {name}={text}: write LOW:HIGH")
    return out


def _unit(column: str | None, max_contributions: int | None) -> PrivacyUnit | None:
    """The unit the analyst asks for; None leaves it to the catalog (or refuses ids)."""
    from shopveil._core.units import PerCustomer

    if column is None:
        if max_contributions is not None:
            raise ParameterError("--max-contributions needs --privacy-unit COLUMN")
        return None
    return PerCustomer(column, max_contributions or 1)


@contextmanager
def open_default(actor: str | None = None, **options: Any) -> Iterator[Workspace]:
    """The workspace at ``SHOPVEIL_DB_URL`` / ``SHOPVEIL_HOME``, closed afterwards."""
    from shopveil._workspace import open_workspace

    workspace = open_workspace(actor=actor, **options)
    try:
        yield workspace
    finally:
        workspace.close()


@translate_errors
def query(
    sql: Annotated[str, typer.Argument(help='The query, e.g. "SELECT COUNT(*) FROM orders".')],
    data: Annotated[
        str, typer.Option("--data", help="CSV or Parquet file, or a registered dataset's name.")
    ],
    epsilon: Annotated[float, typer.Option("--epsilon", help="The query's total ε.")],
    table: Annotated[
        str | None, typer.Option("--table", help="Table name \\[default: the file's stem].")
    ] = None,
    privacy_unit: Annotated[
        str | None,
        typer.Option(
            "--privacy-unit",
            help="Customer id column \\[default: the registered dataset's; data holding "
            "customer ids needs one].",
        ),
    ] = None,
    max_contributions: Annotated[
        int | None,
        typer.Option(
            "--max-contributions",
            help="Rows kept per customer \\[default: bounds chosen privately, see --explain].",
        ),
    ] = None,
    delta: Annotated[
        float, typer.Option("--delta", help="δ for choosing GROUP BY keys privately.")
    ] = 1e-8,
    bounds: Annotated[
        list[str] | None,
        typer.Option("--bounds", help="Clamping bounds NAME=LOW:HIGH (alias or column)."),
    ] = None,
    keys: Annotated[
        list[str] | None,
        typer.Option("--keys", help="Public GROUP BY values NAME=v1,v2,... (no selection)."),
    ] = None,
    analyst: Annotated[str, typer.Option(help="Who asks; charged to their sub-budget.")] = "-",
    purpose: Annotated[
        str,
        typer.Option(
            help="Why: charged to its sub-budget, and customers without a lawful basis for it "
            r"(the consent register, under --policy's law) are left out \[default: analytics]."
        ),
    ] = "-",
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Retry-safe id: charged once.")
    ] = None,
    estimate_bounds: Annotated[
        bool,
        typer.Option("--estimate-bounds", help="Estimate missing bounds privately (ε/5)."),
    ] = False,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            help="Policy file or preset: its dp: section gives bounds, privacy unit and the "
            "default budget (options given here win).",
        ),
    ] = None,
    people: Annotated[
        Path | None,
        typer.Option(
            "--people",
            help="The customers' table (id and birth date or age): the minors --policy's law "
            "leaves out of --purpose are left out of the query.",
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print how ε was split, and why.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local (DuckDB), or spark: filter, bound and aggregate as Spark jobs, noise "
            "here (the spark extra; needs --max-contributions and --bounds)."
        ),
    ] = "local",
    master: Annotated[
        str, typer.Option(help="With --engine spark: local[N], local[*] or spark://HOST:PORT.")
    ] = "local[*]",
) -> None:
    """Answer an aggregate SQL query with differential privacy, charged to the ledger."""
    if engine not in ("local", "spark"):
        raise ParameterError(f"--engine: expected local or spark, got {engine!r}")
    from shopveil._core.budgets import PureDP
    from shopveil.dp import DEFAULT_TOTAL, AutoBounds, QueryOptions, run_query

    chosen: dict[str, Any] = {
        "delta": delta,
        "bounds": _bounds(bounds),
        "keys": {
            k: tuple(split_names(v)) for k, v in _pairs(keys, "--keys", "Country=UK,FR").items()
        },
        "analyst": analyst,
        "purpose": purpose,
        "estimate_bounds": estimate_bounds,
    }
    if privacy_unit is not None or policy is None:
        chosen["unit"] = _unit(privacy_unit, max_contributions)
    elif max_contributions is not None:
        raise ParameterError("--max-contributions needs --privacy-unit COLUMN")
    # Nothing bounds the query: it chooses its bounds itself, privately.
    manual = bool(chosen["bounds"]) or max_contributions is not None or estimate_bounds
    default_total: Budget = DEFAULT_TOTAL
    jurisdiction = None
    if policy is None:
        if not manual:
            chosen["automatic"] = AutoBounds()
        options = QueryOptions(epsilon=PureDP(epsilon), **chosen)
    else:
        from shopveil.policy import load_policy

        loaded = load_policy(policy)
        if not (manual or loaded.dp.bounds or loaded.dp.unit is not None):
            chosen["automatic"] = AutoBounds()
        options = QueryOptions.from_policy(loaded, epsilon=PureDP(epsilon), **chosen)
        default_total = loaded.dp.default_budget or DEFAULT_TOTAL
        jurisdiction = loaded.jurisdiction
    with (
        open_default(actor=analyst, default_total=default_total) as workspace,
        err_console.status("running the DP query", spinner="dots"),
    ):
        run: Any = run_query
        if engine == "spark":
            from shopveil.pipeline import query_file_on_spark

            run = partial(query_file_on_spark, master=master)
        answer = run(
            sql,
            data,
            options=options,
            ledger=workspace.ledger,
            catalog=workspace.catalog,
            table=table,
            request_id=request_id,
            subjects=workspace.allowed_subjects(purpose, jurisdiction, people),
        )
    if json_output:
        print(answer.to_json())
        return
    from shopveil.dp import Cell

    # Group values, column and dataset names are data, never Rich markup.
    out = Table(title=escape(f"DP answer on {answer.dataset} (cost {answer.cost})"))
    biased = {
        c
        for c in answer.columns
        if any(isinstance(r.get(c), Cell) and r[c].low_with_bias is not None for r in answer.rows)
    }
    for column in answer.columns:
        out.add_column(escape(column), justify="right")
        if column in biased:
            out.add_column(escape(f"{column}: bias → interval with bias"), justify="right")
    for row in answer.rows:
        shown = []
        for column in answer.columns:
            v = row.get(column)
            shown.append(escape(v.render() if isinstance(v, Cell) else str(v)))
            if column in biased:
                shown.append(escape(v.render_bias() if isinstance(v, Cell) else "-"))
        out.add_row(*shown)
    console.print(out)
    left = f"budget left for {answer.dataset} ({answer.unit}): {answer.budget_left}"
    left += f" of {answer.budget_total}"
    if answer.default_budget:
        unit = " --unit row" if answer.unit == "row" else ""
        left += (
            " [default budget: none was set; set one with "
            f"`shopveil budget set {shlex.quote(answer.dataset)} --epsilon 1{unit}`]"
        )
    if answer.replayed:
        left += " (a retry: the stored answer, not charged again)"
    console.print(left, highlight=False, markup=False, soft_wrap=True)
    split = ", ".join(f"{name} ε={eps:.4g}" for name, eps in answer.split)
    console.print(f"budget split: {split}", highlight=False, markup=False, soft_wrap=True)
    for note in answer.notes:
        console.print(f"  note: {note}", highlight=False, markup=False, soft_wrap=True)
    if explain:
        for line in answer.explain:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
