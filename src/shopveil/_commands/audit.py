"""``shopveil audit show|verify``: thin adapters over ``shopveil.audit`` and the ledger check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from shopveil._commands._common import console, translate_errors
from shopveil.errors import IntegrityError, ParameterError

if TYPE_CHECKING:
    from shopveil.audit import AuditLog
    from shopveil.store import Store

__all__ = ["register"]

audit_app = typer.Typer(help="Show or verify the audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@contextmanager
def _log() -> Iterator[tuple[Store, AuditLog]]:
    """The default store and its audit log, opened as every other command opens them."""
    from shopveil.audit import AuditLog
    from shopveil.keys import Keyring
    from shopveil.store import Store

    store = Store.open()
    try:
        yield store, AuditLog(store, Keyring.open(store))
    finally:
        store.close()


@audit_app.command("show")
@translate_errors
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the newest N events.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only events of this action, e.g. dp.charge.")
    ] = None,
) -> None:
    """Print the audit log's events, oldest first: seq, time, actor, action, details."""
    from shopveil.audit import check_action

    # Checked before the store opens: bad input creates no store and no key.
    if limit is not None and limit < 0:
        raise ParameterError(f"--limit must be 0 or more, got {limit}; e.g. --limit 20")
    if action is not None:
        check_action(action)
    with _log() as (_, log):
        events = log.events(action=action, limit=limit)
    rows = [
        {k: v for k, v in event.to_dict().items() if k not in ("prev_hash", "hash")}
        for event in events
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        # Actors and details are data, not markup or emoji codes; one line each.
        details = json.dumps(row["details"], sort_keys=True, ensure_ascii=False)
        line = f"{row['seq']}  {row['at']}  {row['actor']}  {row['action']}  {details}"
        console.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)


@audit_app.command("verify")
@translate_errors
def verify() -> None:
    """Check the chain, the signed checkpoints and the ledger against its audited history.

    Exit 0 with one summary line, or 1 naming the first problem.
    """
    from shopveil.dp import check_ledger, count_accounts

    with _log() as (store, log):
        count = log.verify()
        checkpoints = len(log.checkpoints())
        problems = check_ledger(store, log)
        if problems:
            raise IntegrityError(problems[0])
        accounts = count_accounts(store)
    console.print(
        f"verified {count} events, {checkpoints} checkpoints, {accounts} ledger accounts",
        highlight=False,
    )
