"""Minors are left out of marketing (and, under PIPL, every consent-based purpose) unless a
guardian consented, with each law's age, in every table of a release.

Generated customers get ages 11 to 17 around each law's threshold (GDPR and CCPA 16,
PIPL 14, LGPD 12), a guardian's consent for some, and no birth date for others. A
customers release reads the table's own birth dates; sessions and orders, which carry no
age, are matched by customer id against the customers' table (``people=``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import time_machine

from shopveil._core.subjects import canonical_id
from shopveil.data import generate_retail, read_table
from shopveil.errors import PolicyError
from shopveil.pipeline import anonymize_file

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
AS_OF = date.today()  # the command line counts ages today (held there by `_same_day`)
AGE = {"gdpr": 16, "ccpa": 16, "lgpd": 12, "pipl": 14}
UNKNOWN_KEPT = {"gdpr": False, "ccpa": True, "lgpd": False, "pipl": False}
YOUNG = 70  # customers 0..69 are 11 to 17; 70..74 have no birth date


def _born(age: int) -> date:
    """Born `age + 1` years before the day after AS_OF: `age` on AS_OF, a day short."""
    day = AS_OF + timedelta(days=1)
    try:
        return day.replace(year=day.year - age - 1)
    except ValueError:  # 29 February
        return date(day.year - age - 1, 3, 1)


def _age(i: int) -> int | None:
    return 11 + i // 10 if i < YOUNG else None


@lru_cache(maxsize=1)
def _tables() -> dict[str, pa.Table]:
    data = generate_retail(300, seed=3)
    customers = data.tables["customers"]
    births = customers.column("birth_date").to_pylist()
    for i in range(YOUNG + 5):
        age = _age(i)
        births[i] = None if age is None else _born(age)
    guardian = [i < YOUNG + 5 and i % 10 == 0 for i in range(customers.num_rows)]
    customers = customers.set_column(
        customers.schema.get_field_index("birth_date"), "birth_date", pa.array(births, pa.date32())
    )
    customers = customers.set_column(  # no opt-outs: the test is about ages
        customers.schema.get_field_index("opted_out_of_sale"),
        "opted_out_of_sale",
        pa.array([False] * customers.num_rows),
    ).append_column("guardian_consent", pa.array(guardian))
    return {"customers": customers, "sessions": data.tables["sessions"],
            "orders": data.tables["orders"]}  # fmt: skip


@pytest.fixture(autouse=True)
def _same_day() -> Iterator[None]:
    """Keep the process's today at AS_OF, so a run that crosses midnight counts the same ages
    in the command line as in the births above (a day short of a birthday on purpose)."""
    with time_machine.travel(datetime.combine(AS_OF, time(12), tzinfo=UTC), tick=True):
        yield


def _ids(table: pa.Table) -> list[str | None]:
    return [None if v is None else canonical_id(v) for v in table.column("customer_id").to_pylist()]


def _kept(law: str) -> set[str]:
    """The customers a marketing release under ``law`` may hold."""
    ids = _ids(_tables()["customers"])
    kept = set()
    for i, customer in enumerate(ids):
        age = _age(i) if i < YOUNG + 5 else 30
        guardian = i < YOUNG + 5 and i % 10 == 0
        if guardian or (age is None and UNKNOWN_KEPT[law]) or (age is not None and age >= AGE[law]):
            kept.add(str(customer))
    return kept


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _write_purchases(shop: Path) -> pa.Table:
    """The shop's purchases (its customers' orders and lines) as ``purchases.csv``."""
    data = generate_retail(300, seed=3)  # the same shop: orders of _tables()' customers
    lines = data.tables["order_lines"].select(["order_id", "stock_code"])
    orders = data.tables["orders"].select(["order_id", "customer_id", "order_time"])
    purchases = orders.join(lines, "order_id").rename_columns(
        {"customer_id": "CustomerID", "stock_code": "StockCode", "order_time": "InvoiceDate"}
    )
    pacsv.write_csv(purchases.drop_columns(["order_id"]), shop / "purchases.csv")
    return purchases


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The shop on disk; every customer granted marketing and analytics (LGPD and PIPL ask
    consent), so only ages decide."""
    for name, table in _tables().items():
        pacsv.write_csv(table, tmp_path / f"{name}.csv")
    lines = ["customer,purpose,status,date"]
    for customer in _ids(_tables()["customers"]):
        lines += [
            f"{customer},marketing,granted,2011-02-01",
            f"{customer},analytics,granted,2011-02-01",
        ]
    (tmp_path / "consent.csv").write_text("\n".join(lines) + "\n")
    _ok("data", "add", "customers", str(tmp_path / "customers.csv"), "--unit", "customer_id")
    _ok("consent", "import", str(tmp_path / "consent.csv"))
    for law in AGE:
        (tmp_path / f"{law}.yaml").write_text(
            f"shopveil_policy: 1\nname: ids-{law}\nextends: {law}\ncolumns:\n"
            "  customer_id: {class: direct_identifier, kind: customer_id, technique: keep}\n"
        )
    return tmp_path


@pytest.mark.parametrize("law", AGE)
def test_a_marketing_release_leaves_minors_out_of_every_table(shop: Path, law: str) -> None:
    kept = _kept(law)
    for name in ("customers", "sessions", "orders"):
        out = shop / f"{name}-{law}.csv"
        people = None if name == "customers" else shop / "customers.csv"
        result = anonymize_file(
            shop / f"{name}.csv", out, policy=shop / f"{law}.yaml", purpose="marketing",
            role="admin", as_of=AS_OF, people=people,
        )  # fmt: skip
        released = _ids(read_table(out))
        source = _ids(_tables()[name])
        guests = UNKNOWN_KEPT[law] and name == "sessions"  # no id: of unknown age
        expected = [c for c in source if (c in kept if c is not None else guests)]
        assert sorted(released, key=str) == sorted(expected, key=str), name
        assert any(note.startswith("minors") for note in result.plan.notes)
    # The thresholds: who of 11 to 17 stays, guardians aside.
    young = {str(c) for c in _ids(_tables()["customers"])[:YOUNG]}
    ages_kept = {_age(i) for i, c in enumerate(_ids(_tables()["customers"])[:YOUNG])
                 if str(c) in kept and i % 10}  # fmt: skip
    assert min(ages_kept) == AGE[law] and young - kept


@pytest.mark.parametrize("law", ["gdpr", "lgpd", "pipl"])
def test_without_ages_a_fail_closed_law_refuses_the_release(shop: Path, law: str) -> None:
    out = shop / "sessions-out.csv"
    with pytest.raises(PolicyError, match=r"^\w+\.yaml:\d+: .*pass people="):
        anonymize_file(shop / "sessions.csv", out, policy=law, purpose="marketing",
                       as_of=AS_OF)  # fmt: skip
    assert not out.exists()


def test_ccpa_keeps_rows_of_unknown_age_and_says_so(shop: Path) -> None:
    out = shop / "sessions-ccpa.csv"
    result = anonymize_file(shop / "sessions.csv", out, policy="ccpa", purpose="marketing",
                            as_of=AS_OF)  # fmt: skip
    assert result.summary.rows_out == _tables()["sessions"].num_rows
    assert any("no age is known and every row is kept" in n for n in result.plan.notes)


def test_analytics_keeps_minors_except_under_pipl(shop: Path) -> None:
    n = _tables()["customers"].num_rows
    gdpr = anonymize_file(shop / "customers.csv", shop / "a.csv", policy="gdpr",
                          purpose="analytics", as_of=AS_OF)  # fmt: skip
    assert gdpr.summary.rows_out == n
    pipl = anonymize_file(shop / "customers.csv", shop / "b.csv", policy="pipl",
                          purpose="analytics", as_of=AS_OF)  # fmt: skip
    assert pipl.summary.rows_out == len(_kept("pipl"))


def test_a_member_state_may_lower_the_gdpr_age_to_13_not_below(shop: Path) -> None:
    lowered = shop / "gdpr13.yaml"
    lowered.write_text((shop / "gdpr.yaml").read_text() + "minors:\n  age: 13\n")
    result = anonymize_file(shop / "customers.csv", shop / "out.csv", policy=lowered,
                            purpose="marketing", role="admin", as_of=AS_OF)  # fmt: skip
    released = set(_ids(read_table(shop / "out.csv")))
    ages = {_age(i) for i, c in enumerate(_ids(_tables()["customers"])[:YOUNG])
            if c in released and i % 10}  # fmt: skip
    assert min(ages) == 13
    assert result.plan.minors is not None and result.plan.minors.age == 13
    too_low = shop / "gdpr12.yaml"
    too_low.write_text((shop / "gdpr.yaml").read_text() + "minors:\n  age: 12\n")
    result_cli = runner.invoke(app, ["anonymize", str(shop / "customers.csv"), "-o",
                                     str(shop / "never.csv"), "--policy", str(too_low),
                                     "--purpose", "marketing"])  # fmt: skip
    assert result_cli.exit_code == 2, result_cli.output
    assert f"{too_low}:7: minors.age is 12; under gdpr give 13 to 18" in result_cli.stderr
    assert not (shop / "never.csv").exists()


def test_the_cli_takes_the_ages_of_another_table(shop: Path) -> None:
    out = shop / "orders-cli.csv"
    _ok("anonymize", str(shop / "orders.csv"), "-o", str(out), "--policy",
        str(shop / "gdpr.yaml"), "--purpose", "marketing", "--role", "admin",
        "--people", str(shop / "customers.csv"))  # fmt: skip
    released = set(_ids(read_table(out)))
    assert released and released <= _kept("gdpr")


def test_a_fit_reads_no_purchase_of_a_minor_and_needs_the_ages(shop: Path) -> None:
    from shopveil import open_workspace
    from shopveil.learn import FitContext, Popularity, load_interactions

    purchases = _write_purchases(shop)
    train = load_interactions(shop / "purchases.csv")
    with open_workspace() as workspace:
        subjects = workspace.allowed_subjects("personalization", "gdpr", shop / "customers.csv")
        with pytest.raises(PolicyError, match="purchase histories carry no age; pass --people"):
            workspace.allowed_subjects("personalization", "gdpr")
        assert workspace.allowed_subjects("personalization", None) is not None  # no law named
    fitted = Popularity().fit(train, FitContext(subjects=subjects))
    keep = np.isin([canonical_id(u) for u in train.user_ids], sorted(_kept("gdpr")))
    assert (~keep[train.users]).any()  # minors did buy: their events were in the input
    assert np.array_equal(
        fitted.counts, Popularity().fit(train.of_users(keep), FitContext()).counts
    )
    # The command line refuses a fit under GDPR without the ages, and takes them.
    args = ["train", "--data", str(shop / "purchases.csv"), "--model", "popularity", "-o",
            str(shop / "m.npz"), "--jurisdiction", "gdpr"]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "pass --people" in refused.stderr
    _ok(*args, "--people", str(shop / "customers.csv"))
    # A private fit's charge records its processing: training, under consent and ages.
    products = purchases.group_by("StockCode").aggregate([])
    pacsv.write_csv(products, shop / "catalogue.csv")
    private = [*args, "--people", str(shop / "customers.csv"), "--epsilon", "1",
               "--catalogue", str(shop / "catalogue.csv")]  # fmt: skip
    private[private.index("popularity")] = "dp-popularity"
    _ok(*private)
    with open_workspace() as workspace:
        charge = workspace.audit.events(action="dp.charge")[-1]
    record = charge.details["records_of_processing"]
    assert record["purpose"] == "model_training" and record["transfers"] == []
    assert "16" in " ".join(record["legal_basis"])


def test_a_marketing_query_counts_no_minor_and_records_its_basis(shop: Path) -> None:
    from shopveil import open_workspace

    # The gdpr preset caps a DP answer at ε = 1; this policy lifts it for an exact count.
    policy = shop / "gdpr-query.yaml"
    policy.write_text(
        (shop / "gdpr.yaml").read_text()
        + "release_status:\n  anonymous: {k: 11, epsilon_cap: 1.0e+7}\n"
    )
    _ok("budget", "set", "customers", "--epsilon", "1e7")  # orders are the customers' people
    args = ["query", "SELECT COUNT(*) AS n FROM orders", "--data", str(shop / "orders.csv"),
            "--epsilon", "1e6", "--policy", str(policy), "--purpose", "marketing",
            "--privacy-unit", "customer_id", "--max-contributions", "1000", "--json"]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "pass --people" in refused.stderr
    answer = json.loads(_ok(*args, "--people", str(shop / "customers.csv")))
    orders = _ids(_tables()["orders"])
    kept = _kept("gdpr")
    expected = sum(1 for c in orders if c in kept)
    assert expected < len(orders)  # minors did order
    assert abs(answer["rows"][0]["n"]["value"] - expected) < 1
    with open_workspace() as workspace:
        charge = workspace.audit.events(action="dp.charge")[-1]
    record = charge.details["records_of_processing"]
    assert record["purpose"] == "marketing"
    assert record["recipients"] == [{"name": "-", "kind": "first_party", "flow": "internal"}]
    basis = " ".join(record["legal_basis"])
    assert "gdpr" in basis.lower() and "16" in basis  # consent's basis, then the minors rule


def test_recommendations_for_a_minor_are_not_built_from_their_purchases(shop: Path) -> None:
    purchases = _write_purchases(shop)
    model = shop / "knn.npz"
    _ok("train", "--data", str(shop / "purchases.csv"), "--model", "itemknn", "-o", str(model),
        "--jurisdiction", "ccpa")  # fmt: skip
    buyers = {canonical_id(c) for c in purchases.column("CustomerID").to_pylist()}
    ids = _ids(_tables()["customers"])
    minor = next(str(c) for i, c in enumerate(ids[:YOUNG]) if i % 10 and str(c) in buyers
                 and str(c) not in _kept("gdpr"))  # fmt: skip
    args = ["recommend", "--model", str(model), "--customer", minor, "--history",
            str(shop / "purchases.csv"), "--jurisdiction", "gdpr", "--json"]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "pass --people" in refused.stderr
    result = runner.invoke(app, [*args, "--people", str(shop / "customers.csv")])
    assert result.exit_code == 0, result.output
    assert "minors the law leaves out" in result.stderr
    unlawful = json.loads(result.stdout)
    adult = json.loads(_ok(*args[:-3], "--json"))  # no law named: personalized
    assert unlawful != adult


def test_the_services_record_release_leaves_minors_out_by_the_records_own_ages() -> None:
    from shopveil._workspace import open_workspace
    from shopveil.pipeline import protect_records
    from shopveil.policy import load_policy

    policy = load_policy("gdpr")
    records = [
        {"customer_id": "1", "birth_date": _born(15).isoformat(), "guardian_consent": "no"},
        {"customer_id": "2", "birth_date": _born(15).isoformat(), "guardian_consent": "yes"},
        {"customer_id": "3", "birth_date": _born(16).isoformat(), "guardian_consent": "no"},
    ]
    with open_workspace() as ws:
        done = protect_records(
            ws, records, policy=policy, role="marketer", purpose="marketing", as_of=AS_OF
        )
        # The 15-year-old without a guardian's consent is left out; the others stay.
        assert done.rows_in == 3 and len(done.records) == 2
        assert any("minors, by 'birth_date'" in n for n in done.plan.notes)
        # A request without ages cannot show who is a minor: GDPR refuses it.
        with pytest.raises(PolicyError, match="pass people="):
            protect_records(
                ws, [{"customer_id": "1"}], policy=policy, role="marketer", purpose="marketing"
            )


def test_pipl_trains_only_where_the_data_is(shop: Path) -> None:
    _write_purchases(shop)
    args = ["train", "--data", str(shop / "purchases.csv"), "--model", "popularity", "-o",
            str(shop / "m.npz"), "--people", str(shop / "customers.csv"),
            "--jurisdiction"]  # fmt: skip
    refused = runner.invoke(app, [*args, "pipl"])
    assert refused.exit_code != 0 and not (shop / "m.npz").exists()
    assert "model_training" in refused.stderr and "shopveil fl" in refused.stderr
    _ok(*args, "lgpd")  # other laws allow a central fit


def test_a_sale_leaves_minors_out_whatever_its_purpose(shop: Path) -> None:
    policy = shop / "ccpa-sale.yaml"
    policy.write_text(
        (shop / "ccpa.yaml").read_text() + "recipients:\n  adnet: {kind: third_party, flow: sale}\n"
    )
    internal = anonymize_file(shop / "customers.csv", shop / "in.csv", policy=policy,
                              purpose="analytics", role="admin", as_of=AS_OF)  # fmt: skip
    assert internal.summary.rows_out == _tables()["customers"].num_rows  # analytics keeps them
    sold = anonymize_file(shop / "customers.csv", shop / "sold.csv", policy=policy,
                          purpose="analytics", role="admin", recipient="adnet",
                          as_of=AS_OF)  # fmt: skip
    assert set(_ids(read_table(shop / "sold.csv"))) == _kept("ccpa")
    assert any(note.startswith("minors") for note in sold.plan.notes)
