"""``shopveil budget show|set|reset``: thin adapters over the ``shopveil.dp`` ledger."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from shopveil._commands._common import console, translate_errors
from shopveil._commands.dp import open_default
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil._core.budgets import Budget
    from shopveil._core.units import PrivacyUnit
    from shopveil._workspace import Workspace

__all__ = ["register"]

_ACTOR = typer.Option(
    "--actor", help="Who is acting, recorded in the audit log \\[default: your user name]."
)

budget_app = typer.Typer(help="Show, set or reset privacy budgets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(budget_app, name="budget")


def _account_unit(workspace: Workspace, dataset: str, text: str | None) -> PrivacyUnit:
    """The unit of a budget account: the registered dataset's, else ``row`` or customers."""
    from shopveil._core.units import PerCustomer, PerRow

    entry = workspace.catalog.find(dataset)
    if entry is None:
        return PerRow() if text == "row" else PerCustomer(text or "customer")
    unit = entry.unit
    names = {"row"} if isinstance(unit, PerRow) else {"customer", unit.key, unit.id_column}
    if text is not None and text not in names:
        raise ParameterError(
            f"{dataset!r} is registered with privacy unit {unit.describe()}; leave out --unit"
        )
    return unit


@budget_app.command("show")
@translate_errors
def budget_show(
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset (table name); all if omitted.")
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON; budgets are decimal strings, each ledger value rounded to 12 "
            "significant digits (0.2, never 0.19999999999999996).",
        ),
    ] = False,
    history: Annotated[int, typer.Option("--history", help="Charges listed per dataset.")] = 10,
) -> None:
    """Show budgets: per-person total, what people spent, the account and its charges."""
    with open_default() as workspace:
        states = workspace.ledger.accounts(dataset)
        rows: list[dict[str, Any]] = []
        for s in states:
            entry = workspace.catalog.find(s.dataset)
            unit = entry.unit if entry is not None else None
            people: dict[str, Any] | None = None
            if s.unit != "row":
                spending = workspace.ledger.spending(s.unit, s.total)
                people = {
                    "namespace": spending.namespace,
                    "budget_per_person": _decimals(s.total),
                    "most_spent_by_one_person": _decimals(spending.most),
                    "people_exhausted": spending.exhausted_range(),
                }
            charges = workspace.ledger.history(s.dataset, s.unit, limit=history)
            rows.append(
                {
                    "dataset": s.dataset,
                    "registered": entry is not None,
                    "unit": s.unit if unit is None else unit.describe(),
                    "total": _decimals(s.total),
                    "spent": _decimals(s.spent),
                    "left": _decimals(s.remaining),
                    "renewal": s.renewal.value,
                    "period": s.period,
                    "default": s.is_default,
                    "people": people,
                    "sub_budgets": [
                        {
                            "scope": b.scope,
                            "name": b.name,
                            "limit": _decimals(b.limit),
                            "spent": _decimals(b.spent),
                        }
                        for b in s.sub_budgets
                    ],
                    "charges": [{**c.to_dict(), "cost": _decimals(c.cost)} for c in charges],
                }
            )
    if json_output:
        print(json.dumps(rows))
        return
    _print_budgets(rows)


def _print_budgets(rows: list[dict[str, Any]]) -> None:
    """One block per account, label and value, wrapped (never cut) at any width."""
    for row in rows:
        name = row["dataset"] + ("" if row["registered"] else " (unregistered)")
        console.print(Text(name, style="bold", overflow="fold"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        people = row["people"]
        default = " (the default: none was set)" if row["default"] else ""
        renewal = "" if row["renewal"] == "never" else f", renewed {row['renewal']}"
        lines = [
            ("unit", row["unit"]),
            ("budget", f"{_budget_text(row['total'])} per person{default}{renewal}"),
        ]
        if people:
            lines.append(("most spent", f"{_budget_text(people['most_spent_by_one_person'])} "
                          "by one person"))  # fmt: skip
            lines.append(("out of budget", f"{people['people_exhausted']} people"))
        lines.append(("account", f"spent {_budget_text(row['spent'])}, "
                      f"left {_budget_text(row['left'])}"))  # fmt: skip
        for sub in row["sub_budgets"]:
            lines.append((f"{sub['scope']} {sub['name']}", f"spent {_budget_text(sub['spent'])} "
                          f"of {_budget_text(sub['limit'])}"))  # fmt: skip
        for i, charge in enumerate(row["charges"]):
            lines.append((
                "charges" if i == 0 else "",
                f"{charge['at']} {_budget_text(charge['cost'])} by {charge['analyst']} "
                f"({charge['what']}), request {charge['request_id']}",
            ))  # fmt: skip
        for label, value in lines:
            grid.add_row(Text(f"  {label}"), Text(value))
        console.print(grid)


def _decimals(budget: Budget) -> dict[str, str]:
    """A budget's values as exact decimal strings, for JSON.

    The ledger adds floats, so two charges of ε = 0.1 are stored as
    0.19999999999999996. Each value is rounded to 12 significant digits (well below the
    ledger's own tolerance, 1e-9 relative, so the rounding never changes a decision) and
    written as the exact decimal of that rounding: ``"0.2"``, ``"0.000001"``. Significant
    digits, not decimal places: a δ of 1e-13 must not print as 0.
    """
    from shopveil.dp import budget_dict

    return {k: format(Decimal(format(v, ".12g")), "f") for k, v in budget_dict(budget).items()}


_SYMBOLS = {"epsilon": "ε", "delta": "δ", "rho": "ρ"}


def _budget_text(parts: dict[str, str]) -> str:
    """A budget rounded for people: ``ε=0.2, δ=1e-06``."""
    return ", ".join(f"{_SYMBOLS[k]}={float(v):.4g}" for k, v in parts.items())


@budget_app.command("set")
@translate_errors
def budget_set(
    dataset: Annotated[str, typer.Argument(help="Dataset (registered name or table name).")],
    epsilon: Annotated[float | None, typer.Option("--epsilon", help="Total ε per person.")] = None,
    delta: Annotated[
        float | None,
        typer.Option(
            "--delta",
            help="Total δ per person \\[default: 1e-6, below 1/n for fewer than a million "
            "people; for a sub-budget, the account's δ]. 0 is pure ε-DP, which refuses "
            "releases that need δ: GROUP BY keys chosen privately, the dp-cobuy, dp-als "
            "and dp-mf models.",
        ),
    ] = None,
    rho: Annotated[float | None, typer.Option("--rho", help="Total ρ (zCDP) instead of ε.")] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit",
            help="For unregistered data: 'row', or 'customer' (any customer id column) "
            "\\[default: the registered unit, else customer].",
        ),
    ] = None,
    renewal: Annotated[str, typer.Option(help="never, daily or monthly.")] = "never",
    analyst: Annotated[str | None, typer.Option(help="Set this analyst's sub-budget.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Set this purpose's sub-budget.")] = None,
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Set a dataset's budget per person, or an analyst's or purpose's sub-budget in it."""
    from shopveil._core.budgets import DEFAULT_DELTA, ZCDP, ApproxDP, PureDP
    from shopveil.dp import Renewal

    if (epsilon is None) == (rho is None):
        raise ParameterError("give exactly one of --epsilon or --rho")
    if rho is not None and delta is not None:
        raise ParameterError("--delta goes with --epsilon; a --rho (zCDP) budget has no δ")
    if renewal not in {r.value for r in Renewal}:
        raise ParameterError(f"--renewal must be never, daily or monthly, got {renewal!r}")
    if analyst and purpose:
        raise ParameterError("set one sub-budget at a time: --analyst or --purpose")
    defaulted = epsilon is not None and delta is None
    with open_default(actor) as workspace:
        key = _account_unit(workspace, dataset, unit)
        ledger = workspace.ledger
        total: Budget
        if epsilon is None:
            total = ZCDP(rho)  # type: ignore[arg-type]
        else:
            if delta is None:
                account = ledger.show(dataset, key).total if analyst or purpose else None
                delta = DEFAULT_DELTA if account is None else getattr(account, "delta", 0.0)
            total = ApproxDP(epsilon, delta) if delta else PureDP(epsilon)
        if analyst or purpose:
            scope, name = ("analyst", analyst) if analyst else ("purpose", purpose)
            state = ledger.set_sub_budget(
                dataset, key, scope=scope, name=name or "", limit=total, actor=workspace.actor
            )
        else:
            state = ledger.set_budget(
                dataset, key, total, renewal=Renewal(renewal), actor=workspace.actor
            )
    console.print(
        f"{state.dataset} ({state.unit}): total {state.total}, left {state.remaining}",
        highlight=False,
        markup=False,
    )
    if defaulted:
        whose = "the account's δ" if analyst or purpose else f"the default δ={DEFAULT_DELTA:g}"
        console.print(
            f"note: no --delta given: {whose} (--delta 0 for pure ε-DP, which refuses "
            "releases that need δ)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@budget_app.command("reset")
@translate_errors
def budget_reset(
    dataset: Annotated[str, typer.Argument(help="Dataset (registered name or table name).")],
    unit: Annotated[
        str | None, typer.Option("--unit", help="For unregistered data: 'row' or 'customer'.")
    ] = None,
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Start a dataset account's spending again from zero (people's own spending stays)."""
    with open_default(actor) as workspace:
        key = _account_unit(workspace, dataset, unit)
        state = workspace.ledger.reset(dataset, key, actor=workspace.actor)
    console.print(
        f"{state.dataset} ({state.unit}): spending reset, {state.remaining} left",
        highlight=False,
        markup=False,
    )
