"""``shopveil serve`` and ``shopveil access grant|list|revoke``: the service and its keys.

``serve`` hands uvicorn the import path of the app factory (``shopveil.service``), which
reads its settings from ``SHOPVEIL_*`` variables; with ``--workers N`` each worker process
builds its own app from them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from shopveil._commands._common import console, translate_errors
from shopveil._commands.dp import open_default
from shopveil.errors import ParameterError

__all__ = ["register"]

access_app = typer.Typer(
    help="API keys for the service: each names a role of the policy.", no_args_is_help=True
)
_ACTOR = typer.Option(
    "--actor", help="Who is acting, recorded in the audit log \\[default: your user name]."
)
_POLICY = typer.Option(
    "--policy", help="Preset or policy file whose roles and purposes keys are granted from."
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(access_app, name="access")


@translate_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8750,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    policy: Annotated[str | None, _POLICY] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="Model file from `shopveil train`, for /v1/recommendations."),
    ] = None,
    people: Annotated[
        Path | None,
        typer.Option(
            help="The customers' table (id and birth date or age): minors the policy's law "
            "leaves out are not personalized nor queried for marketing."
        ),
    ] = None,
) -> None:
    """Run the HTTP service: the policy, the vault, DP queries, consent and subject rights.

    The store is SHOPVEIL_DB_URL (or the SQLite file in SHOPVEIL_HOME); callers send
    Authorization: Bearer KEY with a key from `shopveil access grant`. The API is
    described at /docs and /openapi.json.
    """
    from shopveil._core.extras import from_extra
    from shopveil.policy import load_policy

    with from_extra("service"):
        import fastapi  # noqa: F401  (the app needs it: say so before the server starts)
        import uvicorn

    if policy is not None:
        load_policy(policy)  # a bad policy fails here, with its file and line
        os.environ["SHOPVEIL_POLICY"] = policy
    if model is not None:
        if not model.is_file():
            raise ParameterError(f"--model {model}: no such model file; write one with train")
        os.environ["SHOPVEIL_MODEL"] = str(model.resolve())
    if people is not None:
        if not people.is_file():
            raise ParameterError(f"--people {people}: no such file")
        os.environ["SHOPVEIL_PEOPLE"] = str(people.resolve())
    uvicorn.run(
        "shopveil.service:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # its lines carry paths with customer ids; the service logs routes
        log_level="info",
    )


@access_app.command("grant")
@translate_errors
def grant(
    name: Annotated[str, typer.Argument(help="The key's name, recorded with every call.")],
    role: Annotated[
        str,
        typer.Option(help="steward, analyst, marketer, support_agent or shop_front."),
    ],
    purpose: Annotated[
        list[str] | None,
        typer.Option(
            "--purpose", help="A purpose the key may act for; repeat \\[default: all the role's]."
        ),
    ] = None,
    policy: Annotated[str, _POLICY] = "gdpr",
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Grant a new API key and print it once; only a keyed hash of it is stored."""
    from shopveil.policy import load_policy

    loaded = load_policy(policy)
    with open_default(actor=actor) as workspace:
        made, key = workspace.access.grant(
            name, role, purpose or [], policy=loaded, actor=workspace.actor
        )
    console.print(
        f"key {made.name!r} for role {made.role} ({', '.join(made.purposes)}); it is shown "
        "only now:",
        highlight=False,
        markup=False,
        style="bold",
    )
    typer.echo(key)


@access_app.command("list")
@translate_errors
def list_keys(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List the keys granted: name, role, purposes, when granted and revoked."""
    with open_default() as workspace:
        grants = workspace.access.grants()
    if json_output:
        print(json.dumps([g.as_dict() for g in grants]))
        return
    table = Table(title="API keys")
    for header in ("name", "role", "purposes", "granted", "revoked"):
        table.add_column(header)
    for g in grants:
        table.add_row(
            Text(g.name), g.role, ", ".join(g.purposes), g.created_at, g.revoked_at or "-"
        )
    console.print(table)


@access_app.command("revoke")
@translate_errors
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    actor: Annotated[str | None, _ACTOR] = None,
) -> None:
    """Revoke a key for good: the next call with it is refused (401)."""
    with open_default(actor=actor) as workspace:
        done = workspace.access.revoke(name, actor=workspace.actor)
    console.print(f"key {done.name!r} revoked", highlight=False, markup=False)
