"""``shopveil link``: privacy-preserving record linkage of two files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from shopveil._commands._common import console, row_progress, split_names, translate_errors
from shopveil.errors import KeyringError, ParameterError

__all__ = ["register"]

_LINK_PURPOSE = "linkage"


def register(app: typer.Typer) -> None:
    app.command("link")(link)


def _secret_from_env(name: str) -> bytes:
    from shopveil.keys import parse_key_text

    text = os.environ.get(name)
    if not text:
        raise ParameterError(f"--secret-env {name}: the variable is not set or empty")
    try:
        # As strict as the master key: a mistyped secret must fail, not link under another.
        return parse_key_text(text, where=f"--secret-env {name}", what="linkage secret")
    except KeyringError as exc:
        raise ParameterError(str(exc)) from None


def _keyring_secret(fields: list[str]) -> bytes:
    from shopveil.keys import Keyring
    from shopveil.store import Store

    store = Store.open()
    try:
        return Keyring.open(store).derive(_LINK_PURPOSE, "clk:" + ",".join(fields))
    finally:
        store.close()


@translate_errors
def link(
    left: Annotated[Path, typer.Argument(help="The retailer's file (CSV, TSV or Parquet).")],
    right: Annotated[Path, typer.Argument(help="The partner's file.")],
    on: Annotated[str, typer.Option("--on", help="Columns to link on, comma-separated.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Matches: left_row, right_row, score.")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    threshold: Annotated[float, typer.Option(help="Smallest Dice similarity to match.")] = 0.8,
    bits: Annotated[int, typer.Option(help="Bits per Bloom-filter encoding.")] = 1024,
    hashes: Annotated[int, typer.Option(help="Bits set per bigram.")] = 10,
    truth: Annotated[
        str | None,
        typer.Option(help="Column with each row's true identity, to report precision/recall."),
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            help="Env variable holding the 32-byte secret shared with the partner "
            "(64 hex or 43 base64url characters)."
        ),
    ] = None,
) -> None:
    """Match records of two files through keyed Bloom-filter encodings (CLKs).

    Both sides are encoded under one secret (the partner's shared secret with
    --secret-env, else a key of this store's keyring); only the encodings are compared.
    """
    from shopveil.data import read_table, write_table
    from shopveil.pseudo import ClkEncoder, link_tables

    fields = split_names(on)
    if not fields:
        raise ParameterError("--on must name at least one column, e.g. --on name,email")
    if output.resolve() in (left.resolve(), right.resolve()):
        raise ParameterError("--output must not overwrite an input file")
    encoder = ClkEncoder(tuple(fields), bits=bits, hashes=hashes)
    key = _secret_from_env(secret_env) if secret_env else _keyring_secret(fields)
    with row_progress("linking") as progress:
        left_table, right_table = read_table(left), read_table(right)
        progress.start(left_table.num_rows + right_table.num_rows)
        result = link_tables(
            left_table, right_table, encoder, key, threshold=threshold, truth=truth
        )
        progress.advance(left_table.num_rows + right_table.num_rows)
    write_table(result.matches, output)
    summary = {**result.to_dict(), "output": str(output), "fields": fields}
    if json_output:
        console.print_json(json.dumps(summary))
        return
    console.print(
        f"{result.matches.num_rows:,} matches between {result.left_rows:,} and "
        f"{result.right_rows:,} rows written to [bold]{output}[/bold]."
    )
    if result.quality is not None and result.exact_quality is not None:
        q, e = result.quality, result.exact_quality
        console.print(
            f"CLK: precision {q.precision:.3f}, recall {q.recall:.3f}; "
            f"exact-match hashing: precision {e.precision:.3f}, recall {e.recall:.3f}."
        )
