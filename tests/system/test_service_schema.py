"""Schemathesis against the served OpenAPI document: generated requests, bounded.

Every operation is called with a key whose role may use it, so generated bodies reach
the library: no answer may be a 5xx, and every answer must match the document (status
code, content type, headers, body schema).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from _served import Served
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from shopveil.governance import ROLE_ACTIONS, Action

pytestmark = pytest.mark.slow

# Zero 5xx, and every answer as documented. Not positive_data_acceptance: a schema-valid
# request may still be refused for what it means (an item the model does not know, a
# token not in the vault), with a documented 400.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
# The action each operation needs, to pick a key that may take it.
ACTIONS = {
    ("POST", "/v1/protect"): Action.PROTECT,
    ("POST", "/v1/pseudonymize"): Action.PSEUDONYMIZE,
    ("POST", "/v1/detokenize"): Action.DETOKENIZE,
    ("POST", "/v1/redact"): Action.REDACT,
    ("POST", "/v1/query"): Action.QUERY,
    ("GET", "/v1/budgets"): Action.BUDGETS,
    ("GET", "/v1/consent/{customer}"): Action.CONSENT_READ,
    ("PUT", "/v1/consent/{customer}"): Action.CONSENT_WRITE,
    ("GET", "/v1/subjects/{customer}"): Action.SUBJECT_EXPORT,
    ("DELETE", "/v1/subjects/{customer}"): Action.SUBJECT_ERASE,
    ("POST", "/v1/events"): Action.EVENTS,
    ("GET", "/v1/recommendations/{customer}"): Action.RECOMMEND,
    ("GET", "/v1/audit"): Action.AUDIT,
}


def test_the_served_api_matches_its_document(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= set(ACTIONS)
    for operation in operations:
        action = ACTIONS.get((operation.method.upper(), operation.path))
        role = next((r for r, can in ROLE_ACTIONS.items() if action in can), None)
        headers = {"Authorization": f"Bearer {served.keys[role]}"} if role else {}
        _check(operation, headers)()


def _check(operation: schemathesis.APIOperation, headers: dict[str, str]) -> Callable[[], None]:
    """A bounded Hypothesis run of ``operation``'s generated requests."""

    @given(case=operation.as_strategy())
    @settings(max_examples=10, suppress_health_check=list(HealthCheck), deadline=None,
              database=None)  # fmt: skip
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    return check  # type: ignore[no-any-return]
