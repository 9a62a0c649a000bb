"""``shopveil erase``, ``shopveil detokenize``, ``shopveil keys rotate`` and ``rotate-master``.

The store is ``Store.open()`` (``SHOPVEIL_DB_URL`` or the default SQLite file); the master
key is ``SHOPVEIL_MASTER_KEY``, else ``SHOPVEIL_KEY_FILE``, else the store's key file in
``$XDG_CONFIG_HOME/shopveil/keys/`` (never beside the database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from shopveil._commands._common import console, row_progress, translate_errors
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil.keys import Vault

__all__ = ["register"]

_ACTOR = typer.Option(help="Who is acting, recorded in the audit log.")


def register(app: typer.Typer) -> None:
    app.command("erase")(erase)
    app.command("detokenize")(detokenize)
    keys_app = typer.Typer(help="Manage keys: rotation.", no_args_is_help=True)
    keys_app.command("rotate")(rotate)
    keys_app.command("rotate-master")(rotate_master)
    app.add_typer(keys_app, name="keys")


@contextmanager
def _open_vault() -> Iterator[Vault]:
    from shopveil.audit import AuditLog
    from shopveil.keys import Keyring, Vault
    from shopveil.store import Store

    store = Store.open()
    try:
        keyring = Keyring.open(store)
        yield Vault(store, keyring, AuditLog(store, keyring))
    finally:
        store.close()


@translate_errors
def erase(
    subject: Annotated[str, typer.Option("--subject", help="The id of the subject to erase.")],
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Crypto-shred a subject: delete their key so their vault values are unrecoverable.

    Covers: the subject's vault values (reversible tokens, vt...) and their erasable
    pseudonyms (technique erasable_token): neither can be read or recomputed afterwards.
    Every spelling of the id is one subject (17850, 17850.0 and " 17850").

    Also deletes the subject's rows from every dataset registered per customer (shopveil
    data add), rewriting each file, and their per-person budget rows, and their consent
    records except the refusals and withdrawals in force, kept (by a keyed hash, never
    the id) so that their objection still holds if their data comes back, and the shop
    events kept for their personalization (shopveil serve).

    Does not cover: keyed tokens (technique token) and FPE output (technique fpe),
    which come from purpose keys, not subject keys, so they stay computable from the id
    and FPE output still decrypts; delete those rows from released files, or use
    erasable_token for ids that must be erasable.

    Reaches the live store only. On SQLite it returns once no copy of the key is left in
    the database or its -wal file, and fails (exit 1, run it again) while another reader
    keeps the WAL from being emptied. On PostgreSQL the old row version stays until
    VACUUM (run at once; it frees the space without zeroing it), and WAL archives,
    base backups and replicas keep it for as long as they are kept. Backups of either
    stay readable until the vault key is rotated (keys rotate, which retires the old
    version) and then the master key (keys rotate-master), and every copy of the old
    master key is destroyed.
    """
    from shopveil._workspace import open_workspace

    with open_workspace(actor=actor) as workspace:
        erased = workspace.erase_subject(subject)
    result, consent, rows = erased.vault, erased.consent, erased.datasets
    note = " (already erased)" if result.already_erased else ""
    console.print(
        f"Erased subject ref {result.subject_ref[:16]}…{note}: {result.values} vault "
        f"value(s) unrecoverable; audit event #{result.audit_seq}.",
        highlight=False,
        markup=False,
    )
    for dataset, count in rows:
        console.print(
            f"{dataset}: {count} row(s) of the subject deleted from the registered file",
            highlight=False,
            markup=False,
        )
    console.print(
        f"consent register: {consent.deleted} record(s) deleted, {consent.kept} objection(s) "
        "in force kept so they stay honoured",
        highlight=False,
        markup=False,
    )
    console.print(f"shop events: {erased.events} deleted", highlight=False, markup=False)


@translate_errors
def detokenize(
    tokens: Annotated[list[str], typer.Argument(help="Vault tokens (vt<version>_…).")],
    purpose: Annotated[str, typer.Option(help="Why you re-identify (e.g. fulfilment).")],
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Print the values behind vault tokens, one per line; allowed purposes only, audited."""
    with _open_vault() as vault:
        values = vault.detokenize(tokens, purpose=purpose, actor=actor)
    for value in values:
        # Plain print: Rich markup must not reinterpret customer data.
        typer.echo(value)


@translate_errors
def rotate(
    master: Annotated[
        bool,
        typer.Option("--master", help="Rotate the master key instead: same as keys rotate-master."),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Subject keys re-wrapped per transaction.")
    ] = 500,
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Rotate the vault key (re-wrap subject keys, retire the old version), or the master key."""
    if master:
        rotate_master(new_key_env=None, actor=actor)
        return
    with _open_vault() as vault, row_progress("re-wrapping subject keys") as progress:
        started: list[int] = []

        def report(done: int, total: int) -> None:
            if not started:
                progress.start(total)
                started.append(0)
            progress.advance(done - started[-1])
            started.append(done)

        result = vault.rotate(actor=actor, batch_size=batch_size, on_progress=report)
    retired = ", ".join(str(v) for v in result.retired) or "none"
    console.print(
        f"Vault key rotated to version {result.new_version}: {result.rewrapped} subject "
        f"key(s) re-wrapped, version(s) {retired} retired; audit event #{result.audit_seq}."
    )


@translate_errors
def rotate_master(
    new_key_env: Annotated[
        str | None,
        typer.Option(
            help="Env variable holding the new master key, when the current one comes from "
            "SHOPVEIL_MASTER_KEY; set SHOPVEIL_MASTER_KEY to it afterwards."
        ),
    ] = None,
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Re-wrap every data key under a new master key and store its new key check value.

    With a key file, a fresh key replaces it (a key beside the database moves to the
    store's own file in $XDG_CONFIG_HOME/shopveil/keys/). With SHOPVEIL_MASTER_KEY, pass
    the new key through --new-key-env. Backups made before stay readable with the old
    master key only: destroy every copy of it. To make a backup's erased subjects
    unreadable, run keys rotate (retires the vault key they were wrapped under) first.
    """
    from shopveil.keys import ENV_VAR, parse_key_text

    new_key = None
    if new_key_env is not None:
        text = os.environ.get(new_key_env)
        if not text:
            raise ParameterError(f"--new-key-env {new_key_env}: the variable is not set or empty")
        new_key = parse_key_text(text, where=f"--new-key-env {new_key_env}")
    with _open_vault() as vault:
        if new_key is None and vault.keyring.key_file is None:
            raise ParameterError(
                f"the master key comes from {vault.keyring.source}, so there is no key file "
                "to replace; put a new key in another variable and pass --new-key-env NAME"
            )
        vault.audit.check(actor, "keys.rotate_master")
        keyring = vault.keyring.rotate_master(new_key)
        where = str(keyring.key_file) if keyring.key_file else f"${new_key_env}"
        vault.audit.append(actor, "keys.rotate_master", {"key_file": where})
    if keyring.key_file is not None:
        console.print(f"Master key rotated; the new key is in {keyring.key_file}.")
    else:
        console.print(f"Master key rotated; set {ENV_VAR} to the value of ${new_key_env} now.")
    console.print("Destroy every copy of the old master key: backups made before need it.")
