"""``shopveil redact-text``: PII in the text columns of a CSV, Parquet or JSONL file."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from shopveil._commands._common import console, row_progress, translate_errors
from shopveil.errors import ParameterError, SourceError

__all__ = ["register"]

_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


def register(app: typer.Typer) -> None:
    """Add ``redact-text`` to ``app``."""
    app.command("redact-text")(redact_text)


@translate_errors
def redact_text(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="A CSV, Parquet or JSONL file.")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write (same format as INPUT).")
    ],
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="A text column (or JSON field) to redact; repeat for more. "
            "Default: every text column; for JSONL, 'text'.",
        ),
    ] = None,
    policy: Annotated[
        str, typer.Option(help="What PII becomes: pseudonym, label or mask.")
    ] = "pseudonym",
    engine: Annotated[
        str, typer.Option(help="model (rules and the entity model) or rules (rules only).")
    ] = "model",
    conversation: Annotated[
        str | None,
        typer.Option(
            help="Column whose rows form one conversation (consistent pseudonyms within "
            "each). Default: the whole file is one."
        ),
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option(
            help="Env variable holding a hex key (32+ bytes): the same input then gets "
            "the same pseudonyms. Default: a fresh random key."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find and replace PII in the text of a CSV, Parquet or JSONL file.

    Names, addresses, places, contact details, card numbers, national ids and the rest
    become consistent pseudonyms, labels or masks, by --policy. The output is written
    whole or not at all.
    """
    from shopveil.detect import TextEngine
    from shopveil.pseudo import ChatRedactor, TextAction, TextPolicy

    text_policy = TextPolicy(
        action=_choice(TextAction, policy, "--policy"),
        engine=_choice(TextEngine, engine, "--engine"),
    )
    redactor = ChatRedactor(text_policy, key=_key(key_env))
    if output.resolve() == input_path.resolve():
        raise ParameterError("--output must not overwrite INPUT; name another file")
    if not input_path.is_file():
        raise SourceError(f"{input_path}: no such file")
    is_jsonl = input_path.name.lower().endswith(_JSONL_SUFFIXES)
    if is_jsonl != output.name.lower().endswith(_JSONL_SUFFIXES):
        raise ParameterError("INPUT and --output must both be JSONL, or both tables")
    with row_progress("redacting") as progress:
        if is_jsonl:
            rows = _redact_jsonl(input_path, output, field or ["text"], conversation, redactor,
                                 progress.start, progress.advance)  # fmt: skip
        else:
            rows = _redact_table(input_path, output, field, conversation, redactor,
                                 progress.start, progress.advance)  # fmt: skip
    summary = {"rows": rows, "output": str(output), "policy": policy, "engine": engine}
    if json_output:
        console.print_json(json.dumps(summary))
        return
    console.print(f"{rows:,} rows redacted ({policy}) and written to [bold]{output}[/bold].")


def _choice(enum: Any, value: str, option: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise ParameterError(f"{option}={value!r} is not one of {choices}") from None


def _key(env: str | None) -> bytes | None:
    if env is None:
        return None
    raw = os.environ.get(env)
    if raw is None:
        raise ParameterError(f"--key-env={env}: that environment variable is not set")
    try:
        key = bytes.fromhex(raw.strip())
    except ValueError:
        raise ParameterError(f"--key-env={env}: the value is not hex; use 64 hex digits") from None
    if len(key) < 32:
        raise ParameterError(f"--key-env={env}: the key has {len(key)} bytes; use 32 or more")
    return key


def _utf8_text(path: Path) -> str:
    """The file's text; one clear error when a byte is not UTF-8."""
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"{path.name} line {line}: byte {exc.start} is not UTF-8; re-encode the file "
            "as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def _redact_table(path: Path, output: Path, fields: list[str] | None, conversation: str | None,
                  redactor: Any, start: Any, advance: Any) -> int:  # fmt: skip
    import pyarrow as pa

    from shopveil.data import read_table, table_format, write_table
    from shopveil.pseudo import redact_columns

    if table_format(path) == "csv":
        _utf8_text(path)
    table_format(output)
    table = read_table(path)
    names = fields or [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    for name in names:
        if name in table.column_names:
            try:
                table.column(name).validate(full=True)
            except pa.ArrowInvalid:
                raise SourceError(
                    f"{path.name}: column {name!r} holds bytes that are not UTF-8; "
                    "re-encode it as UTF-8"
                ) from None
    start(table.num_rows)
    redacted = redact_columns(table, names, redactor, conversation_field=conversation,
                              advance=advance)  # fmt: skip
    write_table(redacted, output)
    return table.num_rows


def _redact_jsonl(path: Path, output: Path, fields: list[str], conversation: str | None,
                  redactor: Any, start: Any, advance: Any) -> int:  # fmt: skip
    import pyarrow as pa

    from shopveil.data import write_text
    from shopveil.pseudo import redact_columns

    records = []
    for number, line in enumerate(_utf8_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise SourceError(f"{path.name} line {number}: not a JSON object")
        records.append(record)
    start(len(records))
    wanted = [*fields, *([conversation] if conversation else [])]
    columns = {
        name: pa.array([_text_or_none(r.get(name)) for r in records], pa.string())
        for name in wanted
    }
    table = redact_columns(pa.table(columns), fields, redactor, conversation_field=conversation,
                           advance=advance)  # fmt: skip
    for name in fields:
        for record, value in zip(records, table.column(name).to_pylist(), strict=True):
            if isinstance(record.get(name), str):
                record[name] = value
    write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return len(records)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
