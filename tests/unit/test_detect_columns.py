"""Column classification: names and values, strings and typed columns, reports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from faker import Faker

from shopveil._core import ColumnClass, Kind
from shopveil.data._io import TableSource, open_source, write_table
from shopveil.detect import ColumnFinding, ScanReport, scan_source, scan_table
from shopveil.detect._values import profile_values
from shopveil.errors import ParameterError, SchemaError

DATA = Path(__file__).resolve().parents[1] / "data"
D, Q, S, O = (  # noqa: E741 - the four classes, short for the tables below
    ColumnClass.DIRECT_IDENTIFIER,
    ColumnClass.QUASI_IDENTIFIER,
    ColumnClass.SENSITIVE,
    ColumnClass.OTHER,
)
N = 300


def _faker(seed: int) -> Faker:
    fake = Faker(["en_GB", "en_US", "de_DE", "fr_FR", "es_ES"])
    fake.seed_instance(seed)
    return fake


@pytest.fixture(scope="module")
def people() -> pa.Table:
    """A customer table as a CSV export gives it: every column a string."""
    fake = _faker(7)
    rows: dict[str, list[str | None]] = {name: [] for name in _PEOPLE_TRUTH}
    for i in range(N):
        birth = fake.date_of_birth(minimum_age=18, maximum_age=90)
        rows["CustomerID"].append(f"{10000 + i}.0" if i % 7 else None)
        rows["full_name"].append(fake.name())
        rows["Email"].append(fake.email())
        rows["phone_number"].append(fake.phone_number())
        rows["street_address"].append(fake.street_address())
        rows["postcode"].append(fake.postcode())
        rows["city"].append(fake.city())
        rows["country"].append(fake.country())
        rows["date_of_birth"].append(birth.isoformat())
        rows["gender"].append(fake.random_element(["F", "M", "X"]))
        rows["loyalty_id"].append(f"LY-{fake.random_number(digits=8, fix_len=True)}")
        rows["card_number"].append(fake.credit_card_number())
        rows["iban"].append(fake.iban())
        rows["ip_address"].append(fake.ipv4_public() if i % 3 else fake.ipv6())
        rows["device_id"].append(fake.uuid4())
        rows["signup_date"].append(fake.date_time_between("-5y").isoformat(sep=" "))
        rows["order_no"].append(str(500000 + i * 3))
        rows["stock_code"].append(fake.bothify("#####?").upper())
        rows["description"].append(" ".join(fake.words(4)).upper())
        rows["quantity"].append(str(fake.random_int(1, 48)))
        rows["unit_price"].append(f"{fake.random_int(10, 9999) / 100:.2f}")
        rows["message"].append(_chat(fake, i))
        rows["opted_out"].append(fake.random_element(["true", "false"]))
    return pa.table({name: pa.array(values, pa.string()) for name, values in rows.items()})


def _chat(fake: Faker, i: int) -> str:
    templates = [
        f"Hi, my order hasn't arrived. Please email me at {fake.email()} thanks",
        f"Call me on {fake.phone_number()} about the refund, I'm {fake.first_name()}",
        f"This is {fake.name()}, my card {fake.credit_card_number()} was charged twice",
        "Where is my parcel? It has been two weeks now and nobody answers.",
    ]
    return templates[i % len(templates)]


_PEOPLE_TRUTH: dict[str, tuple[ColumnClass, Kind]] = {
    "CustomerID": (D, Kind.CUSTOMER_ID),
    "full_name": (D, Kind.PERSON_NAME),
    "Email": (D, Kind.EMAIL),
    "phone_number": (D, Kind.PHONE),
    "street_address": (D, Kind.STREET_ADDRESS),
    "postcode": (Q, Kind.POSTCODE),
    "city": (Q, Kind.CITY),
    "country": (Q, Kind.COUNTRY),
    "date_of_birth": (Q, Kind.BIRTH_DATE),
    "gender": (Q, Kind.GENDER),
    "loyalty_id": (D, Kind.LOYALTY_ID),
    "card_number": (D, Kind.CARD_NUMBER),
    "iban": (D, Kind.IBAN),
    "ip_address": (D, Kind.IP_ADDRESS),
    "device_id": (D, Kind.DEVICE_ID),
    "signup_date": (Q, Kind.EVENT_TIME),
    "order_no": (O, Kind.RECORD_ID),
    "stock_code": (O, Kind.PRODUCT),
    "description": (O, Kind.PRODUCT),
    "quantity": (O, Kind.AMOUNT),
    "unit_price": (O, Kind.AMOUNT),
    "message": (S, Kind.FREE_TEXT),
    "opted_out": (O, Kind.UNKNOWN),
}


@pytest.fixture(scope="module")
def people_report(people: pa.Table) -> ScanReport:
    return scan_table(people, name="people")


@pytest.mark.parametrize("column", list(_PEOPLE_TRUTH))
def test_string_columns_by_name_and_values(people_report: ScanReport, column: str) -> None:
    found = people_report.finding(column)
    assert (found.column_class, found.kind) == _PEOPLE_TRUTH[column], found.evidence
    assert 0.0 <= found.confidence <= 1.0
    assert found.evidence


# Values alone, under names that say nothing.
_VALUE_ONLY: dict[str, tuple[ColumnClass, Kind]] = {
    "Email": (D, Kind.EMAIL),
    "card_number": (D, Kind.CARD_NUMBER),
    "iban": (D, Kind.IBAN),
    "ip_address": (D, Kind.IP_ADDRESS),
    "phone_number": (D, Kind.PHONE),
    "full_name": (D, Kind.PERSON_NAME),
    "street_address": (D, Kind.STREET_ADDRESS),
    "country": (Q, Kind.COUNTRY),
    "gender": (Q, Kind.GENDER),
    "date_of_birth": (Q, Kind.BIRTH_DATE),
    "signup_date": (Q, Kind.EVENT_TIME),
    "message": (S, Kind.FREE_TEXT),
    # Unique multi-word text under a name that says nothing may be written by people:
    # suspect until a policy names it.
    "description": (S, Kind.UNKNOWN),
    "quantity": (O, Kind.UNKNOWN),
}


@pytest.fixture(scope="module")
def anonymous_report(people: pa.Table) -> ScanReport:
    renamed = pa.table({f"field_{i}": people.column(c) for i, c in enumerate(_VALUE_ONLY)})
    return scan_table(renamed)


@pytest.mark.parametrize("column", list(_VALUE_ONLY))
def test_values_alone_identify_the_kind(anonymous_report: ScanReport, column: str) -> None:
    found = anonymous_report.finding(f"field_{list(_VALUE_ONLY).index(column)}")
    assert (found.column_class, found.kind) == _VALUE_ONLY[column], found.evidence


def test_typed_columns() -> None:
    fake = _faker(11)
    n = 200
    table = pa.table(
        {
            "customer_id": pa.array(range(n), pa.int64()),
            "birth_date": pa.array(
                [fake.date_of_birth(minimum_age=18, maximum_age=85) for _ in range(n)], pa.date32()
            ),
            "dob_guess": pa.array(
                [dt.date(1940, 1, 1) + dt.timedelta(days=181 * i) for i in range(n)], pa.date32()
            ),
            "order_time": pa.array(
                [dt.datetime(2011, 1, 1, 9) + dt.timedelta(minutes=37 * i) for i in range(n)],
                pa.timestamp("us"),
            ),
            "age": pa.array([18 + i % 70 for i in range(n)], pa.int16()),
            "quantity": pa.array([1 + i % 12 for i in range(n)], pa.int64()),
            "unit_price": pa.array([0.5 + i for i in range(n)], pa.float64()),
            "email_opt_in": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
            "card": pa.array([4111111111111111] * n, pa.int64()),
        }
    )
    report = scan_table(table, name="typed")
    got = {f.column: (f.column_class, f.kind) for f in report.columns}
    assert got == {
        "customer_id": (D, Kind.CUSTOMER_ID),
        "birth_date": (Q, Kind.BIRTH_DATE),
        "dob_guess": (Q, Kind.BIRTH_DATE),  # "dob" in the name
        "order_time": (Q, Kind.EVENT_TIME),
        "age": (Q, Kind.AGE),
        "quantity": (O, Kind.AMOUNT),
        "unit_price": (O, Kind.AMOUNT),
        "email_opt_in": (O, Kind.UNKNOWN),  # a flag, not an email
        "card": (D, Kind.CARD_NUMBER),
    }


def test_birth_dates_by_value_range() -> None:
    wide = pa.array([dt.date(1940, 1, 1) + dt.timedelta(days=301 * i) for i in range(100)])
    narrow = pa.array([dt.date(2011, 1, 1) + dt.timedelta(days=3 * i) for i in range(100)])
    report = scan_table(pa.table({"d1": wide, "d2": narrow}))
    assert report.finding("d1").kind is Kind.BIRTH_DATE
    assert report.finding("d2").kind is Kind.EVENT_TIME


def test_email_name_with_no_emails_is_not_an_email() -> None:
    table = pa.table({"email": pa.array(["yes", "no"] * 50)})
    assert scan_table(table).finding("email").kind is not Kind.EMAIL


def test_evidence_never_quotes_values(people: pa.Table, people_report: ScanReport) -> None:
    dumped = json.dumps(people_report.to_dict())
    for column in people.column_names:
        for value in people.column(column).to_pylist()[:50]:
            if value and len(value) >= 4 and not value.replace(".", "").isdigit():
                assert value not in dumped, column


def test_report_api(people: pa.Table) -> None:
    report = scan_table(people, name="people", sample_rows=50)
    assert report.table == "people"
    assert report.rows_scanned == 50
    assert [f.column for f in report.columns] == people.column_names
    assert all(f.is_personal for f in report.personal())
    loaded = json.loads(json.dumps(report.to_dict()))
    assert loaded["columns"][0]["column"] == "CustomerID"
    assert loaded["columns"][0]["column_class"] == "direct_identifier"
    with pytest.raises(SchemaError, match="no column 'nope'"):
        report.finding("nope")


@pytest.mark.parametrize("sample_rows", [0, -1, 1.5, True])
def test_sample_rows_must_be_positive(sample_rows: object) -> None:
    with pytest.raises(ParameterError, match="sample_rows"):
        scan_table(pa.table({"a": [1]}), sample_rows=sample_rows)  # type: ignore[arg-type]


def test_finding_validates_confidence() -> None:
    with pytest.raises(ParameterError, match="confidence"):
        ColumnFinding("a", O, Kind.UNKNOWN, 1.5)


def test_empty_and_null_columns() -> None:
    table = pa.table(
        {"x": pa.array([None, None], pa.string()), "y": pa.array([None, None], pa.int64())}
    )
    report = scan_table(table)
    assert all(f.column_class is O for f in report.columns)
    assert scan_table(table.slice(0, 0)).rows_scanned == 0


def test_online_retail_slice() -> None:
    """Real layout, every column read as text (slice of UCI Online Retail, see README)."""
    report = scan_source(open_source(DATA / "online_retail_detect.csv"))
    got = {f.column: f.column_class for f in report.columns}
    assert got == {
        "InvoiceNo": O,
        "StockCode": O,
        "Description": O,
        "Quantity": O,
        "InvoiceDate": Q,
        "UnitPrice": O,
        "CustomerID": D,
        "Country": Q,
    }
    assert report.finding("CustomerID").kind is Kind.CUSTOMER_ID
    assert report.finding("Country").kind is Kind.COUNTRY
    assert report.finding("InvoiceDate").kind is Kind.EVENT_TIME
    assert report.table == "online_retail_detect.csv"
    assert report.rows_scanned == 300


@dataclass(frozen=True)
class _CountingSource(TableSource):
    pulled: list[int] = field(default_factory=list)

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        for batch in super().batches(batch_size=100):
            self.pulled.append(batch.num_rows)
            yield batch


def test_scan_source_reads_only_the_batches_it_needs(tmp_path: Path, people: pa.Table) -> None:
    path = tmp_path / "people.parquet"
    write_table(people, path)
    opened = open_source(path)
    source = _CountingSource(opened.path, opened.schema, opened.total_bytes, opened.num_rows)
    report = scan_source(source, sample_rows=150, name="p")
    assert report.rows_scanned == 150
    assert source.pulled == [100, 100]  # the third batch was never read
    assert isinstance(report, ScanReport)


def test_title_case_product_names_are_not_personal() -> None:
    """Product titles are capitalized word runs that start with first names ("Rose",
    "Daisy", "Amber"); they must not make a catalogue look like free text about people."""
    titles = [
        "Airline Bag Vintage Jet Set Brown",
        "12 Ivory Rose Peg Place Settings",
        "Amber Chunky Bead Bracelet W Strap",
        "Bathroom Set Love Heart Design",
        "Beaded Crystal Heart Blue On Stick",
        "White Hanging Heart T-Light Holder",
    ]
    table = pa.table({"description": titles * 50, "title": titles * 50})
    report = scan_table(table)
    assert [f.column_class for f in report.columns] == [O, O]


def test_value_shares_count_rows_not_distinct_values() -> None:
    # The checks run once per distinct value; each share still counts the rows.
    emails = ["ana@example.com"] * 7 + ["bo@example.org"] * 2
    others = ["London"] * 20 + ["  "] * 4 + [None] * 3 + ["07700 900123", "Lisbon"]
    values = pa.array(emails + others)
    profile = profile_values(values)
    rows = [v.strip() for v in emails + others if v is not None and v.strip()]
    assert profile.count == len(rows) == 31
    assert profile.get("email") == 9 / 31
    assert profile.get("phone") == 1 / 31
    assert profile.distinct == len({v.lower() for v in rows})
    assert profile.mean_length == sum(len(v) for v in rows) / 31
    assert profile.mean_words == sum(len(v.split()) for v in rows) / 31
