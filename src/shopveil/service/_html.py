"""HTML pages: the shell every page shares, and a document (a JSON tree) as HTML.

Every value is escaped. The style sheet ships in the package (``static/shopveil.css``)
and is served by the service itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["document_html", "page", "table"]


def page(title: str, body: str, *, nav: bool = True) -> str:
    """A whole page: head, the style sheet, the navigation and ``body`` (already HTML)."""
    links = (
        '<nav><a href="/">Dashboard</a> <a href="/governance/ropa">Record of processing</a> '
        '<a href="/governance/dpia">DPIA draft</a> '
        '<form method="post" action="/logout" class="inline"><button>Sign out</button></form>'
        "</nav>"
        if nav
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · ShopVeil</title>"
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/static/shopveil.css"></head>'
        f"<body><header><h1>{escape(title)}</h1>{links}</header><main>{body}</main></body></html>"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table of ``rows`` (values escaped); an empty one says so."""
    if not rows:
        return "<p>None yet.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_text(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def document_html(document: Mapping[str, Any]) -> str:
    """A governance document as nested sections, lists and tables."""
    return f'<article class="document">{_node(document, 2)}</article>'


def _node(value: Any, depth: int) -> str:
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            label = escape(str(key).replace("_", " "))
            if isinstance(item, Mapping | list):
                parts.append(f"<section><h{min(depth, 6)}>{label}</h{min(depth, 6)}>"
                             f"{_node(item, depth + 1)}</section>")  # fmt: skip
            else:
                parts.append(f'<p><span class="key">{label}:</span> {_text(item)}</p>')
        return "".join(parts)
    if isinstance(value, list):
        if value and all(isinstance(v, Mapping) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            flat = all(not isinstance(v.get(k), Mapping) for v in value for k in keys)
            if flat:
                return table([k.replace("_", " ") for k in keys],
                             [[v.get(k) for k in keys] for v in value])  # fmt: skip
        return "<ul>" + "".join(f"<li>{_node(v, depth)}</li>" for v in value) + "</ul>"
    return _text(value)


def _text(value: Any) -> str:
    if value is None:
        return '<span class="none">not set</span>'
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    if isinstance(value, Mapping):
        return escape(", ".join(f"{k}: {v}" for k, v in value.items()))
    return escape(str(value))
