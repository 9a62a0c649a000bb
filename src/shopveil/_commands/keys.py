"""``shopveil erase``, ``shopveil detokenize`` and ``shopveil keys rotate``.

The store is ``Store.open()`` (``SHOPVEIL_DB_URL`` or the default SQLite file); the master
key is ``SHOPVEIL_MASTER_KEY`` or the key file in ``SHOPVEIL_HOME``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from shopveil._commands._common import console, row_progress, translate_errors

if TYPE_CHECKING:
    from shopveil.keys import Vault

__all__ = ["register"]

_ACTOR = typer.Option(help="Who is acting, recorded in the audit log.")


def register(app: typer.Typer) -> None:
    app.command("erase")(erase)
    app.command("detokenize")(detokenize)
    keys_app = typer.Typer(help="Manage keys: rotation.", no_args_is_help=True)
    keys_app.command("rotate")(rotate)
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
    """Crypto-shred a subject: delete their key so their vault values are unrecoverable."""
    with _open_vault() as vault:
        result = vault.erase_subject(subject, actor=actor)
    note = " (already erased)" if result.already_erased else ""
    console.print(
        f"Erased subject ref {result.subject_ref[:16]}…{note}: {result.values} vault "
        f"value(s) unrecoverable; audit event #{result.audit_seq}."
    )


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
        typer.Option(
            "--master",
            help="Rotate the master key instead (it must come from a key file, which is replaced).",
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Subject keys re-wrapped per transaction.")
    ] = 500,
    actor: Annotated[str, _ACTOR] = "cli",
) -> None:
    """Rotate the vault key (re-wrap subject keys, retire the old version), or the master key."""
    with _open_vault() as vault:
        if master:
            vault.audit.check(actor, "keys.rotate_master")
            keyring = vault.keyring.rotate_master()
            vault.audit.append(actor, "keys.rotate_master", {"key_file": str(keyring.key_file)})
            console.print(f"Master key rotated; the new key is in {keyring.key_file}.")
            return
        with row_progress("re-wrapping subject keys") as progress:
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
