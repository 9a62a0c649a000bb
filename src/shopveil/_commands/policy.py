"""``shopveil policy explain``: what a policy does, with the file and line of each rule."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shopveil._commands._common import console, translate_errors

if TYPE_CHECKING:
    from shopveil.policy import Choice, Entry, PolicyExplanation

__all__ = ["register"]

policy_app = typer.Typer(help="Read what a policy does.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("explain")
@translate_errors
def explain(
    policy: Annotated[
        str, typer.Option(help="Preset (gdpr, ccpa, lgpd, pipl) or a policy YAML file.")
    ] = "gdpr",
    purpose: Annotated[
        str | None, typer.Option(help="Show the techniques of this purpose only.")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            help="The receiving role: key domains and hidden classes are shown for it "
            "\\[default with --purpose: the least privileged role allowed it]."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every rule that applies, the file and line it comes from, and which one wins.

    Columns named in the policy come first (they win over every rule), then the rules in
    the order they are tried: the first whose class and kind match a column applies.
    Rules inherited from a preset name the preset's file shipped in the package.
    """
    from shopveil.policy import explain_policy, load_policy

    found = explain_policy(load_policy(policy), purpose=purpose, role=role)
    if json_output:
        console.print_json(json.dumps(found.to_dict()))
        return
    _show(found)


def _show(found: PolicyExplanation) -> None:
    from rich.table import Table
    from rich.text import Text

    chain = ", extends ".join(found.files)
    console.print(Text(f"policy {found.policy}: {chain}", style="bold"))
    for name, path in found.presets.items():
        console.print(Text(f"  {name} is shipped in the package: {path}"))
    console.print(Text(f"jurisdiction: {found.jurisdiction or 'none'}"))
    for name, text in found.purposes.items():
        console.print(Text(f"purpose {name}: {text}"))
    for name, text in found.roles.items():
        console.print(Text(f"role {name}: {text}"))

    if found.columns:
        table = Table(title="Columns named in the policy (they win over every rule)")
        for header in ("column", "class, kind", "purpose", "technique", "key domain", "source"):
            table.add_column(header, overflow="fold")
        for entry in found.columns:
            _rows(table, entry, [Text(entry.column or ""), Text(_class_kind(entry))])
        console.print(table)

    if found.rules:
        table = Table(title="Rules for the other columns, tried in order: the first match wins")
        for header in (
            "#",
            "matches",
            "purpose",
            "technique",
            "key domain",
            "source",
            "precedence",
        ):
            table.add_column(header, overflow="fold")
        for entry in found.rules:
            _rows(table, entry, [str(entry.position), Text(entry.matches)], _precedence(entry))
        console.print(table)
    else:
        console.print("rules: none; columns the policy does not name are kept")

    for gate in found.gates:
        console.print(Text(f"gate: {gate.requirement} ({gate.origin or 'given'})"))
    for note in found.notes:
        console.print(Text(f"note: {note}"))


def _rows(table: Any, entry: Entry, head: list[Any], tail: str | None = None) -> None:
    from rich.text import Text

    for index, choice in enumerate(entry.choices):
        cells = head if index == 0 else [""] * len(head)
        row = [
            *cells,
            choice.purpose or ("default" if len(entry.choices) > 1 else "all"),
            Text(_technique(choice)),
            Text(_domain(choice)),
            str(choice.origin) if choice.origin else "",
        ]
        if tail is not None:
            row.append(Text(tail) if index == 0 else "")
        table.add_row(*row)


def _class_kind(entry: Entry) -> str:
    kind = entry.kind.value if entry.kind else "any kind"
    return f"{entry.column_class.value if entry.column_class else 'any class'}, {kind}"


def _technique(choice: Choice) -> str:
    text = choice.technique
    params = {k: v for k, v in choice.params.items() if k != "domain"}
    if params:
        text += " " + ", ".join(f"{k}={v}" for k, v in params.items())
    if choice.hidden:
        classes = ", ".join(c.value for c in choice.hidden)
        text += f"; redacted where the role may not see the class ({classes})"
    return text


def _domain(choice: Choice) -> str:
    if choice.domain is None:
        return ""
    return f"{choice.domain} (set: joins)" if choice.shared else choice.domain


def _precedence(entry: Entry) -> str:
    if entry.covered_by is not None:
        return f"never applies: rule {entry.covered_by} takes every column it matches"
    return "; ".join(
        f"rule {position} wins for {column_class.value if column_class else 'any class'}, "
        f"{kind.value if kind else 'any kind'}"
        for position, column_class, kind in entry.taken_by
    )
