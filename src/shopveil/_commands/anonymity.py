"""``shopveil assess`` and the k-anonymity path of ``shopveil anonymize``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shopveil._commands._common import console, row_progress, split_names, translate_errors
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil.anonymity import RiskSummary

__all__ = ["assess", "k_anonymize_file", "register"]


def register(app: typer.Typer) -> None:
    app.command("assess")(assess)


@translate_errors
def assess(
    file: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file to assess.")],
    qi: Annotated[str, typer.Option(help="Quasi-identifiers, comma-separated.")],
    sensitive: Annotated[
        str | None, typer.Option(help="Sensitive attributes, comma-separated (for l and t).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    population: Annotated[
        int | None,
        typer.Option(help="Size of the population the file samples \\[default: the file]."),
    ] = None,
    risk_threshold: Annotated[
        float, typer.Option(help="A record is at risk above this risk.")
    ] = 0.2,
) -> None:
    """Print k, l, t and the prosecutor, journalist and marketer re-identification risks."""
    from shopveil.anonymity import assess as assess_table
    from shopveil.data import read_table

    table = read_table(file)
    report = assess_table(
        table,
        split_names(qi),
        split_names(sensitive),
        population_size=population,
        risk_threshold=risk_threshold,
    )
    if json_output:
        console.print_json(json.dumps(report.to_dict()))
        return
    view = Table(title=f"{file.name}: {report.rows:,} rows, {report.classes:,} classes")
    view.add_column("measure")
    view.add_column("value", justify="right")
    rows = [
        ("k (smallest class)", f"{report.k}"),
        ("l (distinct)", _fmt(report.l)),
        ("l (entropy)", _fmt(report.l_entropy)),
        ("t (earth mover's distance)", _fmt(report.t)),
        ("prosecutor risk (highest / average)", _pair(report.prosecutor)),
        ("journalist risk (highest / average)", _pair(report.journalist)),
        ("marketer risk", f"{report.marketer:.4f}"),
        (
            f"records at risk (> {report.risk_threshold:g})",
            f"{report.prosecutor.records_at_risk:.2%}",
        ),
        ("sample uniqueness", f"{report.sample_uniqueness:.2%}"),
        ("population uniqueness (Zayatz)", f"{report.population_uniqueness:.2%}"),
    ]
    for name, value in rows:
        view.add_row(name, value)
    console.print(view)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _pair(summary: RiskSummary) -> str:
    return f"{summary.highest:.4f} / {summary.average:.4f}"


def k_anonymize_file(
    input: Path,
    output: Path,
    *,
    k: int,
    qi: list[str],
    sensitive: list[str],
    l: int | None,  # noqa: E741
    t: float | None,
    hierarchies: Path | None,
    method: str,
    suppress: float,
    memory_budget: int = 256,
    policy: str = "gdpr",
    purpose: str = "analytics",
    role: str | None = None,
    csv_escape: bool = True,
) -> None:
    """Protect ``input`` by ``policy``, make it k-anonymous, write ``output``, print a summary.

    See :func:`shopveil.pipeline.k_anonymize_file`; nothing is written unless every
    requirement is met and the release is audited. ``memory_budget`` is in MiB.
    """
    if memory_budget < 0:
        raise ParameterError(f"--memory-budget: expected MiB >= 0, got {memory_budget}")
    from shopveil.pipeline import k_anonymize_file as release

    with row_progress(f"anonymizing {Path(input).name}") as progress:
        done = release(
            input,
            output,
            k=k,
            qi=qi,
            policy=policy,
            purpose=purpose,
            role=role,
            sensitive=sensitive,
            l=l,
            t=t,
            hierarchies=hierarchies,
            method=method,
            suppress=suppress,
            memory_budget=memory_budget << 20,
            actor="cli",
            csv_escape=csv_escape,
            on_start=progress.start,
        )
        progress.advance(done.rows_in)
    result = done.anonymized
    utility = result.utility
    summary = Table(title=f"{Path(input).name} → {Path(output).name} ({result.method})")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("k reached (smallest class)", f"{utility.min_class_size}")
    summary.add_row("classes", f"{utility.classes:,}")
    summary.add_row("suppressed rows", f"{utility.suppressed_rows:,} of {utility.rows:,}")
    summary.add_row("NCP (0 = original, 1 = all hidden)", f"{utility.ncp:.4f}")
    summary.add_row("discernibility", f"{utility.discernibility:,.0f}")
    if utility.levels is not None:
        levels = ", ".join(f"{name}={level}" for name, level in utility.levels.items())
        summary.add_row("generalization levels", levels)
    if utility.classifier_accuracy is not None:
        summary.add_row(
            f"naive Bayes accuracy on {utility.classifier_target} (original)",
            f"{utility.classifier_accuracy:.3f} ({utility.baseline_accuracy:.3f})",
        )
    console.print(summary)
    console.print(
        f"policy {done.plan.policy!r} for purpose {done.plan.purpose!r} "
        f"(role {done.plan.role!r}) applied first; audit event #{done.audit_seq}."
    )
