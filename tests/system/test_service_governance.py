"""The governance documents and the steward's dashboard, over HTTP from a real server."""

from __future__ import annotations

import random
import re
from pathlib import Path

import httpx
import pytest
from _served import Served

from shopveil.pipeline import k_anonymize_file
from shopveil.store import Store


def _k_release(served: Served, folder: Path, k: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """A k-anonymous release written through the service's store; its k reached."""
    rng = random.Random(3)
    lines = ["gender,age,country,quantity"]
    for i in range(120):
        age = rng.randint(20, 60)
        lines.append(f"{rng.choice(['female', 'male'])},{age},{rng.choice(['FR', 'DE'])},{i}")
    source = folder / "people.csv"
    source.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", served.master_key)
    store = Store.open(served.db_url)
    try:
        done = k_anonymize_file(source, folder / "out.csv", k=k, qi=["gender", "age"],
                                store=store, actor="steward")  # fmt: skip
    finally:
        store.close()
    return int(done.anonymized.utility.min_class_size)


def test_ropa_and_dpia_come_from_the_policy_ledger_and_releases(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k_reached = _k_release(served, tmp_path, 4, monkeypatch)
    with served.client("analyst") as http:
        answer = http.post("/v1/query", json={"sql": "SELECT COUNT(*) AS n FROM orders",
                                              "dataset": "orders", "epsilon": 0.25,
                                              "max_contributions": 10})  # fmt: skip
        assert answer.status_code == 200, answer.text
    with served.client("steward") as http:
        ropa = http.get("/v1/governance/ropa").json()
        dpia = http.get("/v1/governance/dpia").json()
        page = http.get("/v1/governance/dpia", params={"format": "html"})
    assert ropa["article"].startswith("GDPR Art. 30(1)") and ropa["jurisdiction"] == "gdpr"
    activities = {a["purpose"]: a for a in ropa["activities"]}
    assert "performance of the customer's contract" in activities["fulfilment"]["legal_basis"]
    assert "GDPR" in activities["marketing"]["legal_basis"]
    assert activities["analytics"]["releases"] >= 1
    assert [d["name"] for d in ropa["datasets"]] == ["orders"]
    assert "CustomerID" in ropa["datasets"][0]["columns"]
    risk = dpia["risks"][0]["measured"]
    assert f"highest prosecutor risk {1 / k_reached:.4f} (k = {k_reached}" in risk
    spent = re.search(r"orders: ([\d.e-]+) of 3 spent", dpia["risks"][1]["measured"])
    assert spent and float(spent.group(1)) >= 0.25
    assert "sign-off" in " ".join(dpia["open_points"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<table>" in page.text and "prosecutor risk" in page.text


def test_governance_documents_are_the_stewards_alone(served: Served) -> None:
    for path in ("/v1/governance/ropa", "/v1/governance/dpia"):
        with served.client() as http:
            assert http.get(path).status_code == 401
        for role in ("analyst", "marketer", "support_agent", "shop_front"):
            with served.client(role) as http:
                refused = http.get(path, params={"format": "html"})
                assert refused.status_code == 403 and "activities" not in refused.text
        with served.client("steward") as http:
            assert http.get(path, params={"format": "pdf"}).status_code == 422


def test_a_browser_signs_in_with_a_stewards_key_in_an_httponly_cookie(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=60) as browser:
        first = browser.get("/")
        assert first.status_code == 303 and first.headers["location"] == "/login"
        assert browser.post("/login", data={"key": "sv_wrong"}).status_code == 401
        refused = browser.post("/login", data={"key": served.keys["analyst"]})
        assert refused.status_code == 403 and COOKIE not in browser.cookies
        signed = browser.post("/login", data={"key": served.keys["steward"]})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        page = browser.get("/")
        assert page.status_code == 200
        for panel in ("Privacy budgets", "Re-identification risk", "Consent", "Audit log"):
            assert panel in page.text
        assert len(re.findall(r"<svg ", page.text)) >= 3
        assert "Chain verified" in page.text
        assert browser.get("/governance/ropa").status_code == 200
        # The cookie opens the pages only: the API still asks for the header.
        assert browser.get("/v1/audit").status_code == 401
        assert browser.get("/static/shopveil.css").headers["content-type"].startswith("text/css")
        browser.post("/logout")
        assert browser.get("/").status_code == 303
    with served.client("marketer") as http:  # a bearer key works too, a steward's only
        assert http.get("/").status_code == 403
    with served.client("steward") as http:
        assert http.get("/").status_code == 200
        calls = [e["details"] for e in http.get("/v1/audit", params={"limit": 200}).json()["events"]
                 if e["action"] == "service.call" and e["actor"] == "steward"]  # fmt: skip
    routes = {(c["method"], c["route"], c["status"]) for c in calls}
    assert {
        ("GET", "/", 200),
        ("GET", "/governance/{name}", 200),
        ("POST", "/login", 303),
    } <= routes


COOKIE = "shopveil_key"
