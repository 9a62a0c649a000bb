"""Recipients, transfers, retention, release status and per-row law, per law, end to end.

On a generated shop (customers, sessions and orders linked by customer id), written to
CSV and released through :func:`anonymize_file` on a real store (SQLite and, when set,
PostgreSQL), with decisions in the real consent register:

- a sale or a share leaves out customers who opted out of it (GPC included), under
  every law, and a release to a processor does not;
- a transfer without a mechanism is refused, with nothing written;
- a row past its purpose's retention is not released, and a column past its own period
  is released as null;
- CCPA "deidentified" is refused unless its checks hold;
- with a residence column, each row is released by its own law;
- every release's audit event carries the record-of-processing fields.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from shopveil._core.subjects import canonical_id
from shopveil.audit import AuditLog
from shopveil.data import RetailDataset, generate_retail, read_table
from shopveil.errors import AccessDenied, GateFailed, PolicyError, PrivacyError, SchemaError
from shopveil.governance import ConsentRegister, read_consent_file
from shopveil.keys import Keyring
from shopveil.pipeline import anonymize_file, k_anonymize_file, manifest_path
from shopveil.store import Store

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

LAWS = ("gdpr", "ccpa", "lgpd", "pipl")
TABLES = {"customers": "signup_date", "sessions": "started_at", "orders": "order_time"}
RESIDENCES = ("DE", "US-CA", "BR", "CN")  # customer i lives in RESIDENCES[i % 4]
KEEP_IDS = "  customer_id: {class: direct_identifier, kind: customer_id, technique: keep}\n"


@lru_cache(maxsize=1)
def _shop() -> RetailDataset:
    return generate_retail(400, seed=11)


def _ids(values: list[object]) -> list[str | None]:
    return [None if v is None else canonical_id(v) for v in values]


@pytest.fixture
def shop(tmp_path: Path, store: Store) -> dict[str, object]:
    """The shop on disk (customers with a residence column) and decisions recorded."""
    data = _shop()
    customers = data.tables["customers"]
    residence = [RESIDENCES[i % 4] for i in range(customers.num_rows)]
    customers = customers.append_column("residence", pa.array(residence))
    tables = {**data.tables, "customers": customers}
    for name in TABLES:
        pacsv.write_csv(tables[name], tmp_path / f"{name}.csv")
    ids = _ids(customers.column("customer_id").to_pylist())
    groups: dict[str, set[str]] = {
        "sale_refused": set(ids[0:20]),
        "gpc": set(ids[20:35]),
        "sale_granted": set(ids[35:60]),
        "cross_border": set(ids[40:120]),
        "analytics_granted": set(ids[0:200]),
        "marketing_granted": set(ids[100:250]),
        "marketing_refused": set(ids[300:320]),
    }
    lines = ["customer,purpose,status,date"]
    rows = {
        "sale_refused": "sale_sharing,refused",
        "gpc": "gpc,refused",
        "sale_granted": "sale_sharing,granted",
        "cross_border": "cross_border,granted",
        "analytics_granted": "analytics,granted",
        "marketing_granted": "marketing,granted",
        "marketing_refused": "marketing,refused",
    }
    for group, row in rows.items():
        lines += [f"{c},{row},2011-03-01" for c in sorted(groups[group])]
    (tmp_path / "consent.csv").write_text("\n".join(lines) + "\n")
    keyring = Keyring.open(store)
    audit = AuditLog(store, keyring)
    register = ConsentRegister(store, keyring, audit)
    register.record(
        read_consent_file(tmp_path / "consent.csv", now=datetime.now(UTC)), actor="steward"
    )
    return {
        "dir": tmp_path,
        "store": store,
        "audit": audit,
        "tables": tables,
        "customers": set(ids),
        "residence": dict(zip(ids, residence, strict=True)),
        **groups,
    }


def _policy(shop: dict[str, object], law: str, body: str, name: str = "shop") -> Path:
    path: Path = shop["dir"] / f"{name}-{law}.yaml"  # type: ignore[operator]
    path.write_text(f"shopveil_policy: 1\nname: {name}\nextends: {law}\ncolumns:\n{KEEP_IDS}{body}")
    return path


def _release(shop: dict[str, object], table: str, policy: Path, **options: object) -> Path:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    out = folder / f"{table}-{policy.stem}-{len(list(folder.iterdir()))}.csv"
    # Orders and sessions carry no age: where the law leaves minors out of the purpose
    # (PIPL's analytics), their ages come from the customers' table.
    people = None if table == "customers" else folder / "customers.csv"
    options = {"purpose": "analytics", "role": "admin", "people": people, **options}
    anonymize_file(folder / f"{table}.csv", out, policy=policy, store=shop["store"], **options)  # type: ignore[arg-type]
    return out


def _released_ids(path: Path) -> list[str | None]:
    return _ids(read_table(path).column("customer_id").to_pylist())


def _source_ids(shop: dict[str, object], table: str) -> list[str | None]:
    tables: dict[str, pa.Table] = shop["tables"]  # type: ignore[assignment]
    return _ids(tables[table].column("customer_id").to_pylist())


def _expected(shop: dict[str, object], table: str, allowed: set[str], guests: bool) -> list:
    source = _source_ids(shop, table)
    return sorted((c for c in source if (c in allowed if c is not None else guests)), key=str)


RECIPIENTS = """\
recipients:
  adnet: {kind: third_party, flow: sale}
  social: {kind: third_party, flow: share}
  mailer: {kind: processor, contract: DPA-7}
"""


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("recipient", ["adnet", "social"])
def test_a_sale_or_share_leaves_out_opted_out_and_gpc_customers_in_every_table(
    shop: dict[str, object], law: str, recipient: str
) -> None:
    policy = _policy(shop, law, RECIPIENTS)
    everyone: set[str] = shop["customers"]  # type: ignore[assignment]
    analytics = shop["analytics_granted"] if law == "pipl" else everyone
    if law == "ccpa":  # an opt-out: everyone but who opted out, by a refusal or GPC
        allowed = everyone - shop["sale_refused"] - shop["gpc"]  # type: ignore[operator]
    else:  # consent (PIPL: separate consent): only who granted it
        allowed = set(shop["sale_granted"])  # type: ignore[call-overload]
    allowed &= analytics  # type: ignore[operator]
    for table in TABLES:
        out = _release(shop, table, policy, recipient=recipient)
        expected = _expected(shop, table, allowed, guests=law == "ccpa")
        assert sorted(_released_ids(out), key=str) == expected, (law, table)
        assert not (set(_released_ids(out)) & shop["gpc"])  # type: ignore[operator]
        manifest = json.loads(out.with_name(out.name + ".release.json").read_text())
        flows = manifest["records_of_processing"]["recipients"]
        assert flows == [
            {"name": recipient, "kind": "third_party", "flow": "sale" if recipient == "adnet"
             else "share", "region": None, "contract": None}
        ]  # fmt: skip


def test_a_processor_is_no_sale_so_opted_out_customers_stay(shop: dict[str, object]) -> None:
    policy = _policy(shop, "ccpa", RECIPIENTS)
    out = _release(shop, "sessions", policy, recipient="mailer")
    assert sorted(_released_ids(out), key=str) == sorted(_source_ids(shop, "sessions"), key=str)


TRANSFER = """\
transfers:
  region: {region}
{routes}"""
HOME = {"gdpr": "eu", "ccpa": "us-ca", "lgpd": "br", "pipl": "cn"}


@pytest.mark.parametrize("law", ["gdpr", "lgpd", "pipl"])
def test_a_transfer_without_a_mechanism_is_refused_and_nothing_is_written(
    shop: dict[str, object], law: str
) -> None:
    # A route for another law's data is no mechanism for this one.
    other = "pipl.standard_contract" if law != "pipl" else "gdpr.scc"
    routes = f"  to:\n    us: {{mechanisms: [{other}]}}\n"
    policy = _policy(shop, law, TRANSFER.format(region=HOME[law], routes=routes))
    folder: Path = shop["dir"]  # type: ignore[assignment]
    before = {p.name for p in folder.iterdir()}
    for table in TABLES:
        with pytest.raises(AccessDenied, match=rf"transfer of {law.upper()} data .* refused"):
            _release(shop, table, policy, destination="us")
    assert {p.name for p in folder.iterdir()} == before  # no output, no manifest
    audit: AuditLog = shop["audit"]  # type: ignore[assignment]
    assert audit.events(action="anonymize.run") == []


@pytest.mark.parametrize(
    ("law", "mechanism", "article"),
    [
        ("gdpr", "gdpr.scc", "GDPR Art. 46(2)(c)"),
        ("lgpd", "lgpd.bcr", "LGPD Art. 33 II(c)"),
        ("pipl", "pipl.standard_contract", "PIPL Art. 38(3)"),
    ],
)
def test_a_transfer_with_a_mechanism_is_recorded_and_pipl_asks_separate_consent(
    shop: dict[str, object], law: str, mechanism: str, article: str
) -> None:
    routes = f"  to:\n    us: {{mechanisms: [{mechanism}], reference: SIGNED-2024}}\n"
    policy = _policy(shop, law, TRANSFER.format(region=HOME[law], routes=routes))
    everyone: set[str] = shop["customers"]  # type: ignore[assignment]
    # PIPL Art. 39: each customer's separate consent to the transfer.
    separate = shop["cross_border"] & shop["analytics_granted"]  # type: ignore[operator]
    allowed = separate if law == "pipl" else everyone
    out = _release(shop, "orders", policy, destination="us")
    assert sorted(_released_ids(out), key=str) == _expected(shop, "orders", allowed, law != "pipl")
    audit: AuditLog = shop["audit"]  # type: ignore[assignment]
    record = audit.events(action="anonymize.run")[-1].details["records_of_processing"]
    assert record["transfers"] == [
        {
            "from": HOME[law],
            "to": "us",
            "mechanisms": [{"jurisdiction": law, "mechanism": mechanism, "article": article}],
            "reference": "SIGNED-2024",
            "consent_required_under": ["pipl"] if law == "pipl" else [],
        }
    ]


def test_ccpa_restricts_no_transfer_but_records_it(shop: dict[str, object]) -> None:
    policy = _policy(shop, "ccpa", TRANSFER.format(region="us-ca", routes=""))
    out = _release(shop, "orders", policy, destination="eu")
    manifest = json.loads(out.with_name(out.name + ".release.json").read_text())
    transfer = manifest["records_of_processing"]["transfers"][0]
    assert (transfer["from"], transfer["to"], transfer["mechanisms"]) == ("us-ca", "eu", [])


RETENTION = """\
retention:
  clock: [order_time, started_at, signup_date]
  purposes:
    analytics: {days: 90}
"""
AS_OF = date(2011, 10, 1)


@pytest.mark.parametrize("law", LAWS)
def test_a_row_past_retention_is_not_released(shop: dict[str, object], law: str) -> None:
    policy = _policy(shop, law, RETENTION)
    cutoff = AS_OF - timedelta(days=90)
    tables: dict[str, pa.Table] = shop["tables"]  # type: ignore[assignment]
    everyone: set[str] = shop["customers"]  # type: ignore[assignment]
    allowed = shop["analytics_granted"] if law == "pipl" else everyone
    for table, clock in TABLES.items():
        source = tables[table]
        days = [v if isinstance(v, date) and not isinstance(v, datetime) else v.date()
                for v in source.column(clock).to_pylist()]  # fmt: skip
        ids = _ids(source.column("customer_id").to_pylist())
        expected = sorted(
            (c for c, d in zip(ids, days, strict=True)
             if d >= cutoff and (c in allowed if c is not None else law != "pipl")),
            key=str,
        )  # fmt: skip
        assert 0 < len(expected) < len(ids)  # the period cuts the table
        out = _release(shop, table, policy, as_of=AS_OF)
        assert sorted(_released_ids(out), key=str) == expected, (law, table)


def test_a_column_past_its_own_period_is_released_as_null(shop: dict[str, object]) -> None:
    body = "retention:\n  clock: [started_at]\n  columns:\n    session_id: {days: 30}\n"
    policy = _policy(shop, "gdpr", body)
    out = _release(shop, "sessions", policy, as_of=AS_OF)
    released = read_table(out)
    tables: dict[str, pa.Table] = shop["tables"]  # type: ignore[assignment]
    started = [v.date() for v in tables["sessions"].column("started_at").to_pylist()]
    recent = [d >= AS_OF - timedelta(days=30) for d in started]
    kept = [v is not None for v in released.column("session_id").to_pylist()]
    assert kept == recent and 0 < sum(kept) < len(kept)


def test_retention_with_no_clock_in_the_table_is_refused(shop: dict[str, object]) -> None:
    body = "retention:\n  clock: [order_time]\n  default: {days: 365}\n"
    with pytest.raises(SchemaError, match="none of the retention clock columns"):
        _release(shop, "sessions", _policy(shop, "gdpr", body), as_of=AS_OF)


DEIDENTIFIED = """\
release_status:
  deidentified:
    k: 5
    max_risk: 0.2
    public_commitment: https://shop.example/privacy#deidentified
    contract_terms: DPA-7 section 4 (no re-identification, flow-down)
"""
DROP_IDS = "rules:\n  - when: {class: direct_identifier}\n    technique: drop\n"
DROP_PLACES = "".join(
    f"  {c}: {{class: quasi_identifier, technique: drop}}\n"
    for c in ("postcode", "city", "country", "birth_date", "signup_date", "residence")
)


def test_ccpa_deidentified_is_refused_unless_its_checks_hold(shop: dict[str, object]) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    customers = folder / "customers.csv"

    def release(policy: Path, name: str) -> Path:
        out = folder / f"{name}.csv"
        anonymize_file(customers, out, policy=policy, store=shop["store"], status="deidentified")  # type: ignore[arg-type]
        return out

    # 1. The preset's checks are the retailer's to set: none declared, none passed.
    plain = folder / "plain.yaml"
    plain.write_text("shopveil_policy: 1\nname: plain\nextends: ccpa\n")
    with pytest.raises(PolicyError, match=r"no checks for it; add release_status\.deidentified"):
        release(plain, "plain")
    # 2. The preset tokenizes customer ids: keyed tokens are pseudonymized data.
    tokens = folder / "tokens.yaml"
    tokens.write_text(f"shopveil_policy: 1\nname: tokens\nextends: ccpa\n{DEIDENTIFIED}")
    with pytest.raises(PrivacyError, match=r"customer_id.*pseudonymized"):
        release(tokens, "tokens")
    # 3. No identifier, but exact city, age band and signup day: k fails, nothing written.
    places = folder / "places.yaml"
    places.write_text(f"shopveil_policy: 1\nname: places\nextends: ccpa\n{DROP_IDS}{DEIDENTIFIED}")
    with pytest.raises(GateFailed, match=r"k >= 5 \(actual 1;"):
        release(places, "places")
    assert not (folder / "places.csv").exists()
    assert not (folder / "places.csv.release.json").exists()
    # 4. Coarse enough: released as deidentified, with its commitment and terms recorded.
    coarse = folder / "coarse.yaml"
    coarse.write_text(
        f"shopveil_policy: 1\nname: coarse\nextends: ccpa\ncolumns:\n{DROP_PLACES}"
        f"{DROP_IDS}{DEIDENTIFIED}"
    )
    out = release(coarse, "coarse")
    manifest = json.loads(out.with_name(out.name + ".release.json").read_text())
    assert manifest["release_status"] == "deidentified"
    status = manifest["records_of_processing"]["release_status"]
    assert status["articles"] == "CCPA 1798.140(m)"
    assert status["public_commitment"].endswith("#deidentified")
    assert status["contract_terms"].startswith("DPA-7")
    audit: AuditLog = shop["audit"]  # type: ignore[assignment]
    event = audit.events(action="anonymize.run")[-1]
    assert event.seq == manifest["audit_seq"]
    assert event.details["records_of_processing"]["release_status"] == status


def test_deidentified_is_a_ccpa_status(shop: dict[str, object]) -> None:
    policy = _policy(shop, "gdpr", DEIDENTIFIED)
    with pytest.raises(PolicyError, match="deidentified is CCPA's"):
        _release(shop, "customers", policy, status="deidentified")


RESIDENCE = """\
residence:
  column: residence
  jurisdictions:
    gdpr: [DE]
    ccpa: [US-CA]
    lgpd: [BR]
    pipl: [CN]
"""


def test_each_row_is_released_by_the_law_of_the_customers_residence(
    shop: dict[str, object],
) -> None:
    policy = _policy(shop, "gdpr", RESIDENCE)
    everyone: set[str] = shop["customers"]  # type: ignore[assignment]
    objected: set[str] = shop["marketing_refused"]  # type: ignore[assignment]
    by_law = {
        "DE": everyone - objected,  # GDPR: objection
        "US-CA": everyone - objected - shop["sale_refused"] - shop["gpc"],  # type: ignore[operator]
        "BR": shop["marketing_granted"],  # LGPD: consent
        "CN": shop["marketing_granted"],  # PIPL: consent
    }
    residence: dict[str, str] = shop["residence"]  # type: ignore[assignment]
    expected = sorted(c for c in everyone if c in by_law[residence[c]])
    out = _release(shop, "customers", policy, purpose="marketing")
    assert sorted(_released_ids(out), key=str) == expected
    # One law for every row would have released another set.
    single = _release(shop, "customers", _policy(shop, "gdpr", "", "single"), purpose="marketing")
    assert sorted(_released_ids(single), key=str) != expected


def test_a_residence_no_law_is_mapped_to_is_refused(shop: dict[str, object]) -> None:
    policy = _policy(shop, "gdpr", RESIDENCE.replace("    pipl: [CN]\n", ""))
    with pytest.raises(SchemaError, match=r"\d+ row\(s\) have a residence .* no law is mapped"):
        _release(shop, "customers", policy, purpose="marketing")
    with pytest.raises(SchemaError, match="'residence', which this table lacks"):
        _release(shop, "sessions", policy, purpose="marketing")


def test_every_release_event_carries_the_records_of_processing(shop: dict[str, object]) -> None:
    policy = _policy(shop, "ccpa", RECIPIENTS + RETENTION)
    _release(shop, "orders", policy, recipient="adnet", as_of=AS_OF)
    folder: Path = shop["dir"]  # type: ignore[assignment]
    k_anonymize_file(
        folder / "customers.csv", folder / "k.csv", k=5, qi=["gender"], policy=policy,
        purpose="analytics", role="admin", store=shop["store"], as_of=AS_OF,
    )  # fmt: skip
    audit: AuditLog = shop["audit"]  # type: ignore[assignment]
    events = audit.events(action="anonymize.run")
    assert len(events) == 2
    for event in events:
        record = event.details["records_of_processing"]
        assert set(record) >= {
            "purpose", "legal_basis", "recipients", "transfers", "retention", "release_status"
        }  # fmt: skip
        assert record["retention"]["days"] == 90
        assert all(basis["articles"] for basis in record["legal_basis"])
    first = events[0].details["records_of_processing"]
    assert {b["consent_purpose"] for b in first["legal_basis"]} == {"analytics", "sale_sharing"}
    assert first["recipients"][0]["flow"] == "sale"


def test_the_command_line_refuses_a_pipl_transfer_in_one_line(tmp_path: Path) -> None:
    for name in ("orders", "customers"):
        pacsv.write_csv(_shop().tables[name], tmp_path / f"{name}.csv")
    out = tmp_path / "out.csv"
    args = ["anonymize", str(tmp_path / "orders.csv"), "-o", str(out), "--policy", "pipl",
            "--role", "admin", "--people", str(tmp_path / "customers.csv"),
            "--to", "us"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "transfer of PIPL data from 'cn' to 'us' refused" in result.stderr
    assert "PIPL Art. 38-40" in result.stderr
    assert not out.exists() and not manifest_path(out).exists()
    # In its region, the same release goes out, and says what it is.
    result = CliRunner().invoke(app, [*args[:-2], "--to", "cn", "--as-of", "2011-10-01"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["release_status"] == "pseudonymized"
    assert manifest["records_of_processing"]["transfers"] == []


def test_a_k_anonymous_release_is_deidentified_only_if_every_released_qi_is_covered(
    shop: dict[str, object],
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    places = DROP_PLACES.replace("  country: {class: quasi_identifier, technique: drop}\n", "")
    policy = folder / "k.yaml"
    policy.write_text(
        f"shopveil_policy: 1\nname: k\nextends: ccpa\ncolumns:\n{places}{DROP_IDS}{DEIDENTIFIED}"
    )

    def release(qi: list[str], name: str) -> Path:
        out = folder / f"{name}.csv"
        k_anonymize_file(
            folder / "customers.csv", out, k=5, qi=qi, policy=policy, status="deidentified",
            store=shop["store"],  # type: ignore[arg-type]
        )  # fmt: skip
        return out

    # Gender alone made 5-anonymous leaves the exact country beside it: one Austrian.
    with pytest.raises(GateFailed, match=r"k >= 5 \(actual 1;"):
        release(["gender"], "gender")
    assert not (folder / "gender.csv").exists()
    out = release(["gender", "country"], "both")
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["release_status"] == "deidentified"
