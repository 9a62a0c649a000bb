"""``/v1/governance/ropa`` and ``/v1/governance/dpia`` (steward), as JSON or HTML.

The documents are built by :mod:`shopveil.governance` from the policy, the catalog, the
ledger and the audited releases; this module only gathers those and picks the format.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from shopveil.governance import Action, dpia_draft, processing_record
from shopveil.service import _views
from shopveil.service._html import document_html, page
from shopveil.service._schemas import ERRORS
from shopveil.service._state import Caller, allowed

__all__ = ["Format", "document", "router"]

router = APIRouter(prefix="/v1/governance", responses=ERRORS, tags=["governance"])
_BOTH: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/html": {"schema": {"type": "string"}},
        }
    }
}
TITLES = {"ropa": "Record of processing activities", "dpia": "DPIA draft"}


class Format(StrEnum):
    """How a document is answered."""

    JSON = "json"
    HTML = "html"


def document(caller: Caller, name: str) -> dict[str, Any]:
    """The ``ropa`` or ``dpia`` document of the caller's workspace and policy."""
    workspace = caller.workspace
    build = processing_record if name == "ropa" else dpia_draft
    return build(
        caller.service.policy,
        datasets=_views.datasets(workspace),
        budgets=_views.budget_uses(workspace),
        releases=_views.releases(workspace),
    )


def _answer(caller: Caller, name: str, format: Format) -> Response:
    found = document(caller, name)
    if format is Format.HTML:
        return HTMLResponse(page(TITLES[name], document_html(found)))
    return JSONResponse(found)


FormatQuery = Annotated[Format, Query(description="json (default) or html.")]


@router.get("/ropa", responses=_BOTH, response_class=Response)
def ropa(format: FormatQuery = Format.JSON, caller: Caller = allowed(Action.AUDIT)) -> Response:
    """The GDPR Art. 30(1) record of processing activities: one activity per purpose,
    with its legal basis, roles, recipients, retention and releases; the datasets,
    transfers and security measures."""
    return _answer(caller, "ropa", format)


@router.get("/dpia", responses=_BOTH, response_class=Response)
def dpia(format: FormatQuery = Format.JSON, caller: Caller = allowed(Action.AUDIT)) -> Response:
    """A GDPR Art. 35(7) DPIA draft: the processing, its minimisation and retention, the
    measured risks (re-identification of releases, DP budgets, lawful basis), the
    measures, and the points the officer must still write."""
    return _answer(caller, "dpia", format)
