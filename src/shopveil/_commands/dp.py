"""``shopveil query`` and ``shopveil budget show|set|reset``: thin adapters over ``shopveil.dp``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shopveil._commands._common import console, err_console, split_names, translate_errors
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil.dp import Ledger

__all__ = ["register"]

_ACTOR = typer.Option(help="Who is acting, recorded in the audit log.")

budget_app = typer.Typer(help="Show, set or reset privacy budgets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.add_typer(budget_app, name="budget")


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


def _unit(column: str | None, max_contributions: int) -> object:
    from shopveil._core.units import PerCustomer, PerRow

    if column is None:
        if max_contributions != 1:
            raise ParameterError("--max-contributions needs --privacy-unit COLUMN")
        return PerRow()
    return PerCustomer(column, max_contributions)


@contextmanager
def _ledger(**options: Any) -> Iterator[Ledger]:
    """A ledger on the default store whose charges and changes go to its audit log."""
    from shopveil.audit import AuditLog
    from shopveil.dp import Ledger
    from shopveil.keys import Keyring
    from shopveil.store import Store

    store = Store.open()
    try:
        audit = AuditLog(store, Keyring.open(store))
        yield Ledger(store, audit=audit, **options)
    finally:
        store.close()


def _unit_key(text: str) -> str:
    if text == "row" or text.startswith("customer:"):
        return text
    return f"customer:{text}"


@translate_errors
def query(
    sql: Annotated[str, typer.Argument(help='The query, e.g. "SELECT COUNT(*) FROM orders".')],
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet file to query.")],
    epsilon: Annotated[float, typer.Option("--epsilon", help="The query's total ε.")],
    table: Annotated[
        str | None, typer.Option("--table", help="Table name [default: the file's stem].")
    ] = None,
    privacy_unit: Annotated[
        str | None,
        typer.Option("--privacy-unit", help="Customer id column; default: one row is one person."),
    ] = None,
    max_contributions: Annotated[
        int, typer.Option("--max-contributions", help="Rows kept per customer.")
    ] = 1,
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
    purpose: Annotated[str, typer.Option(help="Why; charged to its sub-budget.")] = "-",
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
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Answer an aggregate SQL query with differential privacy, charged to the ledger."""
    from shopveil._core.budgets import Budget, PureDP
    from shopveil.dp import DEFAULT_TOTAL, QueryOptions, run_query

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
    elif max_contributions != 1:
        raise ParameterError("--max-contributions needs --privacy-unit COLUMN")
    default_total: Budget = DEFAULT_TOTAL
    if policy is None:
        options = QueryOptions(epsilon=PureDP(epsilon), **chosen)
    else:
        from shopveil.policy import load_policy

        loaded = load_policy(policy)
        options = QueryOptions.from_policy(loaded, epsilon=PureDP(epsilon), **chosen)
        default_total = loaded.dp.default_budget or DEFAULT_TOTAL
    with (
        _ledger(default_total=default_total) as ledger,
        err_console.status("running the DP query", spinner="dots"),
    ):
        answer = run_query(
            sql, data, options=options, ledger=ledger, table=table, request_id=request_id
        )
    if json_output:
        print(answer.to_json())
        return
    from shopveil.dp import Cell

    # Group values, column and dataset names are data, never Rich markup.
    out = Table(title=escape(f"DP answer on {answer.dataset} (cost {answer.cost})"))
    for column in answer.columns:
        out.add_column(escape(column), justify="right")
    for row in answer.rows:
        out.add_row(
            *(
                escape(v.render() if isinstance(v, Cell) else str(v))
                for v in (row.get(c) for c in answer.columns)
            )
        )
    console.print(out)
    left = f"budget left for {answer.dataset} ({answer.unit}): {answer.budget_left}"
    left += f" of {answer.budget_total}"
    if answer.default_budget:
        left += " [default budget: none was set; set one with `shopveil budget set`]"
    if answer.replayed:
        left += " (a retry: the stored answer, not charged again)"
    console.print(left, highlight=False, markup=False)
    split = ", ".join(f"{name} ε={eps:.4g}" for name, eps in answer.split)
    console.print(f"budget split: {split}", highlight=False, markup=False)
    for note in answer.notes:
        console.print(f"  note: {note}", highlight=False, markup=False)


@budget_app.command("show")
@translate_errors
def budget_show(
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset (table name); all if omitted.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show budgets: total, spent in the current period, left, sub-budgets."""
    from shopveil.dp import Ledger
    from shopveil.dp._query._answer import budget_dict
    from shopveil.store import Store

    store = Store.open()
    try:
        states = Ledger(store).accounts(dataset)
    finally:
        store.close()
    if json_output:
        rows = [
            {
                "dataset": s.dataset,
                "unit": s.unit,
                "total": budget_dict(s.total),
                "spent": budget_dict(s.spent),
                "left": budget_dict(s.remaining),
                "renewal": s.renewal.value,
                "period": s.period,
                "default": s.is_default,
                "sub_budgets": [
                    {
                        "scope": b.scope,
                        "name": b.name,
                        "limit": budget_dict(b.limit),
                        "spent": budget_dict(b.spent),
                    }
                    for b in s.sub_budgets
                ],
            }
            for s in states
        ]
        print(json.dumps(rows))
        return
    out = Table(title="privacy budgets")
    for header in ("dataset", "unit", "total", "spent", "left", "renewal", "sub-budgets"):
        out.add_column(header)
    for s in states:
        subs = "; ".join(f"{b.scope} {b.name}: {b.spent} of {b.limit}" for b in s.sub_budgets)
        total = f"{s.total}{' (default)' if s.is_default else ''}"
        cells = (s.dataset, s.unit, total, str(s.spent), str(s.remaining), s.renewal.value, subs)
        out.add_row(*(escape(cell) for cell in cells))
    console.print(out)


@budget_app.command("set")
@translate_errors
def budget_set(
    dataset: Annotated[str, typer.Argument(help="Dataset (table name).")],
    epsilon: Annotated[float | None, typer.Option("--epsilon", help="Total ε.")] = None,
    delta: Annotated[float, typer.Option("--delta", help="Total δ (0: pure ε-DP).")] = 0.0,
    rho: Annotated[float | None, typer.Option("--rho", help="Total ρ (zCDP) instead of ε.")] = None,
    unit: Annotated[str, typer.Option("--unit", help="'row' or the customer id column.")] = "row",
    renewal: Annotated[str, typer.Option(help="never, daily or monthly.")] = "never",
    analyst: Annotated[str | None, typer.Option(help="Set this analyst's sub-budget.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Set this purpose's sub-budget.")] = None,
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Set a dataset's total budget, or an analyst's or purpose's sub-budget within it."""
    from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
    from shopveil.dp import Renewal

    if (epsilon is None) == (rho is None):
        raise ParameterError("give exactly one of --epsilon or --rho")
    total: Budget = (
        ZCDP(rho) if rho is not None else ApproxDP(epsilon, delta) if delta else PureDP(epsilon)  # type: ignore[arg-type]
    )
    if renewal not in {r.value for r in Renewal}:
        raise ParameterError(f"--renewal must be never, daily or monthly, got {renewal!r}")
    if analyst and purpose:
        raise ParameterError("set one sub-budget at a time: --analyst or --purpose")
    with _ledger() as ledger:
        key = _unit_key(unit)
        if analyst or purpose:
            scope, name = ("analyst", analyst) if analyst else ("purpose", purpose)
            state = ledger.set_sub_budget(
                dataset, key, scope=scope, name=name or "", limit=total, actor=actor
            )
        else:
            state = ledger.set_budget(dataset, key, total, renewal=Renewal(renewal), actor=actor)
    console.print(
        f"{state.dataset} ({state.unit}): total {state.total}, left {state.remaining}",
        highlight=False,
        markup=False,
    )


@budget_app.command("reset")
@translate_errors
def budget_reset(
    dataset: Annotated[str, typer.Argument(help="Dataset (table name).")],
    unit: Annotated[str, typer.Option("--unit", help="'row' or the customer id column.")] = "row",
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Start a dataset's spending again from zero (the charge history is kept)."""
    with _ledger() as ledger:
        state = ledger.reset(dataset, _unit_key(unit), actor=actor)
    console.print(
        f"{state.dataset} ({state.unit}): spending reset, {state.remaining} left",
        highlight=False,
        markup=False,
    )
