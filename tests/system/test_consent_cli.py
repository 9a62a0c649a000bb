"""``shopveil consent import|show`` and erasure, end to end on a real SQLite store.

A bad file is one line on stderr, exit 2, and nothing written: no record, no audit event.
No raw customer id reaches the output, the audit log or the database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
IDS = [f"5{i:05d}" for i in range(40)]


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _count(table: str, where: str = "") -> int:
    db = Path(os.environ["SHOPVEIL_HOME"]) / "shopveil.db"
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,amount\n" + "".join(f"{c},{i}\n" for i, c in enumerate(IDS)))
    _ok("data", "add", "orders", str(orders), "--unit", "customer_id")
    return tmp_path


def _file(folder: Path, *rows: str, name: str = "consent.csv") -> Path:
    path = folder / name
    path.write_text("customer,purpose,status,date\n" + "".join(f"{r}\n" for r in rows))
    return path


def test_import_then_show_the_decisions_in_force(shop: Path) -> None:
    path = _file(
        shop,
        f"{IDS[0]}.0,marketing,granted,2024-01-01",
        f" {IDS[0]},marketing,withdrawn,2024-02-01",
        f"{IDS[1]},gpc,refused,2024-01-15",
    )
    out = _ok("consent", "import", str(path))
    assert "3 decision(s) of 2 customer(s) checked, 3 new" in out
    assert not any(c in out for c in IDS[:2])
    again = _ok("consent", "import", str(path))
    assert "0 new" in again and _count("shopveil_consent_records") == 3
    shown = json.loads(_ok("consent", "show", f"0{IDS[0]}", "--json"))["purposes"]
    assert shown["marketing"]["status"] == "withdrawn"
    assert shown["marketing"]["date"] == "2024-02-01T00:00:00Z"
    assert shown["analytics"] is None
    gpc = json.loads(_ok("consent", "show", IDS[1], "--json"))["purposes"]["sale_sharing"]
    assert gpc == {
        "status": "refused",
        "date": "2024-01-15T00:00:00Z",
        "jurisdiction": None,
        "source": "gpc",
    }
    events = _ok("audit", "show", "--action", "consent.import")
    assert '"by_purpose": {"marketing": {"granted": 1, "withdrawn": 1}' in events
    assert not any(c in events for c in IDS[:2])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((f"{IDS[2]},marketing,maybe,2024-01-01",), "consent.csv line 3: unknown status 'maybe'"),
        ((f"{IDS[2]},ads,granted,2024-01-01",), "consent.csv line 3: unknown purpose 'ads'"),
        ((f"{IDS[2]},marketing,granted,3/4/2024",), "line 3: the date '3/4/2024' is not ISO"),
        (
            (f"{IDS[2]},marketing,granted,2024-01-01", f"{IDS[2]}.0,marketing,refused,2024-01-01"),
            "line 4: the same customer, purpose and date as line 3",
        ),
        (("999999,marketing,granted,2024-01-01",), "1 of 2 customer(s) are not in any of the 1"),
    ],
)
def test_a_bad_file_is_one_line_exit_2_and_nothing_written(
    shop: Path, rows: tuple[str, ...], message: str
) -> None:
    # Good rows first: none of them may be written when a later row is bad.
    path = _file(shop, f"{IDS[3]},analytics,refused,2024-01-01", *rows)
    result = runner.invoke(app, ["consent", "import", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.output
    assert not any(c in result.output for c in (*IDS[2:4], "999999"))
    assert _count("shopveil_consent_records") == 0
    assert _count("shopveil_audit_events", "WHERE action = 'consent.import'") == 0


def test_unknown_customers_are_recorded_only_when_allowed(shop: Path) -> None:
    path = _file(shop, "999999,marketing,refused,2024-01-01", f"{IDS[4]},marketing,refused,")
    result = runner.invoke(app, ["consent", "import", str(path)])
    assert result.exit_code == 2 and "--allow-unknown" in result.stderr
    out = _ok("consent", "import", str(path), "--allow-unknown")
    assert "1 not in any registered dataset" in out
    events = _ok("audit", "show", "--action", "consent.import")
    assert '"unknown_customers": 1' in events and "999999" not in events


def test_erasure_deletes_grants_and_keeps_the_objection_in_force(shop: Path) -> None:
    path = _file(
        shop,
        f"{IDS[5]},marketing,refused,2024-01-01",
        f"{IDS[5]},personalization,granted,2024-01-01",
        f"{IDS[6]},personalization,granted,2024-01-01",
    )
    _ok("consent", "import", str(path))
    out = _ok("erase", "--subject", f"{IDS[5]}.0")
    assert "consent register: 1 record(s) deleted, 1 objection(s) in force kept" in out
    shown = json.loads(_ok("consent", "show", IDS[5], "--json"))["purposes"]
    assert shown["marketing"]["status"] == "refused" and shown["personalization"] is None
    other = json.loads(_ok("consent", "show", IDS[6], "--json"))["purposes"]
    assert other["personalization"]["status"] == "granted"
    assert "verified" in _ok("audit", "verify")
