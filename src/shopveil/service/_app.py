"""The FastAPI application: routes, limits, one-line errors, and an audit event per call.

Every answer that is not a success is ``{"error": "one line"}``. Errors never echo the
request's values (FastAPI's validation errors do; they are rewritten), and the request
log names the route's template (``/v1/consent/{customer}``), never the path, so no
customer id reaches the logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shopveil import __version__
from shopveil._core.extras import has_extra
from shopveil._core.subjects import SubjectFilter
from shopveil._workspace import open_workspace
from shopveil.detect import TextEngine, find_text_pii
from shopveil.errors import (
    AccessDenied,
    InputError,
    MissingExtraError,
    ParameterError,
    PrivacyError,
    ShopVeilError,
    SubjectErased,
)
from shopveil.governance import fit_minors
from shopveil.pipeline import PlanCache
from shopveil.policy import Policy, load_policy
from shopveil.service import _audit, _dashboard, _dp, _governance, _personal, _records, _subjects
from shopveil.service._calls import CallLog
from shopveil.service._config import ServiceConfig
from shopveil.service._keys import GrantCache
from shopveil.service._limits import BodyLimit, RateLimiter
from shopveil.service._state import Model, Service

__all__ = ["create_app"]

log = logging.getLogger("shopveil.service")


def _minors(policy: Policy, config: ServiceConfig) -> dict[str, SubjectFilter]:
    """Per purpose of the policy, who it leaves out as a minor, by the ages in
    ``config.people`` (read once, at start; a customer added later is of unknown age)."""
    found: dict[str, SubjectFilter] = {}
    for purpose in policy.purposes:
        try:
            minors = fit_minors(
                purpose, policy.jurisdiction, config.people, unknown_without_people=True
            )
        except ParameterError:  # a purpose of the policy's own, outside the consent table
            continue
        if minors is not None:
            found[purpose] = minors
    return found


def _text_engine(chosen: TextEngine | None) -> TextEngine:
    """How /v1/redact finds PII: as configured, else with the entity model where the text
    extra is installed. The model is loaded here, so no request waits for it."""
    engine = chosen or (TextEngine.MODEL if has_extra("text") else TextEngine.RULES)
    if engine is TextEngine.MODEL:
        find_text_pii("Warm up", engine=engine)  # a missing extra fails the start, in one line
    return engine


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The service for ``config`` (``ServiceConfig.from_env()`` by default)."""
    config = config or ServiceConfig.from_env()
    policy = load_policy(config.policy)
    model = _load_model(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        workspace = open_workspace(config.db_url, actor="service")
        limiter = RateLimiter(config.rate_per_second, config.burst)
        calls = CallLog(workspace.audit)
        keys = GrantCache(workspace.access, config.key_check_seconds)
        plans = PlanCache(policy)
        minors = _minors(policy, config)
        engine = _text_engine(config.text_engine)
        app.state.service = Service(
            config, workspace, policy, limiter, model, calls, keys, plans, minors, engine
        )
        calls.start()
        try:
            yield
        finally:
            calls.stop()
            workspace.close()

    app = FastAPI(
        title="ShopVeil",
        version=__version__,
        description="Privacy middleware for a shop's systems: every call passes the policy.",
        lifespan=lifespan,
    )
    for routes in (
        _audit.health,
        _records.router,
        _dp.router,
        _subjects.router,
        _personal.router,
        _audit.router,
        _governance.router,
        _dashboard.router,
    ):
        app.include_router(routes)
    _add_handlers(app)
    app.add_middleware(_Audited)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (what ``shopveil serve`` runs), logging one line
    per request to stderr beside uvicorn's own."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return create_app(ServiceConfig.from_env())


def _load_model(config: ServiceConfig) -> Model | None:
    if config.model is None:
        return None
    from shopveil.learn import ServedRecommender, load_recommender, model_catalogue

    fitted, file = load_recommender(config.model)
    catalogue = model_catalogue(file)
    return Model(fitted, catalogue, fitted.name, ServedRecommender(fitted, catalogue))


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    line = message.splitlines()[0] if message else "error"
    return JSONResponse({"error": line}, status_code=status, headers=dict(headers or {}))


def _add_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (AccessDenied, 403),
        (SubjectErased, 410),
        (PrivacyError, 409),
        (MissingExtraError, 503),
        (InputError, 400),
    ]

    async def shopveil_error(request: Request, exc: Exception) -> Response:
        for kind, status in statuses:
            if isinstance(exc, kind):
                return _error(status, str(exc))
        log.error("request failed: %s", type(exc).__name__)
        return _error(500, f"the service failed ({type(exc).__name__}); nothing was released")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        what = str(first.get("msg", "invalid request"))
        # The value is left out on purpose: it may be a customer's data.
        return _error(422, f"{where}: {what}" if where else what)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("request failed: %s", type(exc).__name__)
        return _error(500, "the service failed; nothing was released")

    app.add_exception_handler(ShopVeilError, shopveil_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


class _Audited:
    """Log one line and audit one ``service.call`` event per call, named by the key's name.

    A plain ASGI wrapper (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream
    per request): it notes the status as the answer starts, and the route's template and
    the caller's key name that routing and authentication left in the request's scope.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            route = getattr(scope.get("route"), "path", "-")
            actor = scope.get("state", {}).get("actor", "anonymous")
            method = scope["method"]
            log.info(
                "%s %s %d key=%s %.1fms",
                method,
                route,
                status,
                actor,
                1000 * (time.perf_counter() - started),
            )
            if scope["path"].startswith("/v1") or route in _dashboard.PAGES:
                service: Service = scope["app"].state.service
                details = {"method": method, "route": route, "status": status}
                service.calls.record(actor, details)
