"""``shopveil recommend``: a thin adapter over ``shopveil.learn``'s user-side scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from shopveil._commands._common import console, err_console, translate_errors
from shopveil.errors import SourceError

if TYPE_CHECKING:
    from shopveil._core.subjects import SubjectFilter

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend)


Column = Annotated[str | None, typer.Option(help="History column name, if not detected.")]


@translate_errors
def recommend(
    model: Annotated[
        Path, typer.Option("--model", help="Model file written by `shopveil train` (.npz).")
    ],
    customer: Annotated[
        list[str],
        typer.Option(
            "--customer",
            help="Customer id; repeat for several (17850, 17850.0 and 017850 are one).",
        ),
    ],
    k: Annotated[int, typer.Option("--k", help="Items per customer.")] = 10,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="Purchases file holding the customers' own purchases (customer, item and "
            "time columns, as for train); without it every customer is new to the model.",
        ),
    ] = None,
    new_only: Annotated[
        bool, typer.Option("--new-only", help="Leave out the items a customer bought.")
    ] = False,
    catalogue: Annotated[
        Path | None,
        typer.Option(
            "--catalogue",
            help="Public product list naming the items, for a model file saved without "
            "descriptions.",
        ),
    ] = None,
    user: Column = None,
    item: Column = None,
    time: Column = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    purpose: Annotated[
        str,
        typer.Option(
            "--purpose",
            help="Why: a customer without a lawful basis for it in the consent register gets "
            "the list for a new customer, not one built from their purchases.",
        ),
    ] = "personalization",
    jurisdiction: Annotated[
        str | None,
        typer.Option(
            "--jurisdiction",
            help="gdpr, ccpa, lgpd or pipl: the law whose table decides whether the purpose "
            "needs consent \\[default: none named].",
        ),
    ] = None,
    people: Annotated[
        Path | None,
        typer.Option(
            "--people",
            help="The customers' table (id and birth date or age): with --jurisdiction, a "
            "minor its law leaves out of the purpose gets the list for a new customer.",
        ),
    ] = None,
) -> None:
    """A customer's top-k items from a trained model and their own purchases; no budget spent.

    The model holds only what training released; each customer's list is computed from
    it and from that customer's purchases in --history, so nothing about anyone else is
    read and nothing is charged. A customer the history does not hold gets the model's
    ranking for a new customer (popular items), with a note; so does a customer who
    objected to personalization (or, where the law asks consent, did not grant it), and
    a minor the law leaves out of it (by the ages in --people).
    """
    from shopveil._workspace import open_workspace
    from shopveil.learn import (
        FitContext,
        load_catalogue,
        load_history,
        load_recommender,
        model_catalogue,
    )
    from shopveil.learn import recommend as score

    if not model.is_file():
        raise SourceError(f"--model {model}: no such model file; write one with `shopveil train`")
    fitted, file = load_recommender(model)
    named = model_catalogue(file, load_catalogue(catalogue) if catalogue is not None else None)
    if history is not None and not history.exists():
        raise SourceError(f"--history {history}: no such file or folder")
    purchases = (
        load_history(history, named, user=user, item=item, time=time)
        if history is not None
        else None
    )
    with open_workspace() as workspace:
        subjects = workspace.allowed_subjects(purpose, jurisdiction, people)
    objecting = _objecting(subjects, customer)
    if purchases is not None:
        purchases = FitContext(subjects=subjects).consented(purchases)
    lists = score(fitted, named, customer, history=purchases, k=k, new_only=new_only)
    if objecting:
        err_console.print(
            f"note: {objecting} of {len(lists)} customers have no lawful basis for "
            f"{purpose} in the consent register, or are minors the law leaves out of it: "
            "their purchases were not read, and they get the list for a new customer",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    new = sum(not one.known for one in lists) - objecting
    if new:
        where = "the history" if history is not None else "no --history given"
        err_console.print(
            f"note: {new} of {len(lists)} customers have no purchases in {where}: they get "
            "the model's ranking for a new customer (popular items)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if named.texts is None:
        err_console.print(
            "note: the model file holds no item descriptions; pass --catalogue FILE to name "
            "its items",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    privacy = file.privacy
    if json_output:
        saved = privacy.to_json()
        out = {
            "model": fitted.name,
            "privacy": {
                key: saved[key] for key in ("budget", "unit", "window_start", "window_end")
            },
            "k": k,
            "customers": [one.to_dict() for one in lists],
        }
        print(json.dumps(out, ensure_ascii=False))
        return
    guarantee = "not private" if privacy.budget is None else f"{privacy.budget} per customer"
    for one in lists:
        seen = f"{one.purchases} items bought" if one.known else "no purchases: a new customer"
        table = Table(title=Text(f"customer {one.customer} ({seen}); {fitted.name}, {guarantee}"))
        table.add_column("#", justify="right")
        table.add_column("item")
        table.add_column("description", overflow="fold")
        for pick in one.items:
            table.add_row(str(pick.rank), Text(pick.item), Text(pick.description or "–"))
        console.print(table)


def _objecting(subjects: SubjectFilter, customers: list[str]) -> int:
    import pyarrow as pa

    return int((~subjects.allowed(pa.array(customers, pa.string()))).sum())
