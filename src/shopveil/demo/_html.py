"""The demo's one-page HTML summary. Every value is escaped; only synthetic rows appear in clear."""

from __future__ import annotations

import html

import pyarrow as pa

from shopveil.demo._report import DemoPersonalization, DemoReport, DemoTable

__all__ = ["render_demo_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1d2330; }
h1 { margin-bottom: 0.2rem; } p.lead { color: #5a6275; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1.4rem; font-size: 0.85rem; }
th, td { border: 1px solid #d7dbe3; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f2f4f8; }
.direct_identifier { color: #b3261e; } .quasi_identifier { color: #8a5a00; }
.sensitive { color: #7b1fa2; } .other { color: #2e7d32; }
.hidden { color: #8a8f9c; font-style: italic; }
"""


def render_demo_html(report: DemoReport) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ShopVeil demo</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>ShopVeil demo</h1>",
        f"<p class='lead'>{len(report.tables)} tables protected under the GDPR preset for "
        f"analytics in {report.seconds:.1f} s; {report.audit_events} audit events verified.</p>",
    ]
    for table in report.tables:
        parts.append(_table_section(table))
    parts.append(_personalization_section(report.personalization))
    parts.append(_scorecards_section(report))
    parts.append("</body></html>")
    return "\n".join(parts)


def _table_section(table: DemoTable) -> str:
    e = html.escape
    rows = []
    for step in table.plan.steps:
        finding = table.scan.finding(step.column)
        rows.append(
            f"<tr><td>{e(step.column)}</td>"
            f"<td class='{e(step.column_class.value)}'>{e(step.column_class.value)}</td>"
            f"<td>{e(step.kind.value)}</td><td>{finding.confidence:.2f}</td>"
            f"<td><b>{e(step.technique)}</b></td><td>{e(step.reason)}</td></tr>"
        )
    section = [
        f"<h2>{e(table.name)}</h2>",
        f"<p>{table.rows_in:,} rows in, {table.rows_out:,} rows out → "
        f"<code>{e(table.output.name)}</code></p>",
        "<table><tr><th>column</th><th>class</th><th>kind</th><th>confidence</th>"
        "<th>technique</th><th>why</th></tr>",
        *rows,
        "</table>",
    ]
    if table.show_before:
        section += ["<h3>Before (synthetic customers)</h3>", _sample(table.before)]
    else:
        section.append("<p class='hidden'>Real records are not shown before protection.</p>")
    section += ["<h3>After</h3>", _sample(table.after)]
    return "\n".join(section)


def _personalization_section(step: DemoPersonalization) -> str:
    e = html.escape
    section = ["<h2>Personalization</h2>", f"<p>{e(step.note)}.</p>"]
    if step.recall_new is None:
        return "\n".join(section)
    section.append(
        f"<p>New-item Recall@20 on 2010-12-09 … 12-12: <b>{step.recall_new:.3f}</b> "
        f"(popularity, not private: {step.popularity_recall_new:.3f}). The model file "
        f"<code>{e(step.model_file.name if step.model_file else '')}</code> holds only "
        "released item statistics; each customer is scored from their own purchases.</p>"
    )
    section.append("<table><tr><th>bought last</th><th>recommended</th></tr>")
    for picks in step.customers:
        bought = "<br>".join(e(t) for t in picks.bought)
        recommended = "<br>".join(e(t) for t in picks.recommended)
        section.append(f"<tr><td>{bought}</td><td>{recommended}</td></tr>")
    section.append("</table>")
    return "\n".join(section)


def _scorecards_section(report: DemoReport) -> str:
    e = html.escape
    if not report.scorecards:
        return ""
    items = "".join(
        f"<li><a href='{e(card.html.name)}'>{e(card.name)}</a>: {e(card.verdict)}</li>"
        for card in report.scorecards
    )
    return f"<h2>Privacy-utility scorecards</h2><ul class='scorecards'>{items}</ul>"


def _sample(sample: pa.Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name in sample.column_names)
    body = []
    for row in sample.to_pylist():
        cells = "".join(f"<td>{e(_short(value))}</td>" for value in row.values())
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _short(value: object, limit: int = 80) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
