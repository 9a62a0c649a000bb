"""``shopveil consent import|show``: the consent register every release obeys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopveil._commands._common import console, translate_errors
from shopveil._commands.dp import open_default

__all__ = ["register"]

consent_app = typer.Typer(
    help="The consent register: each customer's grants, refusals and withdrawals per purpose.",
    no_args_is_help=True,
)
_ACTOR = typer.Option(
    "--actor", help="Who is acting, recorded in the audit log \\[default: your user name]."
)


def register(app: typer.Typer) -> None:
    app.add_typer(consent_app, name="consent")


@consent_app.command("import")
@translate_errors
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet with columns customer, purpose (analytics, marketing, "
            "personalization, sale_sharing, cross_border, sensitive_data, or gpc for a Global "
            "Privacy Control opt-out), "
            "status (granted, refused, withdrawn) and optionally date (ISO 8601), "
            "jurisdiction and source."
        ),
    ],
    allow_unknown: Annotated[
        bool,
        typer.Option(
            "--allow-unknown",
            help="Record customers that no dataset registered per customer holds.",
        ),
    ] = False,
    source: Annotated[
        str, typer.Option("--source", help="Where the decisions come from, for rows without one.")
    ] = "import",
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Record customers' consent decisions; the whole file is checked before anything is written.

    The latest decision per customer and purpose, by date, is in force; on one date a
    refusal or a withdrawal wins over a grant. Re-importing a file records nothing twice.
    """
    from shopveil.governance import import_consent

    with open_default(actor=actor) as workspace:
        result = import_consent(
            file,
            workspace.consent,
            workspace.catalog,
            actor=workspace.actor,
            allow_unknown=allow_unknown,
            source=source,
        )
    unknown = f", {result.unknown} not in any registered dataset" if result.unknown else ""
    console.print(
        f"{result.rows} decision(s) of {result.customers} customer(s) checked, "
        f"{result.recorded} new{unknown}; audit event #{result.audit_seq}.",
        highlight=False,
        markup=False,
    )
    for purpose, counts in sorted(result.by_purpose.items()):
        line = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        console.print(f"  {purpose}: {line}", highlight=False, markup=False)


@consent_app.command("show")
@translate_errors
def show(
    customer: Annotated[str, typer.Argument(help="The customer's id (any spelling of it).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A customer's decision in force per purpose, with its date, law and source."""
    from shopveil.governance import ConsentPurpose

    with open_default() as workspace:
        current = workspace.consent.current(customer)
    purposes = {
        purpose.value: current[purpose].as_dict() if purpose in current else None
        for purpose in ConsentPurpose
    }
    if json_output:
        print(json.dumps({"purposes": purposes}))
        return
    table = Table(title="consent in force")
    for header in ("purpose", "status", "date", "jurisdiction", "source"):
        table.add_column(header)
    for purpose, record in purposes.items():
        if record is None:
            table.add_row(purpose, "no record", "", "", "")
        else:
            table.add_row(
                purpose,
                record["status"],
                record["date"],
                record["jurisdiction"] or "",
                record["source"],
            )
    console.print(table)
