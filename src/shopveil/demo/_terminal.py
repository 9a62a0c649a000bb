"""Printing the demo's report in the terminal: one record per table, before and after."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shopveil.demo._report import DemoPersonalization, DemoReport, DemoTable

__all__ = ["show_demo"]

_STYLES = {"direct_identifier": "red", "quasi_identifier": "yellow", "sensitive": "magenta"}
_SHORT = {"direct_identifier": "direct", "quasi_identifier": "quasi"}
_WIDTH = 120  # characters of a value shown at most


def show_demo(report: DemoReport, console: Console) -> None:
    """Print the demo's report on ``console``."""
    console.rule("[bold]ShopVeil demo: GDPR preset, purpose analytics")
    for table in report.tables:
        console.print(_record_card(table))
    console.print(_personalization_card(report.personalization))
    for card in report.scorecards:
        console.print(
            f"Scorecard [bold]{escape(card.name)}[/bold] ({escape(card.html.name)}): "
            f"{escape(card.verdict)}",
            highlight=False,
        )
    console.print(
        f"Outputs in [bold]{report.output_dir}/[/bold] (HTML summary: {report.html}); "
        f"{report.audit_events} audit events verified; {report.seconds:.1f} s."
    )


def _record_card(table: DemoTable) -> Table:
    personal = sum(step.column_class.is_personal for step in table.plan.steps)
    card = Table(
        title=f"{table.name}: {table.rows_in:,} rows in, {table.rows_out:,} out; "
        f"{personal} of {len(table.plan.steps)} columns personal — a sample record",
        title_justify="left",
    )
    card.add_column("column", no_wrap=True)
    card.add_column("class", no_wrap=True)
    card.add_column("technique", no_wrap=True)
    if table.show_before:
        card.add_column("before", overflow="fold")
    card.add_column("after", overflow="fold")
    before, after = _most_changed_record(table)
    for step in table.plan.steps:
        cls = step.column_class.value
        cells = [Text(step.column), Text(_SHORT.get(cls, cls), style=_STYLES.get(cls, "green"))]
        cells.append(Text(step.technique))
        if table.show_before:
            cells.append(_cell(before.get(step.column)))
        # Text, not markup: redacted values such as "[email]" print as they are.
        cells.append(
            Text("(dropped)", style="dim") if step.dropped else _cell(after.get(step.column))
        )
        card.add_row(*cells)
    return card


def _personalization_card(step: DemoPersonalization) -> Table | Text:
    if step.recall_new is None:
        return Text(f"personalization {step.note}", style="yellow")
    card = Table(
        title=f"{step.note}: new-item Recall@20 {step.recall_new:.3f} "
        f"(popularity, not private: {step.popularity_recall_new:.3f}); three customers",
        title_justify="left",
    )
    card.add_column("bought last", overflow="fold")
    card.add_column("recommended (not bought yet)", overflow="fold")
    for picks in step.customers:
        # Product names are data: Text, never markup.
        card.add_row(Text("\n".join(picks.bought)), Text("\n".join(picks.recommended)))
    return card


def _most_changed_record(table: DemoTable) -> tuple[dict[str, object], dict[str, object]]:
    """The sampled record whose protection changed the most values: the telling example."""
    pairs = list(zip(table.before.to_pylist(), table.after.to_pylist(), strict=False))
    if not pairs:
        return {}, {}
    return max(pairs, key=lambda pair: sum(pair[0].get(k) != v for k, v in pair[1].items()))


def _cell(value: object) -> Text:
    text = "" if value is None else " ".join(str(value).split())
    return Text(text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…")
