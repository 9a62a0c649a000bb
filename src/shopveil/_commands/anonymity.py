"""``shopveil assess`` and the k-anonymity path of ``shopveil anonymize``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from shopveil._commands._common import console, row_progress, split_names, translate_errors
from shopveil.errors import GateFailed, ParameterError

if TYPE_CHECKING:
    from shopveil.anonymity import Assessment, GateReport, Requirement, RiskSummary
    from shopveil.policy import Gates

__all__ = ["assess", "k_anonymize_file", "register"]


def register(app: typer.Typer) -> None:
    app.command("assess")(assess)


@translate_errors
def assess(
    file: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file to assess.")],
    qi: Annotated[
        str | None,
        typer.Option(
            help="Quasi-identifiers, comma-separated \\[default: the policy gates' "
            "quasi_identifiers]."
        ),
    ] = None,
    sensitive: Annotated[
        str | None,
        typer.Option(
            help="Sensitive attributes, comma-separated, for l and t \\[default: the policy "
            "gates' sensitive]."
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(help="Preset or policy YAML file whose gates give the verdict."),
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="Gate: k-anonymity with this k.")] = None,
    l_diversity: Annotated[
        int | None, typer.Option("--l", help="Gate: distinct l-diversity with this l.")
    ] = None,
    t_closeness: Annotated[
        float | None, typer.Option("--t", help="Gate: t-closeness with this t.")
    ] = None,
    max_risk: Annotated[
        float | None,
        typer.Option("--max-risk", help="Gate: highest prosecutor risk of any record."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    population: Annotated[
        int | None,
        typer.Option(help="Size of the population the file samples \\[default: the file]."),
    ] = None,
    risk_threshold: Annotated[
        float, typer.Option(help="A record is at risk above this risk.")
    ] = 0.2,
    engine: Annotated[
        str,
        typer.Option(
            help="local, or spark: k, distinct l and t (equal distance) as Spark group-bys "
            "(the spark extra)."
        ),
    ] = "local",
    master: Annotated[
        str, typer.Option(help="With --engine spark: local[N], local[*] or spark://HOST:PORT.")
    ] = "local[*]",
) -> None:
    """Print k, l, t and the re-identification risks, then a verdict against the gates.

    The gates are the policy's (--policy) with --k, --l, --t and --max-risk added or
    replacing the policy's of the same name. The verdict is PASS or FAIL per gate and
    overall; on FAIL the command exits with status 1, as a release that fails its gates
    does. Without any gate there is no verdict. With --engine spark only k, distinct l,
    t under the equal distance and the prosecutor risk are measured.
    """
    from shopveil.anonymity import assess as assess_table
    from shopveil.anonymity import check_gate
    from shopveil.data import read_table

    gates = _policy_gates(policy)
    flags = _flag_gates(k, l_diversity, t_closeness, max_risk)
    qi_names = split_names(qi)
    if not qi_names and gates is not None:
        qi_names = list(gates.quasi_identifiers or ())
    if not qi_names:
        raise ParameterError(
            "give the quasi-identifiers with --qi A,B,C (or list quasi_identifiers under "
            "the policy's gates)"
        )
    sensitive_names = split_names(sensitive) or (list(gates.sensitive) if gates else [])
    checks = _gate_list(gates, policy, flags)
    if engine == "spark":
        _assess_on_spark(file, qi_names, sensitive_names, checks, master, json_output)
        return
    if engine != "local":
        raise ParameterError(f"--engine: expected local or spark, got {engine!r}")
    table = read_table(file)
    report = assess_table(
        table,
        qi_names,
        sensitive_names,
        population_size=population,
        risk_threshold=risk_threshold,
    )
    verdict = None
    if checks:
        verdict = check_gate(
            table,
            qi_names,
            sensitive_names,
            [requirement for requirement, _ in checks],
            population_size=population,
        )
    if json_output:
        console.print_json(
            json.dumps({**report.to_dict(), "verdict": _verdict_json(verdict, checks)})
        )
    else:
        _show_assessment(file, report)
        _show_verdict(verdict, checks)
    if verdict is not None and not verdict.passed:
        raise GateFailed(f"verdict FAIL: {verdict.failures()}")


def _assess_on_spark(
    file: Path,
    qi: list[str],
    sensitive: list[str],
    checks: list[tuple[Requirement, str]],
    master: str,
    json_output: bool,
) -> None:
    from shopveil.pipeline import assess_file_on_spark, failed_requirements

    report = assess_file_on_spark(file, qi, sensitive, master=master)
    failures = failed_requirements(report, [requirement for requirement, _ in checks])
    verdict = None if not checks else {"passed": not failures, "failures": failures}
    if json_output:
        console.print_json(json.dumps({**report.to_dict(), "verdict": verdict}))
    else:
        view = Table(title=f"{file.name}: {report.rows:,} rows, {report.classes:,} classes (Spark)")
        view.add_column("measure")
        view.add_column("value", justify="right")
        view.add_row("k (smallest class)", f"{report.k}")
        view.add_row("l (distinct)", _fmt(report.l))
        view.add_row("t (equal distance)", _fmt(report.t))
        view.add_row("prosecutor risk (highest)", f"{report.prosecutor_risk:.4f}")
        console.print(view)
        if verdict is not None:
            console.print("verdict: " + ("PASS" if not failures else "FAIL"))
    if failures:
        raise GateFailed(f"verdict FAIL: {'; '.join(failures)}")


def _show_assessment(file: Path, report: Assessment) -> None:
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


def _policy_gates(policy: str | None) -> Gates | None:
    if policy is None:
        return None
    from shopveil.policy import load_policy

    return load_policy(policy).gates


def _flag_gates(
    k: int | None,
    l: int | None,  # noqa: E741
    t: float | None,
    max_risk: float | None,
) -> list[Requirement]:
    from shopveil.anonymity import KAnonymity, LDiversity, MaxRisk, TCloseness

    found: list[Requirement] = []
    if k is not None:
        found.append(KAnonymity(k))
    if l is not None:
        found.append(LDiversity(l))
    if t is not None:
        found.append(TCloseness(t))
    if max_risk is not None:
        found.append(MaxRisk(max_risk))
    return found


def _gate_list(
    gates: Gates | None, policy: str | None, flags: list[Requirement]
) -> list[tuple[Requirement, str]]:
    """Each gate with where it was set: a flag replaces the policy's gate of its kind."""
    from shopveil.anonymity import KAnonymity, LDiversity, TCloseness

    flagged = {type(r) for r in flags}
    checks: list[tuple[Requirement, str]] = []
    if gates is not None:
        for requirement in gates.requirements:
            if type(requirement) not in flagged:
                origin = gates.origin_of(requirement)
                checks.append((requirement, str(origin) if origin else f"policy {policy}"))
    names = {KAnonymity: "--k", LDiversity: "--l", TCloseness: "--t"}
    checks += [(r, names.get(type(r), "--max-risk")) for r in flags]
    return checks


def _verdict_json(
    verdict: GateReport | None, checks: list[tuple[Requirement, str]]
) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {
        "passed": verdict.passed,
        "gates": [
            {**vars(check), "set_by": source}
            for check, (_, source) in zip(verdict.checks, checks, strict=True)
        ],
    }


def _show_verdict(verdict: GateReport | None, checks: list[tuple[Requirement, str]]) -> None:
    if verdict is None:
        console.print(
            "verdict: none - no gates to check; give --policy with gates, or --k, --l, --t "
            "or --max-risk"
        )
        return
    view = Table(title="verdict against the gates")
    for header in ("gate", "set by", "actual", "failing classes", "failing rows", "verdict"):
        view.add_column(header, justify="right" if "failing" in header else "left")
    for check, (_, source) in zip(verdict.checks, checks, strict=True):
        view.add_row(
            Text(check.requirement),
            Text(source),
            _fmt(check.actual),
            f"{check.failing_classes:,}",
            f"{check.failing_rows:,}",
            "[green]PASS[/green]" if check.passed else "[red]FAIL[/red]",
        )
    console.print(view)
    failed = sum(not check.passed for check in verdict.checks)
    overall = "PASS" if verdict.passed else f"FAIL ({failed} of {len(verdict.checks)} gates)"
    console.print(f"overall: {overall}", highlight=False)


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
    time_limit: float = 60.0,
    recipient: str | None = None,
    destination: str | None = None,
    status: str | None = None,
    as_of: date | None = None,
    people: Path | None = None,
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
            time_limit=time_limit,
            recipient=recipient,
            destination=destination,
            status=status,
            as_of=as_of,
            people=people,
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
    if done.choice is not None:
        console.print(Text(f"method: {done.choice.summary()}"))
    console.print(
        f"policy {done.plan.policy!r} for purpose {done.plan.purpose!r} "
        f"(role {done.plan.role!r}) applied first; audit event #{done.audit_seq}."
    )
