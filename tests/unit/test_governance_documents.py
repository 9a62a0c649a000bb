"""The record of processing and the DPIA draft: built from the policy and measured risks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from test_policy_processing import SECTIONS

from shopveil.audit import AuditEvent
from shopveil.governance import BudgetUse, Release, dpia_draft, processing_record
from shopveil.policy import load_policy


def _release(seq: int, k: int | None, purpose: str = "analytics") -> Release:
    details: dict[str, object] = {"purpose": purpose, "role": "analyst", "rows_out": 100}
    if k is not None:
        details["table_release"] = {"k_reached": k, "suppressed_rows": 0}
    event = AuditEvent(seq=seq, at=datetime(2026, 12, 1, tzinfo=UTC), actor="dpo",
                       action="anonymize.run", details=details, prev_hash="", hash="")  # fmt: skip
    return Release.from_event(event)


def test_a_k_anonymous_release_measures_its_risk_as_one_over_k() -> None:
    assert _release(1, 8).risk == 0.125 and _release(1, 8).k == 8
    assert _release(2, None).risk is None  # record-level: not measured, never made up


def test_the_record_names_recipients_transfers_retention_and_bases(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path))
    datasets = [{"name": "orders", "unit": {"kind": "customer"}, "rows": 10, "people": 4,
                 "columns": [{"name": "CustomerID", "type": "string"},
                             {"name": "shoe_size", "type": "int64"}]}]  # fmt: skip
    record = processing_record(policy, datasets=datasets, budgets=[], releases=[_release(1, 5)])
    marketing = next(a for a in record["activities"] if a["purpose"] == "marketing")
    assert marketing["retention_days"] == 365
    assert {"name": "mailer", "kind": "processor", "flow": "entrusted", "region": None,
            "contract": "DPA-2024-03"} in marketing["recipients"]  # fmt: skip
    assert "consent" in marketing["legal_basis"] and "GDPR" in marketing["legal_basis"]
    analytics = next(a for a in record["activities"] if a["purpose"] == "analytics")
    assert analytics["releases"] == 1
    assert record["transfers"]["data_region"] == "eu"
    assert record["transfers"]["routes"][0]["to"] == "us"
    assert "shoe_size" in record["categories_of_personal_data"]["scanned_when_released"]
    assert record["datasets"][0]["columns"] == ["CustomerID", "shoe_size"]


def test_the_dpia_flags_a_release_riskier_than_the_policy_allows(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path))  # anonymous: max_risk 0.05
    budgets = [BudgetUse("orders", "customer", total=3.0, spent=1.5, people_exhausted="<10")]
    safe = dpia_draft(policy, datasets=[], budgets=budgets, releases=[_release(1, 50)])
    risky = dpia_draft(policy, datasets=[], budgets=budgets,
                       releases=[_release(1, 50), _release(2, 10)])  # fmt: skip
    assert safe["risks"][0]["within_threshold"] is True
    assert risky["risks"][0]["within_threshold"] is False
    assert "highest prosecutor risk 0.1000 (k = 10, release #2)" in risky["risks"][0]["measured"]
    assert "orders: 1.5 of 3 spent, people exhausted <10" in safe["risks"][1]["measured"]
    none = dpia_draft(policy, datasets=[], budgets=[], releases=[])
    assert none["risks"][0]["measured"] == "no k-anonymous release measured yet"
    assert none["risks"][0]["within_threshold"] is None


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SECTIONS.format(law="gdpr"))
    return path
