"""``shopveil data add|list|show|remove``: the data steward's catalog of datasets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from shopveil._commands._common import console, err_console, translate_errors
from shopveil._commands.dp import open_default
from shopveil.errors import ParameterError, SourceError

if TYPE_CHECKING:
    from shopveil._core.budgets import Budget

__all__ = ["register"]

data_app = typer.Typer(
    help="Register datasets: their privacy unit, budget per person and people.",
    no_args_is_help=True,
)
_ACTOR = typer.Option(
    "--actor", help="Who is acting, recorded in the audit log \\[default: your user name]."
)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


def _budget(text: str | None) -> Budget | None:
    """``EPSILON[,DELTA]``: δ defaults to ``DEFAULT_DELTA``; ``,0`` is pure ε-DP."""
    from shopveil._core.budgets import DEFAULT_DELTA, ApproxDP, PureDP

    if text is None:
        return None
    epsilon, _, delta = text.partition(",")
    try:
        eps, dlt = float(epsilon), float(delta) if delta.strip() else DEFAULT_DELTA
    except ValueError:
        raise ParameterError(
            f"--budget {text!r}: write EPSILON or EPSILON,DELTA, e.g. --budget 1,1e-6"
        ) from None
    # Out-of-range values get the budget's own message (which names the fix).
    return ApproxDP(eps, dlt) if dlt != 0 else PureDP(eps)


@data_app.command("add")
@translate_errors
def add(
    name: Annotated[str, typer.Argument(help="The dataset's name, e.g. orders.")],
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    unit: Annotated[
        str,
        typer.Option(
            "--unit",
            help="The customer id column, or 'row' to declare every row a different person.",
        ),
    ],
    max_contributions: Annotated[
        int, typer.Option("--max-contributions", help="Rows kept per customer by default.")
    ] = 1,
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget",
            help="Budget per person, EPSILON\\[,DELTA] \\[default: 1,1e-6; DELTA defaults to "
            "1e-6, below 1/n for fewer than a million people; DELTA 0 is pure ε-DP, which "
            "refuses releases that need δ].",
        ),
    ] = None,
    renewal: Annotated[str, typer.Option(help="never, daily or monthly.")] = "never",
    id_type: Annotated[
        str, typer.Option("--id-type", help="auto, integer or string: how the ids are written.")
    ] = "auto",
    namespace: Annotated[
        str, typer.Option(help="Whose ids these are; people of one namespace share budgets.")
    ] = "customer",
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Register a dataset with its privacy unit; every later release follows its people."""
    from shopveil._core.subjects import IdType
    from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
    from shopveil.dp import Renewal, read_contents

    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if renewal not in {r.value for r in Renewal}:
        raise ParameterError(f"--renewal must be never, daily or monthly, got {renewal!r}")
    if id_type not in {t.value for t in IdType}:
        raise ParameterError(f"--id-type must be auto, integer or string, got {id_type!r}")
    total = _budget(budget)
    privacy_unit: PrivacyUnit = (
        PerRow()
        if unit == "row"
        else PerCustomer(unit, max_contributions, IdType(id_type), namespace)
    )
    with open_default(actor) as workspace:
        if workspace.catalog.find(name) is not None:
            raise ParameterError(
                f"a dataset named {name!r} is registered already; remove it first with "
                f"`shopveil data remove {name}`"
            )
        with err_console.status(f"reading {path.name}", spinner="dots"):
            contents = read_contents(path, privacy_unit, workspace.ledger)
        entry = workspace.catalog.add(
            name,
            path,
            privacy_unit,
            contents,
            budget=total,
            renewal=Renewal(renewal),
            actor=workspace.actor,
        )
        per_person = workspace.ledger.show(entry.name, entry.unit).total
    console.print(
        f"registered {entry.name}: {entry.rows:,} rows, {entry.people:,} "
        f"{'people' if isinstance(entry.unit, PerCustomer) else 'rows as people'}, "
        f"privacy unit {entry.unit.describe()}, budget per person {per_person}",
        highlight=False,
        markup=False,
    )
    _check_delta(entry.name, per_person, entry.people)


def _check_delta(name: str, budget: Budget, people: int) -> None:
    """A note when δ is not below 1/n: then δ no longer bounds a rare failure for everyone."""
    delta = getattr(budget, "delta", 0.0)
    if not people or delta < 1 / people:
        return
    smaller = 10.0 ** math.floor(math.log10(1 / (10 * people)))
    err_console.print(
        f"note: δ={delta:g} is not below 1/n for these {people:,} people; set a smaller "
        f"one with `shopveil budget set {name} --epsilon {budget.epsilon:g} --delta {smaller:g}`",  # type: ignore[union-attr]
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@data_app.command("list")
@translate_errors
def list_datasets(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every registered dataset."""
    with open_default() as workspace:
        entries = workspace.catalog.datasets()
    if json_output:
        print(json.dumps([e.to_dict() for e in entries]))
        return
    out = Table(title="registered datasets")
    for header in ("name", "unit", "rows", "people", "path"):
        out.add_column(header)
    for e in entries:
        out.add_row(
            escape(e.name),
            escape(e.unit.describe()),
            f"{e.rows:,}",
            f"{e.people:,}",
            escape(e.path),
        )
    console.print(out)


@data_app.command("show")
@translate_errors
def show(
    name: Annotated[str, typer.Argument(help="A registered dataset.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One registered dataset: its unit, schema, size, and who registered it."""
    with open_default() as workspace:
        entry = workspace.catalog.get(name)
    if json_output:
        print(json.dumps(entry.to_dict()))
        return
    for field, value in entry.to_dict().items():
        if field == "columns":
            value = ", ".join(f"{c['name']} {c['type']}" for c in value)
        console.print(f"{field}: {value}", highlight=False, markup=False)


@data_app.command("remove")
@translate_errors
def remove(
    name: Annotated[str, typer.Argument(help="A registered dataset.")],
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Unregister a dataset; its charges and its people's spending stay in the ledger."""
    with open_default(actor) as workspace:
        workspace.catalog.remove(name, actor=workspace.actor)
    console.print(f"removed {name}", highlight=False, markup=False)
