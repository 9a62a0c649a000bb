"""The synthetic retail generator: determinism, valid values, links, sizes, bad input."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _generated_retail import dataset, luhn_ok
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core import Kind
from shopveil._core.luhn import luhn_check_digits as luhn_check_digit
from shopveil.data import (
    COLUMN_TRUTH,
    ColumnTruth,
    RetailOptions,
    SpanTruth,
    generate_retail,
    product_catalogue,
)
from shopveil.errors import ParameterError, SchemaError

TABLES = ("customers", "orders", "order_lines", "sessions", "chats", "reviews")


# --- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_truth() -> None:
    a = generate_retail(500, seed=11)
    b = generate_retail(500, seed=11)
    assert list(a.tables) == list(b.tables) == list(TABLES)
    for name in TABLES:
        assert a.tables[name].equals(b.tables[name]), name
    assert a.spans == b.spans
    assert a.columns == b.columns


def test_other_seed_gives_other_people() -> None:
    a = generate_retail(300, seed=1).tables["customers"]
    b = generate_retail(300, seed=2).tables["customers"]
    assert not a.column("email").equals(b.column("email"))
    assert not a.column("card_number").equals(b.column("card_number"))


def test_customers_do_not_depend_on_the_sizes_of_other_tables() -> None:
    small = RetailOptions(orders_per_customer=0.5, sessions_per_customer=0.0, text=False)
    a = generate_retail(400, seed=5).tables["customers"]
    b = generate_retail(400, seed=5, options=small).tables["customers"]
    assert a.equals(b)


# --- customers ---------------------------------------------------------------------------


def test_customer_columns_and_types() -> None:
    customers = dataset().tables["customers"]
    assert customers.column_names == [c for c, _, _ in COLUMN_TRUTH["customers"]]
    assert customers.num_rows == 3_000
    assert customers.schema.field("birth_date").type == pa.date32()
    assert customers.schema.field("signup_date").type == pa.date32()
    assert customers.schema.field("opted_out_of_sale").type == pa.bool_()
    for name in ("customer_id", "name", "email", "phone", "card_number", "ip_address"):
        assert customers.column(name).null_count == 0, name


def test_ids_and_emails_are_unique() -> None:
    customers = dataset().tables["customers"]
    for name in ("customer_id", "email", "card_number"):
        assert pc.count_distinct(customers.column(name)).as_py() == customers.num_rows, name


def test_card_numbers_are_16_digits_with_valid_luhn() -> None:
    for card in dataset().tables["customers"].column("card_number").to_pylist():
        assert re.fullmatch(r"[45]\d{15}", card)
        assert luhn_ok(card)


@given(st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_luhn_check_digit_makes_any_payload_valid(payload: list[int]) -> None:
    check = int(luhn_check_digit(np.array([payload]))[0])
    assert 0 <= check <= 9
    number = "".join(map(str, payload)) + str(check)
    assert luhn_ok(number)
    # A single changed digit is always caught.
    wrong = number[:-1] + str((check + 1) % 10)
    assert not luhn_ok(wrong)


def test_emails_derive_from_names_and_look_like_emails() -> None:
    customers = dataset().tables["customers"].to_pylist()
    derived = 0
    for row in customers:
        assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9-]+(\.[a-z0-9-]+)+", row["email"])
        local = row["email"].split("@")[0]
        letters = re.sub(r"[^a-z]", "", local)
        last = re.sub(r"[^a-z]", "", row["name"].split()[-1].lower())
        first = re.sub(r"[^a-z]", "", row["name"].split()[0].lower())
        if (last and last in letters) or (first and letters.startswith(first[:1])):
            derived += 1
    assert derived / len(customers) > 0.9


def test_rates_and_ranges_are_plausible() -> None:
    customers = dataset().tables["customers"]
    opted = pc.mean(customers.column("opted_out_of_sale").cast(pa.float64())).as_py()
    assert 0.07 < opted < 0.13
    uk = pc.mean(pc.equal(customers.column("country"), "United Kingdom").cast(pa.float64()))
    assert 0.7 < uk.as_py() < 0.92
    births = customers.column("birth_date").to_pylist()
    signups = customers.column("signup_date").to_pylist()
    assert all(1925 <= b.year <= 1993 for b in births)
    assert all(s.year >= 2006 and s.isoformat() <= "2011-09-30" for s in signups)
    assert all(s.year - b.year >= 17 for b, s in zip(births, signups, strict=True))
    assert set(customers.column("gender").to_pylist()) <= {"F", "M", "X"}


def test_uk_postcodes_match_the_city() -> None:
    rows = dataset().tables["customers"].to_pylist()
    uk = [r for r in rows if r["country"] == "United Kingdom"]
    assert uk
    for row in uk:
        assert re.fullmatch(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}", row["postcode"])
        if row["city"] == "Manchester":
            assert row["postcode"].startswith("M") and row["postcode"][1].isdigit()


# --- links -------------------------------------------------------------------------------


def test_referential_integrity() -> None:
    tables = dataset().tables
    customer_ids = tables["customers"].column("customer_id")
    order_ids = tables["orders"].column("order_id")
    assert pc.all(pc.is_in(tables["orders"].column("customer_id"), customer_ids)).as_py()
    assert pc.all(pc.is_in(tables["order_lines"].column("order_id"), order_ids)).as_py()
    assert pc.count_distinct(order_ids).as_py() == tables["orders"].num_rows
    known = pc.drop_null(tables["sessions"].column("customer_id"))
    assert pc.all(pc.is_in(known, customer_ids)).as_py()
    for name in ("chats", "reviews"):
        assert pc.all(pc.is_in(tables[name].column("customer_id"), customer_ids)).as_py()
    chat_orders = pc.drop_null(tables["chats"].column("order_id"))
    assert pc.all(pc.is_in(chat_orders, order_ids)).as_py()
    stock = product_catalogue().column("stock_code")
    assert pc.all(pc.is_in(tables["order_lines"].column("stock_code"), stock)).as_py()
    assert pc.all(pc.is_in(tables["reviews"].column("stock_code"), stock)).as_py()


def test_orders_follow_signup_and_the_period() -> None:
    tables = dataset().tables
    orders = tables["orders"].to_pylist()
    signup = {r["customer_id"]: r["signup_date"] for r in tables["customers"].to_pylist()}
    for order in orders:
        assert order["order_time"].date() >= signup[order["customer_id"]]
        assert "2010-12-01" <= order["order_time"].date().isoformat() <= "2011-09-30"
    times = [o["order_time"] for o in orders]
    assert times == sorted(times)  # order ids rise with time


def test_reviews_are_by_buyers_of_the_item_after_buying() -> None:
    tables = dataset().tables
    lines = tables["order_lines"].to_pylist()
    orders = {o["order_id"]: o for o in tables["orders"].to_pylist()}
    bought: dict[tuple[str, str], dt.datetime] = {}
    for line in lines:
        order = orders[line["order_id"]]
        key = (order["customer_id"], line["stock_code"])
        bought[key] = min(bought.get(key, order["order_time"]), order["order_time"])
    for review in tables["reviews"].to_pylist():
        key = (review["customer_id"], review["stock_code"])
        assert key in bought
        assert review["created_at"] > bought[key]
        assert 1 <= review["rating"] <= 5


def test_popularity_is_skewed_and_customers_rebuy() -> None:
    tables = dataset().tables
    counts = pc.value_counts(tables["order_lines"].column("stock_code")).field("counts")
    top = sorted(counts.to_pylist(), reverse=True)
    total = sum(top)
    assert sum(top[:50]) / total > 0.25  # a power-law head
    joined = tables["order_lines"].join(tables["orders"], "order_id")
    pairs = joined.group_by(["customer_id", "stock_code"]).aggregate([("order_id", "count")])
    repeats = pc.sum(pc.greater(pairs.column("order_id_count"), 1).cast(pa.int64())).as_py()
    assert repeats / pairs.num_rows > 0.05


def test_regional_taste_differs() -> None:
    data = generate_retail(3_000, seed=3, options=RetailOptions(text=False))
    joined = data.tables["order_lines"].join(data.tables["orders"], "order_id")

    def top(country: str) -> set[str]:
        part = joined.filter(pc.field("country") == country)
        counts = pc.value_counts(part.column("stock_code"))
        values, n = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
        ranked = sorted(zip(values, n, strict=True), key=lambda vc: -vc[1])
        return {v for v, _ in ranked[:20]}

    assert len(top("United Kingdom") & top("Germany")) < 20


def test_sessions_have_devices_pages_and_times() -> None:
    sessions = dataset().tables["sessions"].to_pylist()
    assert any(s["customer_id"] is None for s in sessions)
    assert any(s["customer_id"] is not None for s in sessions)
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    for s in sessions:
        assert uuid.fullmatch(s["device_id"])
        assert s["ended_at"] > s["started_at"]
        assert all(p.startswith("/") for p in s["pages"].split(" "))
        assert re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", s["ip_address"])


def test_text_can_be_skipped() -> None:
    data = generate_retail(200, seed=1, options=RetailOptions(text=False))
    assert set(data.tables) == {"customers", "orders", "order_lines", "sessions"}
    assert data.spans == ()
    assert {t.table for t in data.columns} == set(data.tables)


def test_sizes_follow_options() -> None:
    options = RetailOptions(
        orders_per_customer=1.0,
        lines_per_order=2.0,
        sessions_per_customer=0.5,
        chats_per_customer=0.05,
        reviews_per_customer=0.05,
    )
    tables = generate_retail(2_000, seed=9, options=options).tables
    assert 1_500 < tables["orders"].num_rows < 2_500
    assert 1.7 < tables["order_lines"].num_rows / tables["orders"].num_rows < 2.3
    assert tables["chats"].num_rows == 100
    assert tables["reviews"].num_rows == 100


def test_result_is_read_only() -> None:
    data = generate_retail(50, seed=0)
    with pytest.raises(TypeError):
        data.tables["customers"] = data.tables["orders"]  # type: ignore[index]


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"customers": 0, "seed": 1}, "customers=0"),
        ({"customers": -5, "seed": 1}, "customers=-5"),
        ({"customers": 2.5, "seed": 1}, "customers=2.5"),
        ({"customers": True, "seed": 1}, "customers=True"),
        ({"customers": 10, "seed": -1}, "seed=-1"),
        ({"customers": 10, "seed": "x"}, "seed='x'"),
        ({"customers": 10, "seed": 1, "options": {"text": False}}, "options="),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(match)):
        generate_retail(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"orders_per_customer": -1.0},
        {"lines_per_order": 0.5},
        {"repeat_rate": 1.5},
        {"anonymous_sessions": 1.0},
        {"sessions_per_customer": float("nan")},
        {"chats_per_customer": "many"},
        {"text": "yes"},
    ],
)
def test_bad_options(options: dict[str, object]) -> None:
    name = next(iter(options))
    with pytest.raises(ParameterError, match=name):
        RetailOptions(**options)  # type: ignore[arg-type]


def test_catalogue_without_merchandise_is_refused() -> None:
    postage_only = product_catalogue().filter(pc.field("stock_code") == "POST")
    with pytest.raises(ParameterError, match="catalogue"):
        generate_retail(10, seed=1, catalogue=postage_only)


def test_catalogue_missing_columns_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="unit_price"):
        generate_retail(10, seed=1, catalogue=product_catalogue().drop_columns(["unit_price"]))


def test_span_and_column_truth_validate() -> None:
    with pytest.raises(ParameterError):
        SpanTruth("chats", "text", 0, 5, 5, Kind.EMAIL)
    with pytest.raises(ParameterError):
        ColumnTruth("t", "c", "direct_identifier", Kind.EMAIL)  # type: ignore[arg-type]
