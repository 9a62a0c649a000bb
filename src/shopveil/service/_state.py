"""What the service holds while it runs, and who is calling: the request's dependencies."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow as pa
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shopveil._core.subjects import SubjectFilter
from shopveil._workspace import Workspace
from shopveil.detect import TextEngine
from shopveil.errors import AccessDenied
from shopveil.governance import AccessGrant, Action
from shopveil.pipeline import PlanCache
from shopveil.policy import Policy
from shopveil.service._calls import CallLog
from shopveil.service._config import ServiceConfig
from shopveil.service._keys import GrantCache
from shopveil.service._limits import RateLimiter

if TYPE_CHECKING:
    from shopveil.learn import Catalogue, FittedRecommender, ServedRecommender

__all__ = ["Caller", "Model", "Service", "allowed", "caller_for"]

_BEARER = HTTPBearer(auto_error=False, description="An API key from `shopveil access grant`.")


@dataclass(frozen=True)
class Model:
    """The recommender the service serves: the fitted model, its item catalogue, and both
    ready to answer one customer at a time."""

    fitted: FittedRecommender
    catalogue: Catalogue
    name: str
    served: ServedRecommender


@dataclass(frozen=True)
class Service:
    """The open workspace, the policy, the model, the rate limiter, the call log, the
    recently checked keys and the plans of the request shapes seen."""

    config: ServiceConfig
    workspace: Workspace
    policy: Policy
    limiter: RateLimiter
    model: Model | None
    calls: CallLog
    keys: GrantCache
    plans: PlanCache
    minors: Mapping[str, SubjectFilter] = field(default_factory=dict)
    text_engine: TextEngine = TextEngine.RULES  # MODEL where the text extra is installed

    def of_age(self, purpose: str, customer: str) -> bool:
        """Whether ``customer`` is no minor the law leaves out of ``purpose`` (by the
        ages of ``ServiceConfig.people``, read at start)."""
        found = self.minors.get(purpose)
        return found is None or bool(found.allowed(pa.array([customer], pa.string()))[0])


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the grant, and the workspace acting as the key's name."""

    grant: AccessGrant
    workspace: Workspace
    service: Service

    def purpose(self, purpose: str) -> str:
        """``purpose``, if this key may act for it; else :class:`AccessDenied` (403)."""
        if purpose not in self.grant.purposes:
            raise AccessDenied(
                f"key {self.grant.name!r} may not act for purpose {purpose!r}; its purposes "
                f"are {', '.join(self.grant.purposes)}"
            )
        return purpose


def service_of(request: Request) -> Service:
    """The service the app was created with."""
    found: Service = request.app.state.service
    return found


def caller_for(
    action: Action,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
) -> Caller:
    """Authenticate the request, then check ``action`` and the key's rate: 401, 403, 429."""
    service = service_of(request)
    grant = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        grant = service.keys.authenticate(credentials.credentials)
    if grant is None:
        raise HTTPException(
            401, "no valid API key: send Authorization: Bearer KEY", {"WWW-Authenticate": "Bearer"}
        )
    request.state.actor = grant.name
    wait = service.limiter.wait_for(grant.name)
    if wait > 0:
        raise HTTPException(
            429,
            f"key {grant.name!r} is over its rate limit; retry in {wait:.2f} s",
            {"Retry-After": str(max(1, round(wait)))},
        )
    if not grant.may(action):
        raise AccessDenied(f"role {grant.role!r} may not use {action.value}")
    workspace = dataclasses.replace(service.workspace, actor=grant.name)
    return Caller(grant, workspace, service)


def allowed(action: Action) -> Any:
    """A FastAPI dependency: the :class:`Caller`, if its key may take ``action``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> Caller:
        return caller_for(action, request, credentials)

    return Depends(dependency)
