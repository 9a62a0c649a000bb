"""``shopveil retention run``: delete what the store keeps past the policy's periods."""

from __future__ import annotations

from typing import Annotated

import typer

from shopveil._commands._common import console, translate_errors
from shopveil._commands.dp import open_default

__all__ = ["register"]

retention_app = typer.Typer(
    help="Retention: delete what ShopVeil's store keeps past the policy's periods.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")


@retention_app.command("run")
@translate_errors
def run(
    policy: Annotated[
        str,
        typer.Option(help="Preset or policy YAML file whose retention.store sets the periods."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor", help="Who is acting, recorded in the audit log \\[default: your user name]."
        ),
    ] = None,
) -> None:
    """Delete superseded consent records and erased customers' vault values past their period.

    The decision in force, the audit log, the DP ledger and data outside the store are
    never deleted; the audit event lists what the job cannot reach.
    """
    from shopveil.governance import NOT_REACHED, run_retention
    from shopveil.policy import load_policy

    rules = load_policy(policy).processing.store_retention
    with open_default(actor=actor) as workspace:
        done = run_retention(
            workspace.store, workspace.audit, rules, actor=workspace.actor, dry_run=dry_run
        )
    verb = "would delete" if done.dry_run else "deleted"
    consent = (
        f"consent records decided before {done.consent_before}"
        if done.consent_before
        else "consent records (no retention.store.consent_history period)"
    )
    erased = (
        f"vault values of customers erased before {done.erased_before}"
        if done.erased_before
        else "vault values of erased customers (no retention.store.erased_subjects period)"
    )
    console.print(f"{verb} {done.consent_records} superseded {consent}", markup=False)
    console.print(f"{verb} {done.vault_values} {erased}", markup=False)
    if done.audit_seq is not None:
        console.print(f"audit event #{done.audit_seq}", markup=False)
    for item in NOT_REACHED:
        console.print(f"not reached: {item}", markup=False, highlight=False)
