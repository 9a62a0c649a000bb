"""``shopveil scan``, ``shopveil anonymize`` and ``shopveil demo``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shopveil._commands._common import console, row_progress, split_names, translate_errors
from shopveil.errors import ParameterError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
    app.command("anonymize")(anonymize)
    app.command("demo")(demo)


@translate_errors
def scan(
    file: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file to scan.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    policy_out: Annotated[
        Path | None,
        typer.Option(
            "--policy-out", help="Where to write the draft policy \\[default: FILE.policy.yaml]."
        ),
    ] = None,
    extends: Annotated[str, typer.Option(help="Preset the draft policy extends.")] = "gdpr",
) -> None:
    """Classify each column as identifier, quasi-identifier, sensitive or other; draft a policy."""
    from shopveil.data import open_source, write_text
    from shopveil.detect import scan_source
    from shopveil.policy import DraftColumn, draft_policy_yaml

    source = open_source(file)
    report = scan_source(source)
    draft_path = policy_out or Path(f"{Path(file).name.split('.')[0]}.policy.yaml")
    draft = draft_policy_yaml(
        Path(file).stem,
        [DraftColumn(f.column, f.column_class, f.kind, f.confidence) for f in report.columns],
        extends=extends,
    )
    write_text(draft_path, draft)
    if json_output:
        console.print_json(json.dumps({**report.to_dict(), "draft_policy": str(draft_path)}))
        return
    table = Table(title=f"{Path(file).name}: {report.rows_scanned:,} rows scanned")
    for header in ("column", "class", "kind", "confidence", "evidence"):
        table.add_column(header)
    for f in report.columns:
        style = {"direct_identifier": "red", "quasi_identifier": "yellow", "sensitive": "magenta"}
        table.add_row(
            Text(f.column),
            Text(f.column_class.value, style=style.get(f.column_class.value, "green")),
            f.kind.value,
            f"{f.confidence:.2f}",
            Text("; ".join(f.evidence)),
        )
    console.print(table)
    console.print(f"Draft policy written to [bold]{draft_path}[/bold] (extends {extends}).")


@translate_errors
def anonymize(
    input: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file to protect.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file (.csv or .parquet).")],
    policy: Annotated[
        str | None,
        typer.Option(
            help="Preset (gdpr, ccpa, lgpd, pipl) or a policy YAML file \\[default with --k: gdpr]."
        ),
    ] = None,
    purpose: Annotated[
        str, typer.Option(help="The purpose the output is released for.")
    ] = "analytics",
    role: Annotated[
        str | None,
        typer.Option(
            help="The role that receives the output \\[default: the least privileged role the "
            "policy allows the purpose; support and fulfilment need one]."
        ),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option("--k", help="Then enforce k-anonymity with this k on the --qi columns."),
    ] = None,
    qi: Annotated[
        str | None, typer.Option(help="Quasi-identifiers, comma-separated (with --k).")
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="Sensitive attributes (with --l / --t).")
    ] = None,
    l_diversity: Annotated[int | None, typer.Option("--l", help="Require l-diversity.")] = None,
    t_closeness: Annotated[float | None, typer.Option("--t", help="Require t-closeness.")] = None,
    hierarchies: Annotated[Path | None, typer.Option(help="Folder of ARX hierarchy CSVs.")] = None,
    method: Annotated[
        str,
        typer.Option(
            help="lattice, mondrian, or auto: with --hierarchies, run both and release the "
            "one with the lower NCP (information loss); without, mondrian."
        ),
    ] = "auto",
    time_limit: Annotated[
        float,
        typer.Option(help="Seconds the lattice search may take with --method auto."),
    ] = 60.0,
    suppress: Annotated[float, typer.Option(help="Largest fraction of rows to suppress.")] = 0.0,
    memory_budget: Annotated[
        int,
        typer.Option(
            "--memory-budget",
            help="With --k: MiB of protected rows held in memory; past it only the --qi and "
            "--sensitive columns are, and the input is read a second time to write the rest.",
        ),
    ] = 256,
    csv_escape: Annotated[
        bool,
        typer.Option(
            "--csv-escape/--no-csv-escape",
            help="In CSV output, prefix cells and headers starting with = + - @ tab or CR "
            "with ' so spreadsheets do not run them as formulas (numbers such as -5 are "
            "left alone).",
        ),
    ] = True,
    recipient: Annotated[
        str | None,
        typer.Option(
            help="A recipient the policy declares \\[default: the one the role goes to, else "
            "the first party]; a sale or share leaves out customers who opted out of it."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The region the output goes to \\[default: the recipient's]; leaving the "
            "data's region needs a transfer mechanism in the policy.",
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="The status the output claims: pseudonymized, deidentified (CCPA) or "
            "anonymous; refused unless its checks pass."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The day (YYYY-MM-DD) retention periods and ages count from \\[default: today].",
        ),
    ] = None,
    people: Annotated[
        Path | None,
        typer.Option(
            help="The customers' table (id and birth date or age), for a table without "
            "ages released for a purpose that leaves minors out."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="local, or spark: the same plan as a Spark job (the spark extra); the "
            "output is then a folder of part files."
        ),
    ] = "local",
    master: Annotated[
        str, typer.Option(help="With --engine spark: local[N], local[*] or spark://HOST:PORT.")
    ] = "local[*]",
) -> None:
    """Protect a table by policy (--policy), and make it k-anonymous with --k.

    With --k, the policy (the gdpr preset when --policy is left out) removes or tokenizes
    direct identifiers first; k-anonymity then generalizes the --qi columns. The release's
    status, recipient, transfer and retention are written to OUTPUT.release.json.
    """
    day = _day(as_of)
    run_engine = _engine(engine)
    if k is not None and run_engine == "spark":
        refused = [
            name
            for name, given in (
                ("--l", l_diversity is not None),
                ("--t", t_closeness is not None),
                ("--hierarchies", hierarchies is not None),
                ("--method lattice", method == "lattice"),
                ("--suppress", suppress > 0),
            )
            if given
        ]
        if refused:
            raise ParameterError(
                f"{', '.join(refused)}: k-anonymity on Spark is Mondrian for k alone; "
                "drop them, or use --engine local"
            )
        if not split_names(qi):
            raise ParameterError("--k needs the quasi-identifiers: --qi A,B,C")
    if k is not None and run_engine == "local":
        from shopveil._commands.anonymity import k_anonymize_file

        k_anonymize_file(
            input,
            output,
            k=k,
            qi=split_names(qi),
            sensitive=split_names(sensitive),
            l=l_diversity,
            t=t_closeness,
            hierarchies=hierarchies,
            method=method,
            suppress=suppress,
            memory_budget=memory_budget,
            policy=policy or "gdpr",
            purpose=purpose,
            role=role,
            csv_escape=csv_escape,
            time_limit=time_limit,
            recipient=recipient,
            destination=to,
            status=status,
            as_of=day,
            people=people,
        )
        return
    if policy is None and k is None:
        raise ParameterError(
            "give --policy (gdpr, ccpa, lgpd, pipl or a YAML file), --k with --qi, or both"
        )
    from shopveil.pipeline import Engine, anonymize_file

    with row_progress(f"anonymizing {input.name}") as progress:
        result = anonymize_file(
            input,
            output,
            engine=Engine(run_engine),
            master=master,
            k=k,
            qi=split_names(qi),
            policy=policy or "gdpr",
            purpose=purpose,
            role=role,
            actor="cli",
            on_start=progress.start,
            on_rows=progress.advance,
            csv_escape=csv_escape,
            recipient=recipient,
            destination=to,
            status=status,
            as_of=day,
            people=people,
        )
    summary = result.summary
    table = Table(title=f"{summary.input} → {summary.output} ({result.plan.policy}, {purpose})")
    for header in ("column", "class", "technique", "why"):
        table.add_column(header)
    for step in result.plan.steps:
        table.add_row(Text(step.column), step.column_class.value, step.technique, Text(step.reason))
    console.print(table)
    console.print(
        f"{summary.rows_in:,} rows in, {summary.rows_out:,} rows out "
        f"({summary.rows_opted_out:,} left out: opted out, no lawful basis for the "
        f"purpose, or minors), {summary.rows_per_second:,.0f} rows/s; "
        f"audit event #{result.audit_seq}."
    )
    if summary.table_release is not None:
        made = summary.table_release
        console.print(
            f"k-anonymous on {', '.join(made['quasi_identifiers'])} (Mondrian on Spark): "
            f"{made['classes']:,} classes, smallest {made['k_reached']:,} rows.",
            markup=False,
        )
    for note in result.plan.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")  # notes name columns


def _engine(text: str) -> str:
    if text not in ("local", "spark"):
        raise ParameterError(f"--engine: expected local or spark, got {text!r}")
    return text


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--as-of: expected a day as YYYY-MM-DD, got {text!r}") from None


@translate_errors
def demo(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for the demo's outputs.")
    ] = Path("demo-output"),
    customers: Annotated[int, typer.Option(help="How many customers to generate.")] = 2_000,
) -> None:
    """Scan, protect under GDPR and summarize the bundled retail data, end to end."""
    from shopveil.demo import run_demo, show_demo

    show_demo(run_demo(output, customers=customers), console)
