"""``shopveil fl vertical``: the retailer and a partner train one churn model on their columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shopveil._commands._common import console, translate_errors
from shopveil._commands.learn import Law, People, Purpose
from shopveil.errors import ParameterError

__all__ = ["vertical"]


@translate_errors
def vertical(
    data: Annotated[Path, typer.Option("--data", help="Online Retail CSV (plain or .gz).")],
    partner_columns: Annotated[
        str,
        typer.Option(
            "--partner-columns",
            help="Comma-separated features the partner holds; the retailer holds the rest "
            r"\[default: distinct_items, purchases_30d, purchases_90d, return_rate].",
        ),
    ] = "",
    share: Annotated[
        float,
        typer.Option("--share", help="Fraction of the customers each party holds (drawn apart)."),
    ] = 0.85,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the data.")] = 20,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Customers per mini-batch.")
    ] = 64,
    learning_rate: Annotated[
        float, typer.Option("--learning-rate", help="Step size of each party's update.")
    ] = 0.5,
    protect_labels: Annotated[
        bool,
        typer.Option(
            "--protect-labels",
            help="Send the residuals encrypted (Paillier) and the partner's gradient "
            "masked: the partner never sees a residual (one encryption per customer and "
            "epoch).",
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL of the consent register \\[default: local]."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    purpose: Purpose = "personalization",
    jurisdiction: Law = None,
    people: People = None,
) -> None:
    """Vertical FL: align customers by private set intersection, train one model on both
    parties' columns, and print its AUC next to the centralized model's.

    The file's churn features are split between the retailer (labels and its columns)
    and a partner (--partner-columns), each holding a random --share of the customers.
    They find their common customers by PSI (neither learns ids outside it) and train
    split logistic regression: only partial scores and residuals cross, never a feature
    column (with --protect-labels the residuals, whose signs are the labels, cross
    encrypted). Prints auc (vertical), central_auc (the same model on the pooled
    columns, in one place) and retailer_only_auc (the retailer's columns alone).
    Customers without a lawful basis for --purpose take no part.
    """
    from shopveil._workspace import open_workspace
    from shopveil.data import load_online_retail
    from shopveil.federated import LocalTraining, churn_data, split_parties, train_vertical
    from shopveil.learn import consenting

    columns = tuple(c.strip() for c in partner_columns.split(",")) if partner_columns else ()
    if not 0 < share <= 1:
        raise ParameterError(f"--share must be in (0, 1], got {share}")
    if not 0 < learning_rate < float("inf"):
        raise ParameterError(f"--learning-rate must be > 0, got {learning_rate}")
    training = LocalTraining(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
    task = churn_data(load_online_retail(data))
    workspace = open_workspace(db)
    try:
        allowed = consenting(
            workspace.allowed_subjects(purpose, jurisdiction, people), task.customers
        )
    finally:
        workspace.close()
    if not allowed.all():
        task = task.of_customers(allowed)
    try:
        retailer, partner = split_parties(task, columns or None, share=share)
    except ParameterError as exc:
        raise ParameterError(f"--partner-columns: {exc}") from None
    out = train_vertical(retailer, partner, training, protect_labels=protect_labels).as_dict()
    out |= {"retailer_columns": list(retailer.columns), "partner_columns": list(partner.columns)}
    if json_output:
        print(json.dumps(out, allow_nan=False))
        return
    for key, value in out.items():
        console.print(f"{key}: {value}", highlight=False)
