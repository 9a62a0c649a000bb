"""The service, started for real (``shopveil serve``) and called over HTTP, on every store."""

from __future__ import annotations

import pytest
from _served import MINOR, Served

pytestmark = pytest.mark.slow

CUSTOMER = "17850"  # buys in the bundled slice


def _items(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [pick["item"] for pick in body["items"]]


def test_health_openapi_and_docs_answer_without_a_key(served: Served) -> None:
    with served.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        spec = http.get("/openapi.json").json()
        assert "/v1/protect" in spec["paths"] and "/v1/recommendations/{customer}" in spec["paths"]
        assert "swagger" in http.get("/docs").text.lower()


def test_protect_masks_by_the_callers_role_and_audits_the_keys_name(served: Served) -> None:
    records = [
        {"customer_id": "C1001", "email": "ann.smith@example.org", "country": "France"},
        {"customer_id": "C1002", "email": "bob.jones@example.org", "country": "Spain"},
    ]
    body = {"records": records, "purpose": "analytics"}
    with served.client("analyst") as http:
        out = http.post("/v1/protect", json=body).json()
    assert out["rows_in"] == out["rows_out"] == 2
    first = out["records"][0]
    assert "email" not in first and first["customer_id"].startswith("tk1_")
    assert first["country"] == "France"
    with served.client("support_agent") as http:
        support = http.post("/v1/protect", json={**body, "purpose": "support"}).json()
    assert support["records"][0]["email"] == "ann.smith@example.org"  # the policy allows it
    with served.client("analyst") as http:  # a purpose the key was not granted
        denied = http.post("/v1/protect", json={**body, "purpose": "support"})
    assert denied.status_code == 403 and "ann.smith" not in denied.text
    with served.workspace() as ws:
        runs = ws.audit.events(action="anonymize.run")
    assert [e.actor for e in runs][-2:] == ["analyst", "support_agent"]
    assert "ann.smith" not in str([e.details for e in runs])


def test_vault_tokens_resolve_for_support_only(served: Served) -> None:
    values = [{"subject": "C77", "value": "1 Rue de Rivoli, Paris"}]
    with served.client("shop_front") as http:
        tokens = http.post("/v1/pseudonymize", json={"purpose": "fulfilment", "values": values})
    (token,) = tokens.json()["tokens"]
    assert token.startswith("vt1_")
    with served.client("support_agent") as http:
        back = http.post("/v1/detokenize", json={"purpose": "fulfilment", "tokens": [token]})
        assert back.json() == {"values": ["1 Rue de Rivoli, Paris"]}
    with served.client("shop_front") as http:
        refused = http.post("/v1/detokenize", json={"purpose": "fulfilment", "tokens": [token]})
    assert refused.status_code == 403 and "Rivoli" not in refused.text


def test_redact_replaces_pii_in_free_text(served: Served) -> None:
    text = "Please call Ann on +44 20 7946 0958 or write to ann.smith@example.org"
    with served.client("marketer") as http:
        (out,) = http.post("/v1/redact", json={"texts": [text]}).json()["texts"]
    assert "ann.smith@example.org" not in out and "7946" not in out and "[email]" in out


def test_redact_catches_names_and_keeps_a_conversations_pseudonyms(served: Served) -> None:
    # A name and a city that no pattern or name list knows: only the entity model finds them.
    texts = ["Kwame Mensah here, the parcel went to Madrid", "Kwame again, any news?"]
    with served.client("support_agent") as http:
        labels = http.post("/v1/redact", json={"texts": texts[:1]}).json()["texts"]
        first = http.post("/v1/redact", json={"texts": texts, "conversation_id": "t-81"})
        later = http.post(
            "/v1/redact", json={"texts": ["Kwame Mensah again"], "conversation_id": "t-81"}
        )
        other = http.post("/v1/redact", json={"texts": texts, "conversation_id": "t-82"})
    assert labels == ["[person_name] here, the parcel went to [city]"]
    fakes, again, elsewhere = first.json()["texts"], later.json()["texts"], other.json()["texts"]
    assert "Kwame" not in str([fakes, again, elsewhere]) and "Madrid" not in str(fakes)
    name = fakes[0].split(" here")[0]
    assert fakes[1] == f"{name.split()[0]} again, any news?"  # one person, one fake
    assert again == [f"{name} again"]  # in a later request of the conversation too
    assert elsewhere[0] != fakes[0]  # another conversation, other fakes


def test_a_query_is_charged_and_budgets_show_it_bad_queries_charge_nothing(
    served: Served,
) -> None:
    def spent() -> str:
        with served.client("analyst") as http:
            (orders,) = [b for b in http.get("/v1/budgets").json() if b["dataset"] == "orders"]
        return str(orders["spent"])

    with served.client("analyst") as http:
        before = spent() if http.get("/v1/budgets").json() else None
        bad = [
            {"sql": "SELECT COUNT(*) FROM orders", "dataset": "nope", "epsilon": 0.5},
            {"sql": "SELECT * FROM orders", "dataset": "orders", "epsilon": 0.5},
            {"sql": "SELEC nonsense", "dataset": "orders", "epsilon": 0.5},
            {"sql": "SELECT COUNT(*) FROM orders", "dataset": "orders", "epsilon": -1},
        ]
        codes = [http.post("/v1/query", json=q).status_code for q in bad]
        assert codes == [404, 400, 400, 422]
        assert (spent() if before is not None else None) == before
        answer = http.post(
            "/v1/query",
            json={"sql": "SELECT COUNT(*) AS n FROM orders", "dataset": "orders",
                  "epsilon": 0.5, "max_contributions": 20},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"][0]["n"]["value"] > 0
        assert spent() != before
    with served.client("marketer") as http:
        assert http.post("/v1/query", json=bad[0]).status_code == 403


def test_a_basket_added_now_changes_the_recommendations(served: Served) -> None:
    with served.client("shop_front") as http:
        cold = http.get(f"/v1/recommendations/{CUSTOMER}").json()
        assert cold["personalized"] is False  # nothing of theirs held yet: popular items
        bought = _items(cold)[0]
        stored = http.post(
            "/v1/events",
            json={"customer": CUSTOMER, "events": [{"kind": "basket", "item": "85123A"},
                                                   {"kind": "purchase", "item": "71053"}]},
        ).json()  # fmt: skip
        assert stored == {"stored": 2, "personalized": True}
        warm = http.get(f"/v1/recommendations/{CUSTOMER}", params={"k": 5}).json()
    assert warm["personalized"] is True and warm["history_items"] == 2
    assert len(warm["items"]) == 5 and _items(warm) != _items(cold)[:5]
    assert bought  # the cold list was not empty


def test_a_minor_or_a_customer_of_unknown_age_is_neither_stored_nor_personalized(
    served: Served,
) -> None:
    basket = [{"kind": "basket", "item": "85123A"}, {"kind": "purchase", "item": "71053"}]
    with served.client("shop_front") as http:
        popular = http.get("/v1/recommendations/no-such-customer").json()
        for customer in (MINOR, "NO-AGE-1"):  # GDPR: under 16, or no age known
            out = http.post("/v1/events", json={"customer": customer, "events": basket}).json()
            assert out == {"stored": 0, "personalized": False}
            recs = http.get(f"/v1/recommendations/{customer}").json()
            assert recs["personalized"] is False and _items(recs) == _items(popular)
    with served.workspace() as ws:
        assert ws.events.held(MINOR) == [] and ws.events.held("NO-AGE-1") == []


def test_an_opted_out_customer_is_neither_stored_nor_personalized(served: Served) -> None:
    customer = "13047"
    basket = {"customer": customer, "events": [{"kind": "basket", "item": "85123A"}]}
    with served.client("shop_front") as http:
        assert http.post("/v1/events", json=basket).json() == {"stored": 1, "personalized": True}
        assert http.get(f"/v1/recommendations/{customer}").json()["personalized"] is True
        put = http.put(
            f"/v1/consent/{customer}", json={"decisions": {"personalization": "refused"}}
        )
        assert put.json()["purposes"]["personalization"]["status"] == "refused"
        out = http.post("/v1/events", json=basket).json()
        assert out == {"stored": 0, "personalized": False}
        recs = http.get(f"/v1/recommendations/{customer}").json()
        popular = http.get("/v1/recommendations/no-such-customer").json()
    assert recs["personalized"] is False and _items(recs) == _items(popular)
    with served.workspace() as ws:
        assert ws.events.held(customer) == []  # the events kept before the refusal went too


def test_a_subject_is_exported_then_erased_end_to_end(served: Served) -> None:
    customer = "12583"
    with served.client("shop_front") as http:
        http.post(
            "/v1/events",
            json={"customer": customer, "events": [{"kind": "view", "item": "85123A"}]},
        )
        (token,) = http.post(
            "/v1/pseudonymize",
            json={"purpose": "fulfilment", "values": [{"subject": customer, "value": "2 Quai"}]},
        ).json()["tokens"]
        http.put(f"/v1/consent/{customer}", json={"decisions": {"marketing": "granted"}})
    with served.client("analyst") as http:
        query = {"sql": "SELECT COUNT(*) AS n FROM orders", "dataset": "orders", "epsilon": 0.25,
                 "max_contributions": 20}  # fmt: skip
        assert http.post("/v1/query", json=query).status_code == 200
    with served.client("steward") as http:
        export = http.get(f"/v1/subjects/{customer}").json()
        (orders,) = export["budgets"]
        assert orders["dataset"] == "orders" and orders["spent"].startswith("ε=")
        assert orders["spent"] != "ε=0, δ=0"
        assert export["vault_tokens"] == [{"token": token, "purpose": "fulfilment"}]
        assert [e["item"] for e in export["events"]] == ["85123A"]
        assert export["consent"]["marketing"]["status"] == "granted"
        erased = http.delete(f"/v1/subjects/{customer}").json()
        assert erased["vault_values_unrecoverable"] == 1 and erased["events_deleted"] == 1
        assert erased["consent_deleted"] == 1 and erased["dataset_rows_deleted"]["orders"] > 0
        assert http.get(f"/v1/subjects/{customer}").status_code == 404
    with served.client("support_agent") as http:
        gone = http.post("/v1/detokenize", json={"purpose": "fulfilment", "tokens": [token]})
        assert gone.status_code == 410
    with served.client("shop_front") as http:
        assert http.get(f"/v1/recommendations/{customer}").json()["personalized"] is False
    with served.client("steward") as http:
        audit = http.get("/v1/audit", params={"limit": 10_000}).json()
    assert audit["verified"] is True, audit["problem"]
    erasures = [e for e in audit["events"] if e["action"] == "subject.erase"]
    assert erasures and erasures[-1]["actor"] == "steward"


def test_every_call_is_audited_with_the_keys_name_never_the_key(served: Served) -> None:
    with served.client("marketer") as http:
        http.post("/v1/redact", json={"texts": ["hello"]})
    with served.client(key="svk_not-a-key") as http:
        assert http.get("/v1/budgets").status_code == 401
    with served.client("steward") as http:
        events = http.get("/v1/audit", params={"limit": 50}).json()["events"]
    calls = [e for e in events if e["action"] == "service.call"]
    assert any(
        c["actor"] == "marketer" and c["details"] == {"method": "POST", "route": "/v1/redact",
                                                      "status": 200}
        for c in calls
    )  # fmt: skip
    assert any(c["actor"] == "anonymous" and c["details"]["status"] == 401 for c in calls)
    text = str(events)
    assert not any(key in text for key in served.keys.values())


def test_a_revoked_key_is_refused_within_the_key_check_time(served: Served) -> None:
    # The service trusts a key's grant for key_check_seconds (1 s by default), then asks
    # the store again: a key revoked by another process is refused from then on.
    import time

    from shopveil.policy import load_policy

    with served.workspace() as ws:
        _, key = ws.access.grant("temp", "analyst", [], policy=load_policy("gdpr"), actor="t")
    with served.client(key=key) as http:
        assert http.get("/v1/budgets").status_code == 200
        with served.workspace() as ws:
            ws.access.revoke("temp", actor="t")
        revoked_at = time.monotonic()
        time.sleep(1.05)
        assert http.get("/v1/budgets").status_code == 401
        assert time.monotonic() - revoked_at < 5
        assert http.get("/v1/budgets").status_code == 401


def test_the_log_names_routes_never_customer_ids(served: Served) -> None:
    with served.client("shop_front") as http:
        http.get("/v1/recommendations/CUST-LOG-4242")
    log = served.log.read_text()
    assert "GET /v1/recommendations/{customer} 200 key=shop_front" in log
    assert "CUST-LOG-4242" not in log
