"""The steward's dashboard at ``/`` and the governance pages, for a browser.

A browser signs in at ``/login`` with a steward's API key: the service checks it and
sets it in an ``HttpOnly``, ``SameSite=Strict`` cookie (never readable by a script,
never sent by another site), which only these pages accept; the ``/v1`` endpoints take
the ``Authorization`` header alone, so a cookie cannot be used across sites against
them. These pages also take ``Authorization: Bearer KEY``. Without a key they redirect
to the login form; a key that is not a steward's gets 403.
"""

from __future__ import annotations

import dataclasses
from html import escape
from importlib import resources
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopveil._core.svg import bar_chart, line_chart
from shopveil._workspace import Workspace
from shopveil.governance import AccessGrant, Action
from shopveil.service import _views
from shopveil.service._governance import TITLES, document
from shopveil.service._html import document_html, page, table
from shopveil.service._state import Caller, service_of

__all__ = ["COOKIE", "PAGES", "router"]

COOKIE = "shopveil_key"
PAGES = frozenset({"/", "/login", "/logout", "/governance/{name}"})  # route templates
router = APIRouter(include_in_schema=False)
_LOGIN = (
    '<section class="panel"><p>{message}</p><form method="post" action="/login">'
    '<label>Steward API key <input type="password" name="key" autocomplete="off" '
    'required></label> <button type="submit">Sign in</button></form></section>'
)


def _steward(request: Request) -> Caller | Response:
    """The steward calling, or the answer to send instead (login form, 403, 429)."""
    service = service_of(request)
    header = request.headers.get("authorization", "")
    key = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
    grant = service.keys.authenticate(key) if key else None
    if grant is None:
        return RedirectResponse("/login", status_code=303)
    request.state.actor = grant.name
    if service.limiter.wait_for(grant.name) > 0:
        return HTMLResponse(page("Slow down", "<p>Over the rate limit.</p>"), status_code=429)
    if not grant.may(Action.AUDIT):
        return _login(f"Key {grant.name!r} is not a steward's.", 403)
    workspace = dataclasses.replace(service.workspace, actor=grant.name)
    return Caller(grant, workspace, service)


def _login(message: str, status: int = 200) -> HTMLResponse:
    body = _LOGIN.format(message=escape(message))
    return HTMLResponse(page("Sign in", body, nav=False), status_code=status)


@router.get("/login")
def login_form() -> HTMLResponse:
    """The sign-in form."""
    return _login("Sign in with a steward's API key (shopveil access grant NAME --role steward).")


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key from the form; a steward's is set in an HttpOnly cookie."""
    body = (await request.body())[:1000].decode("utf-8", "replace")
    key = (parse_qs(body).get("key") or [""])[0]
    service = service_of(request)
    grant: AccessGrant | None = await run_in_threadpool(service.keys.authenticate, key)
    if grant is None:
        return _login("That key was not accepted.", 401)
    request.state.actor = grant.name
    if not grant.may(Action.AUDIT):
        return _login(f"Key {grant.name!r} is not a steward's.", 403)
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(COOKIE, key, httponly=True, samesite="strict", path="/",
                      secure=request.url.scheme == "https")  # fmt: skip
    return answer


@router.post("/logout")
def logout() -> Response:
    """Forget the cookie."""
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/")
    return answer


@router.get("/static/shopveil.css")
def style() -> Response:
    """The pages' style sheet, shipped in the package."""
    text = resources.files("shopveil.service").joinpath("static/shopveil.css").read_text()
    return Response(text, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/governance/{name}")
def governance_page(name: str, request: Request) -> Response:
    """The record of processing or the DPIA draft, as a page."""
    caller = _steward(request)
    if not isinstance(caller, Caller):
        return caller
    if name not in TITLES:
        return HTMLResponse(page("Not found", "<p>No such document.</p>"), status_code=404)
    return HTMLResponse(page(TITLES[name], document_html(document(caller, name))))


@router.get("/")
def dashboard(request: Request) -> Response:
    """Budgets over time, people exhausted, release risks, consent and the audit log."""
    caller = _steward(request)
    if not isinstance(caller, Caller):
        return caller
    workspace = caller.workspace
    caller.service.calls.flush()
    panels = [
        _budgets(workspace),
        _risks(workspace),
        _consent(workspace),
        _audit(workspace),
    ]
    return HTMLResponse(page("ShopVeil dashboard", "".join(panels)))


def _panel(title: str, body: str) -> str:
    return f'<section class="panel"><h2>{escape(title)}</h2>{body}</section>'


def _budgets(workspace: Workspace) -> str:
    plots = [
        line_chart(
            f"Budget spent per analyst, over the hours since the first charge: {name}",
            per,
            y_label="ε spent",
        )
        for name, per in sorted(_views.budget_lines(workspace).items())
    ]
    uses = _views.budget_uses(workspace)
    share = [(f"{u.dataset}", u.spent / u.total if u.total else 0.0) for u in uses]
    rows = [[u.dataset, u.unit, f"{u.spent:g}", f"{u.total:g}", u.people_exhausted or "n/a"]
            for u in uses]  # fmt: skip
    return _panel(
        "Privacy budgets",
        "".join(plots or [line_chart("Budget spent over time", {}, y_label="ε")])
        + bar_chart("Share of each account's budget spent", share, y_label="spent / total")
        + table(["dataset", "unit", "spent", "total", "people exhausted"], rows),
    )


def _risks(workspace: Workspace) -> str:
    found = _views.releases(workspace, limit=30)
    measured = [(f"#{r.seq}", r.risk or 0.0) for r in found if r.risk is not None]
    rows = [[r.seq, r.at, r.actor, r.purpose, r.role, r.rows_out, r.status, r.k,
             f"{r.risk:.4f}" if r.risk is not None else "not measured (record-level)"]
            for r in reversed(found)]  # fmt: skip
    return _panel(
        "Re-identification risk of recent releases",
        bar_chart("Prosecutor risk (1 / k) of k-anonymous releases", measured, y_label="risk")
        + table(["#", "at", "by", "purpose", "role", "rows", "status", "k", "risk"], rows),
    )


def _consent(workspace: Workspace) -> str:
    counts = workspace.consent.counts()
    bars = [(f"{p} {s}", float(n)) for p, by in counts.items() for s, n in sorted(by.items())]
    rows = [[p, by.get("granted", 0), by.get("refused", 0), by.get("withdrawn", 0)]
            for p, by in counts.items()]  # fmt: skip
    return _panel(
        "Consent",
        bar_chart("Customers per purpose and decision in force", bars, y_label="customers")
        + table(["purpose", "granted", "refused", "withdrawn"], rows),
    )


def _audit(workspace: Workspace) -> str:
    state = _views.audit_state(workspace, limit=25)
    verdict = (
        f'<p class="verified">Chain verified: {state["events_checked"]} events.</p>'
        if state["verified"]
        else f'<p class="broken">Verification failed: {escape(str(state["problem"]))}</p>'
    )
    rows = [[e["seq"], e["at"], e["actor"], e["action"]] for e in reversed(state["events"])]
    return _panel("Audit log", verdict + table(["#", "at", "actor", "action"], rows))
