"""The record-level release end to end: real files, a real SQLite/PostgreSQL store, real keys."""

from __future__ import annotations

import csv
import json
import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopveil.audit import AuditLog
from shopveil.data._io import open_source, read_table
from shopveil.detect import scan_source
from shopveil.errors import (
    GateFailed,
    PolicyError,
    SchemaError,
    SourceError,
    StoreError,
    WrongMasterKey,
)
from shopveil.keys import Keyring
from shopveil.pipeline import RunSummary, anonymize_file, run_plan
from shopveil.policy import compile_plan, load_policy
from shopveil.store import Store

HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def write_orders(path: Path, rows: int = 300, *, broken_at: int | None = None) -> list[list[str]]:
    customers = [str(12000 + i) + ".0" for i in range(40)]
    countries = ["United Kingdom", "France", "Germany", "EIRE"]
    data = []
    for i in range(rows):
        data.append(
            [
                str(536000 + i // 3),
                f"85{i % 97:03d}A",
                "WHITE HANGING HEART T-LIGHT HOLDER",
                str(1 + i % 12),
                f"2011-{1 + i % 9:02d}-{1 + i % 28:02d} 10:{i % 60:02d}:00",
                f"{1 + (i % 50) / 10:.2f}",
                customers[i % len(customers)] if i % 7 else "",
                countries[i % len(countries)],
            ]
        )
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i, row in enumerate(data):
            writer.writerow(row + (["extra"] if i == broken_at else []))
    return data


def test_gdpr_release_tokenizes_ids_keeps_rows_and_audits(tmp_path: Path, store: Store) -> None:
    source = tmp_path / "orders.csv"
    rows = write_orders(source)
    analytics = anonymize_file(source, tmp_path / "a.parquet", policy="gdpr", store=store)
    # Orders carry no age; marketing leaves minors out, so it takes the customers' ages.
    people = tmp_path / "people.csv"
    people.write_text(
        "CustomerID,birth_date\n" + "".join(f"{r[6]},1980-01-01\n" for r in rows if r[6])
    )
    anonymize_file(
        source, tmp_path / "m.csv", policy="gdpr", purpose="marketing", store=store, people=people
    )

    out_a = read_table(tmp_path / "a.parquet").to_pydict()
    out_m = read_table(tmp_path / "m.csv").to_pydict()
    assert analytics.summary.rows_in == analytics.summary.rows_out == len(rows)
    assert len(out_a["CustomerID"]) == len(rows)
    originals = {row[6] for row in rows if row[6]}
    assert not originals & set(out_a["CustomerID"])
    assert not {o.removesuffix(".0") for o in originals} & set(out_a["CustomerID"])
    # Same id → same token within a purpose; different tokens across purposes.
    by_id: dict[str, set[str]] = {}
    for row, token in zip(rows, out_a["CustomerID"], strict=True):
        if row[6]:
            by_id.setdefault(row[6], set()).add(token)
        else:
            assert token is None
    assert all(len(tokens) == 1 for tokens in by_id.values())
    assert not set(out_a["CustomerID"]) - {None} & set(out_m["CustomerID"]) - {None}
    assert set(out_a["InvoiceDate"]) <= {f"2011-{m:02d}" for m in range(1, 10)}
    assert out_a["Country"] == [row[7] for row in rows]
    assert analytics.plan.step("CustomerID").technique == "token"

    log = AuditLog(store, Keyring.open(store))
    assert log.verify() == 2
    events = log.events()
    assert [e.action for e in events] == ["anonymize.run", "anonymize.run"]
    assert events[0].details["rows_in"] == len(rows)
    assert not any(o in str(events[0].details) for o in originals)


def test_ccpa_marketing_drops_opted_out_customers(tmp_path: Path, store: Store) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(
        "customer_id,email,opted_out_of_sale\n1,a@example.com,false\n2,b@example.com,true\n"
        "3,c@example.com,\n"
    )
    result = anonymize_file(
        source, tmp_path / "out.csv", policy="ccpa", purpose="marketing", store=store
    )
    assert (result.summary.rows_in, result.summary.rows_out) == (3, 2)
    emails = read_table(tmp_path / "out.csv").column("email").to_pylist()
    assert all(e.endswith(("example.com", "example.org", "example.net")) for e in emails)
    assert not {"a@example.com", "c@example.com"} & set(emails)


def test_parquet_in_parquet_out(tmp_path: Path, store: Store) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(
        pa.table({"customer_id": pa.array([1, 2, 1], pa.int64()), "qty": pa.array([3, 4, 5])}),
        source,
    )
    anonymize_file(source, tmp_path / "out.parquet", policy="gdpr", store=store)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("qty").to_pylist() == [3, 4, 5]
    ids = out.column("customer_id").to_pylist()
    assert ids[0] == ids[2] != ids[1]


def _assert_nothing_written(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(("out", ".out"))]
    assert leftovers == []


@pytest.mark.parametrize("policy_text", ["shopveil_policy: 1\nname: [\n", None])
def test_bad_input_writes_nothing(tmp_path: Path, store: Store, policy_text: str | None) -> None:
    source = tmp_path / "orders.csv"
    write_orders(source, rows=200_000 if policy_text is None else 10, broken_at=150_000)
    if policy_text is None:
        # A malformed row far into the file: the error names its line, no output remains.
        with pytest.raises(SourceError, match=r"orders.csv line 150002: expected 8 columns, got 9"):
            anonymize_file(source, tmp_path / "out.csv", policy="gdpr", store=store)
    else:
        bad = tmp_path / "bad.yaml"
        bad.write_text(policy_text)
        with pytest.raises(PolicyError, match=r"bad.yaml:3"):
            anonymize_file(source, tmp_path / "out.csv", policy=bad, store=store)
    _assert_nothing_written(tmp_path)


def test_unknown_policy_column_and_missing_file(tmp_path: Path, store: Store) -> None:
    source = tmp_path / "orders.csv"
    write_orders(source, rows=5)
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "shopveil_policy: 1\nname: p\nextends: gdpr\ncolumns:\n  CustomerId:\n"
        "    class: direct_identifier\n    technique: token\n"
    )
    with pytest.raises(SchemaError, match=r"p.yaml:5: the policy names column 'CustomerId'"):
        anonymize_file(source, tmp_path / "out.csv", policy=policy, store=store)
    with pytest.raises(SourceError, match="no such file"):
        anonymize_file(tmp_path / "missing.csv", tmp_path / "out.csv", policy="gdpr", store=store)
    _assert_nothing_written(tmp_path)


def test_wrong_master_key_is_refused_before_any_row(tmp_path: Path, store: Store) -> None:
    source = tmp_path / "orders.csv"
    write_orders(source, rows=5)
    Keyring.open(store, master_key=secrets.token_bytes(32))  # the store's key
    with pytest.raises(WrongMasterKey, match="SHOPVEIL_MASTER_KEY"):
        anonymize_file(source, tmp_path / "out.csv", policy="gdpr", store=store)
    _assert_nothing_written(tmp_path)


def test_a_failing_gate_stops_the_release_and_reports_counts_only(
    tmp_path: Path, store: Store
) -> None:
    source = tmp_path / "customers.csv"
    rows = ["customer_id,country,birth_date,quantity"]
    rows += [f"{i},France,1980-01-0{1 + i % 9},{i}" for i in range(40)]
    rows += ["99,Iceland,1931-05-05,1"]  # one old customer from a small country: unique
    source.write_text("\n".join(rows) + "\n")

    def policy(k: int) -> Path:
        path = tmp_path / f"k{k}.yaml"
        path.write_text(f"shopveil_policy: 1\nname: gated\nextends: gdpr\ngates:\n  k: {k}\n")
        return path

    with pytest.raises(GateFailed, match="release gate failed"):
        anonymize_file(source, tmp_path / "out.csv", policy=policy(2), store=store)
    assert not (tmp_path / "out.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    report = json.loads((tmp_path / "out.csv.gate.json").read_text())
    assert report["passed"] is False
    # Counts and column names only: the held-back record is not published in the report.
    assert report["failing_classes"] == [{"size": 1, "fails": ["k >= 2"]}]
    assert set(report["quasi_identifiers"]) == {"country", "birth_date"}
    text = (tmp_path / "out.csv.gate.json").read_text()
    assert "Iceland" not in text and "1931" not in text

    passed = anonymize_file(source, tmp_path / "ok.csv", policy=policy(1), store=store)
    assert passed.plan.gate is not None
    assert set(passed.plan.gate.quasi_identifiers) == {"country", "birth_date"}
    assert (tmp_path / "ok.csv").is_file()


def test_no_release_without_its_audit_event(tmp_path: Path, store: Store) -> None:
    source = tmp_path / "orders.csv"
    write_orders(source, rows=20)
    opened = open_source(source)
    scan = scan_source(opened)
    plan = compile_plan(
        load_policy("gdpr"), opened.schema, purpose="analytics", labels=scan.labels()
    )

    def audit_down(summary: RunSummary) -> None:
        assert summary.rows_out == 20  # every row was written before this runs
        raise StoreError("the audit log cannot be written")

    with pytest.raises(StoreError):
        run_plan(
            plan, opened, tmp_path / "out.csv", keys=Keyring.open(store), before_publish=audit_down
        )
    _assert_nothing_written(tmp_path)
