"""The generator's ground truth: column classes and kinds, and exact text spans."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from _generated_retail import dataset, luhn_ok
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core import ColumnClass, Kind
from shopveil.data import (
    COLUMN_TRUTH,
    ColumnTruth,
    RetailDataset,
    RetailOptions,
    SpanTruth,
    generate_retail,
)
from shopveil.data._generator._text import fill_templates
from shopveil.errors import ParameterError

# --- ground truth ------------------------------------------------------------------------


def test_every_column_has_truth_and_truth_for_works() -> None:
    data = dataset()
    for name, table in data.tables.items():
        truth = data.truth_for(name)
        assert list(truth) == table.column_names, name
        for column, t in truth.items():
            assert isinstance(t, ColumnTruth)
            assert (t.table, t.column) == (name, column)
    customers = data.truth_for("customers")
    assert customers["email"].column_class is ColumnClass.DIRECT_IDENTIFIER
    assert customers["email"].kind is Kind.EMAIL
    assert customers["postcode"].column_class is ColumnClass.QUASI_IDENTIFIER
    assert customers["opted_out_of_sale"].column_class is ColumnClass.OTHER
    for name in ("orders", "sessions", "chats", "reviews"):
        assert data.truth_for(name)["customer_id"].column_class is ColumnClass.DIRECT_IDENTIFIER
    assert data.truth_for("chats")["text"].column_class is ColumnClass.SENSITIVE
    assert data.truth_for("chats")["text"].kind is Kind.FREE_TEXT
    assert data.truth_for("order_lines")["unit_price"].kind is Kind.AMOUNT
    assert data.truth_for("orders")["order_id"].kind is Kind.RECORD_ID


def test_unknown_table_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="nope"):
        dataset().truth_for("nope")


def _check_spans(data: RetailDataset) -> None:
    customers = data.tables["customers"]
    emails = set(customers.column("email").to_pylist())
    phones = set(customers.column("phone").to_pylist())
    order_ids = set(data.tables["orders"].column("order_id").to_pylist())
    for table in ("chats", "reviews"):
        texts = data.tables[table].column("text").to_pylist()
        previous: tuple[int, int] = (-1, 0)
        for span in data.spans_for(table):
            assert isinstance(span, SpanTruth) and span.column == "text"
            text = texts[span.row]
            value = text[span.start : span.end]
            assert 0 <= span.start < span.end <= len(text)
            assert value == value.strip() and value
            # Sorted and never overlapping within a row.
            assert (span.row, span.start) >= previous
            if span.row == previous[0]:
                assert span.start >= previous[1]
            previous = (span.row, span.end)
            if span.kind is Kind.EMAIL:
                assert value in emails
            elif span.kind is Kind.PHONE:
                assert value in phones
            elif span.kind is Kind.RECORD_ID:
                assert value in order_ids
            elif span.kind is Kind.CARD_NUMBER:
                digits = value.replace(" ", "")
                assert len(digits) == 16 and luhn_ok(digits)


def test_span_truth_is_exact() -> None:
    data = dataset()
    assert len(data.spans) > 500
    kinds = {s.kind for s in data.spans}
    assert {Kind.PERSON_NAME, Kind.EMAIL, Kind.PHONE, Kind.CARD_NUMBER} <= kinds
    assert {Kind.RECORD_ID, Kind.STREET_ADDRESS, Kind.POSTCODE, Kind.CITY} <= kinds
    _check_spans(data)


# Fewer examples: each example generates a whole synthetic retail dataset.
@settings(max_examples=8)
@given(st.integers(0, 2**32))
def test_span_truth_is_exact_for_any_seed(seed: int) -> None:
    _check_spans(generate_retail(60, seed=seed))


_SLOT_TEXT = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)


@given(
    st.lists(st.tuples(_SLOT_TEXT, _SLOT_TEXT, _SLOT_TEXT), min_size=1, max_size=20),
    st.lists(st.integers(0, 2), min_size=20, max_size=20),
)
def test_fill_templates_offsets_are_code_points(
    rows: list[tuple[str, str, str]], picks: list[int]
) -> None:
    # Any Unicode (accents, emoji, CJK) in names must not shift the offsets.
    templates = ["Hi {name}, mail {email}!", "{email}", "né {product} ☃ {name}"]
    choice = np.array(picks[: len(rows)])
    slots = {
        "name": pa.array([r[0] for r in rows]),
        "email": pa.array([r[1] for r in rows]),
        "product": pa.array([r[2] for r in rows]),
    }
    filled = fill_templates(templates, choice, slots)
    texts = filled.text.to_pylist()
    expected = [
        templates[c].format(name=r[0], email=r[1], product=r[2])
        for r, c in zip(rows, choice, strict=True)
    ]
    assert texts == expected
    for row, start, end, kind in zip(
        filled.row, filled.start, filled.end, filled.kind, strict=True
    ):
        value = texts[row][start:end]
        assert value == (rows[row][1] if kind is Kind.EMAIL else rows[row][0])
    per_row = [t.count("{") for t in templates]
    assert len(filled.row) == sum(per_row[c] - (c == 2) for c in choice)


def test_pii_rates_in_text_are_realistic() -> None:
    data = dataset()
    for table, low, high in (("chats", 0.9, 1.0), ("reviews", 0.05, 0.4)):
        rows = data.tables[table].num_rows
        with_pii = len({s.row for s in data.spans_for(table)})
        assert low <= with_pii / rows <= high, table


@pytest.mark.parametrize(
    ("customers", "options"),
    [
        (1, RetailOptions()),  # a shop with one customer
        (40, RetailOptions(orders_per_customer=0.0, chats_per_customer=1.0)),  # nobody buys
        (40, RetailOptions(sessions_per_customer=0.0, anonymous_sessions=0.0)),  # no browsing
    ],
)
def test_edge_sizes_keep_the_shape(customers: int, options: RetailOptions) -> None:
    data = generate_retail(customers, seed=4, options=options)
    assert data.tables["customers"].num_rows == customers
    for name, table in data.tables.items():
        assert table.column_names == [c for c, _, _ in COLUMN_TRUTH[name]]
    _check_spans(data)
