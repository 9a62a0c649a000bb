"""Every release, DP query and fit obeys the consent register, per law, failing closed.

On a generated shop (customers, sessions, orders and purchases linked by customer id):
the steward registers the customers, imports decisions (refusals spelled ``ID.0`` and
`` ID`` as exports write them), and then

- a marketing release of each table holds exactly the customers the law allows, by
  their customer id, whichever table the id is in;
- a DP count with a huge ε drops by exactly the rows of the customers left out;
- a recommender fits only on the customers who did not object.
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from shopveil._core.subjects import canonical_id
from shopveil.data import RetailDataset, generate_retail, read_table

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
LAWS = ("gdpr", "ccpa", "lgpd", "pipl")
TABLES = ("customers", "sessions", "orders")


@lru_cache(maxsize=1)
def _shop() -> RetailDataset:
    return generate_retail(400, seed=11)


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _ids(table: pa.Table) -> list[str | None]:
    return [None if v is None else canonical_id(v) for v in table.column("customer_id").to_pylist()]


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, object]:
    """The shop on disk, customers registered, and decisions imported."""
    data = _shop()
    for name in TABLES:
        pacsv.write_csv(data.tables[name], tmp_path / f"{name}.csv")
    customers = [canonical_id(v) for v in data.tables["customers"].column("customer_id")]
    flagged = data.tables["customers"].column("opted_out_of_sale").to_pylist()
    groups = {
        "refused": set(customers[0:20]),
        "withdrawn": set(customers[20:30]),
        "granted": set(customers[30:90]),
        "gpc": {c for c, f in zip(customers, flagged, strict=True) if f} - set(customers[:30]),
    }
    lines = ["customer,purpose,status,date,jurisdiction"]
    for i, c in enumerate(sorted(groups["refused"])):
        spelled = f"{c}.0" if i % 2 else f" {c}"  # how exports write ids
        lines.append(f"{spelled},marketing,refused,2011-03-01,")
    for c in sorted(groups["withdrawn"]):
        lines.append(f"{c},marketing,granted,2011-01-01,")
        lines.append(f"{c},marketing,withdrawn,2011-04-01,")
    lines += [f"{c},marketing,granted,2011-02-01," for c in sorted(groups["granted"])]
    lines += [f"{c},gpc,refused,2011-02-01,ccpa" for c in sorted(groups["gpc"])]
    (tmp_path / "consent.csv").write_text("\n".join(lines) + "\n")
    _ok("data", "add", "customers", str(tmp_path / "customers.csv"), "--unit", "customer_id")
    _ok("consent", "import", str(tmp_path / "consent.csv"))
    return {"dir": tmp_path, "customers": set(customers), **groups}


def _allowed(shop: dict[str, object], law: str) -> tuple[set[str], bool]:
    """Customers a marketing release may hold under ``law``, and whether rows without a
    customer id stay."""
    everyone: set[str] = shop["customers"]  # type: ignore[assignment]
    objected = shop["refused"] | shop["withdrawn"]  # type: ignore[operator]
    if law == "gdpr":  # a guest's age is unknown, and GDPR marketing leaves minors out
        return everyone - objected, False
    if law == "ccpa":
        return everyone - objected - shop["gpc"], True  # type: ignore[operator]
    return set(shop["granted"]), False  # type: ignore[arg-type]


@pytest.mark.parametrize("law", LAWS)
def test_a_marketing_release_holds_only_customers_with_a_lawful_basis_in_every_table(
    shop: dict[str, object], law: str
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    policy = folder / f"{law}.yaml"
    # The customer id is kept in clear here, so the test can see who was released.
    policy.write_text(
        f"shopveil_policy: 1\nname: keep-ids\nextends: {law}\ncolumns:\n"
        "  customer_id: {class: direct_identifier, kind: customer_id, technique: keep}\n"
    )
    allowed, guests = _allowed(shop, law)
    for name in TABLES:
        out = folder / f"{name}-{law}.csv"
        # Sessions and orders carry no age: marketing takes the customers' (all adults).
        _ok("anonymize", str(folder / f"{name}.csv"), "-o", str(out), "--policy", str(policy),
            "--purpose", "marketing", "--role", "admin",
            "--people", str(folder / "customers.csv"))  # fmt: skip
        source, released = _ids(_shop().tables[name]), _ids(read_table(out))
        expected = [c for c in source if (c in allowed if c is not None else guests)]
        assert sorted(released, key=str) == sorted(expected, key=str), name
        assert not set(released) - allowed - {None}
    if law in ("lgpd", "pipl"):
        assert allowed == shop["granted"]  # consent: no record, no release


def test_the_opt_out_column_still_counts_and_an_empty_flag_is_no_consent(
    shop: dict[str, object],
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    table = _shop().tables["customers"]
    flags = table.column("opted_out_of_sale").to_pylist()
    # A flag that opted out with no record in the register still leaves the customer out.
    flagged = {canonical_id(c) for c, f in zip(_ids(table), flags, strict=True) if f}
    _ok("anonymize", str(folder / "customers.csv"), "-o", str(folder / "ccpa.csv"),
        "--policy", "ccpa", "--purpose", "marketing")  # fmt: skip
    out = read_table(folder / "ccpa.csv")
    allowed, _ = _allowed(shop, "ccpa")
    assert out.num_rows == len(allowed - flagged)
    # Where consent is needed, an empty opt-out flag does not allow anyone in.
    policy = folder / "consent-flag.yaml"
    policy.write_text(
        "shopveil_policy: 1\nname: lgpd-flag\nextends: lgpd\n"
        "requirements: {opt_out_column: opted_out_of_sale}\n"
    )
    blank = table.set_column(
        table.schema.get_field_index("opted_out_of_sale"),
        "opted_out_of_sale",
        pa.nulls(table.num_rows, pa.bool_()),
    )
    pacsv.write_csv(blank.drop_columns(["customer_id"]), folder / "no-ids.csv")
    _ok("anonymize", str(folder / "no-ids.csv"), "-o", str(folder / "no-ids-out.csv"),
        "--policy", str(policy), "--purpose", "marketing")  # fmt: skip
    assert read_table(folder / "no-ids-out.csv").num_rows == 0


@pytest.mark.parametrize("law", ["gdpr", "ccpa", "pipl"])
def test_a_dp_query_drops_exactly_the_rows_of_customers_left_out(
    shop: dict[str, object], law: str
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    _ok("budget", "set", "customers", "--epsilon", "1000000", "--delta", "0")
    allowed, _ = _allowed(shop, law)
    ids = _ids(_shop().tables["sessions"])
    everyone = sum(c is not None for c in ids)
    expected = sum(c in allowed for c in ids if c is not None)
    assert 0 < expected < everyone

    def count(*extra: str) -> int:
        answer = json.loads(
            _ok("query", "SELECT COUNT(*) AS n FROM sessions", "--data",
                str(folder / "sessions.csv"), "--epsilon", "100000", "--privacy-unit",
                "customer_id", "--max-contributions", "1000", "--json", *extra)
        )  # fmt: skip
        # Noise of scale 1000/100000: the count comes back exact.
        return int(answer["rows"][0]["n"]["value"])

    # The presets cap a DP answer at ε = 1: this policy lifts it for an exact count.
    policy = folder / f"{law}-query.yaml"
    policy.write_text(
        f"shopveil_policy: 1\nname: uncapped\nextends: {law}\nrelease_status:\n"
        "  anonymous: {k: 11, epsilon_cap: 1.0e+6}\n"
    )
    assert count() == everyone  # analytics, no record: everyone
    # Marketing leaves minors out: the customers' ages come with --people (all adults).
    ages = ("--people", str(folder / "customers.csv"))
    assert count("--purpose", "marketing", "--policy", str(policy), *ages) == expected


def test_a_fit_reads_no_event_of_a_customer_who_objects(shop: dict[str, object]) -> None:
    from shopveil import open_workspace
    from shopveil.learn import FitContext, Popularity, load_interactions

    folder: Path = shop["dir"]  # type: ignore[assignment]
    data = _shop()
    lines = data.tables["order_lines"].select(["order_id", "stock_code"])
    orders = data.tables["orders"].select(["order_id", "customer_id", "order_time"])
    purchases = orders.join(lines, "order_id").rename_columns(
        {"customer_id": "CustomerID", "stock_code": "StockCode", "order_time": "InvoiceDate"}
    )
    pacsv.write_csv(purchases.drop_columns(["order_id"]), folder / "purchases.csv")
    objecting = sorted(shop["refused"])[:10]  # type: ignore[call-overload]
    (folder / "profiling.csv").write_text(
        "customer,purpose,status\n" + "".join(f"{c},personalization,refused\n" for c in objecting)
    )
    _ok("consent", "import", str(folder / "profiling.csv"))
    train = load_interactions(folder / "purchases.csv")
    with open_workspace() as workspace:
        subjects = workspace.subjects("personalization", "gdpr")
    fitted = Popularity().fit(train, FitContext(subjects=subjects))
    keep = ~np.isin([canonical_id(u) for u in train.user_ids], objecting)
    assert (~keep[train.users]).any()  # they did buy: their events were in the input
    without = Popularity().fit(train.of_users(keep), FitContext())
    everyone = Popularity().fit(train, FitContext())
    assert np.array_equal(fitted.counts, without.counts)
    assert not np.array_equal(fitted.counts, everyone.counts)
    # The command line does the same: `train --purpose personalization` is the default.
    out = _ok(
        "train",
        "--data",
        str(folder / "purchases.csv"),
        "--model",
        "popularity",
        "-o",
        str(folder / "m.npz"),
        "--jurisdiction",
        "gdpr",
        "--people",
        str(folder / "customers.csv"),
    )  # fmt: skip  (adults: ages known)
    active = len(np.unique(train.users[keep[train.users]]))
    assert f"{active} / {train.n_items}" in out


def test_nothing_is_left_out_for_a_purpose_that_performs_the_contract(
    shop: dict[str, object],
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    _ok("anonymize", str(folder / "sessions.csv"), "-o", str(folder / "f.csv"), "--policy",
        "lgpd", "--purpose", "fulfilment", "--role", "support_agent")  # fmt: skip
    assert read_table(folder / "f.csv").num_rows == _shop().tables["sessions"].num_rows


def test_a_release_for_a_purpose_without_a_legal_basis_is_refused(
    shop: dict[str, object],
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    policy = folder / "odd.yaml"
    policy.write_text(
        "shopveil_policy: 1\nname: odd\nextends: gdpr\npurposes:\n"
        "  profiling_x: {release_modes: [record]}\n"
        "roles:\n  analyst: {purposes: [analytics, model_training, profiling_x], "
        "sees: [quasi_identifier, sensitive, other]}\n"
    )
    result = runner.invoke(app, ["anonymize", str(folder / "orders.csv"), "-o",
                                 str(folder / "odd.csv"), "--policy", str(policy),
                                 "--purpose", "profiling_x"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "purpose 'profiling_x' has no legal basis" in result.stderr
    assert not (folder / "odd.csv").exists()


def test_a_k_anonymous_release_leaves_out_the_same_customers(shop: dict[str, object]) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    objecting = sorted(shop["refused"])  # type: ignore[call-overload]
    (folder / "analytics.csv").write_text(
        "customer,purpose,status\n" + "".join(f"{c},analytics,refused\n" for c in objecting)
    )
    _ok("consent", "import", str(folder / "analytics.csv"))
    out = folder / "orders-k.csv"
    _ok("anonymize", str(folder / "orders.csv"), "-o", str(out), "--policy", "gdpr",
        "--purpose", "analytics", "--k", "2", "--qi", "country", "--suppress", "0.5")  # fmt: skip
    orders = _shop().tables["orders"]
    theirs = {o for o, c in zip(orders["order_id"].to_pylist(), _ids(orders), strict=True)
              if c in set(objecting)}  # fmt: skip
    released = {str(v) for v in read_table(out).column("order_id").to_pylist()}
    assert theirs and released and not released & theirs
