"""``generate_retail``: a whole synthetic shop, deterministic by seed, with ground truth."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pyarrow as pa

from shopveil._core import ColumnClass, Kind
from shopveil.data._bundled import product_catalogue
from shopveil.data._generator._orders import make_orders, products
from shopveil.data._generator._people import make_customers
from shopveil.data._generator._sessions import make_sessions
from shopveil.data._generator._text import Filled, make_chats, make_reviews
from shopveil.data._truth import ColumnTruth, RetailDataset, SpanTruth
from shopveil.errors import ParameterError

__all__ = ["COLUMN_TRUTH", "RetailOptions", "generate_retail"]

_D, _Q, _S, _O = (
    ColumnClass.DIRECT_IDENTIFIER,
    ColumnClass.QUASI_IDENTIFIER,
    ColumnClass.SENSITIVE,
    ColumnClass.OTHER,
)
COLUMN_TRUTH: Mapping[str, tuple[tuple[str, ColumnClass, Kind], ...]] = MappingProxyType(
    {
        "customers": (
            ("customer_id", _D, Kind.CUSTOMER_ID),
            ("name", _D, Kind.PERSON_NAME),
            ("email", _D, Kind.EMAIL),
            ("phone", _D, Kind.PHONE),
            ("street_address", _D, Kind.STREET_ADDRESS),
            ("postcode", _Q, Kind.POSTCODE),
            ("city", _Q, Kind.CITY),
            ("country", _Q, Kind.COUNTRY),
            ("birth_date", _Q, Kind.BIRTH_DATE),
            ("gender", _Q, Kind.GENDER),
            ("loyalty_id", _D, Kind.LOYALTY_ID),
            ("card_number", _D, Kind.CARD_NUMBER),
            ("ip_address", _D, Kind.IP_ADDRESS),
            ("signup_date", _Q, Kind.EVENT_TIME),
            ("opted_out_of_sale", _O, Kind.UNKNOWN),
        ),
        "orders": (
            ("order_id", _O, Kind.RECORD_ID),
            ("customer_id", _D, Kind.CUSTOMER_ID),
            ("order_time", _Q, Kind.EVENT_TIME),
            ("country", _Q, Kind.COUNTRY),
        ),
        "order_lines": (
            ("order_id", _O, Kind.RECORD_ID),
            ("stock_code", _O, Kind.PRODUCT),
            ("description", _O, Kind.PRODUCT),
            ("quantity", _O, Kind.AMOUNT),
            ("unit_price", _O, Kind.AMOUNT),
        ),
        "sessions": (
            ("session_id", _O, Kind.RECORD_ID),
            ("customer_id", _D, Kind.CUSTOMER_ID),
            ("device_id", _D, Kind.DEVICE_ID),
            ("ip_address", _D, Kind.IP_ADDRESS),
            ("started_at", _Q, Kind.EVENT_TIME),
            ("ended_at", _Q, Kind.EVENT_TIME),
            ("pages", _O, Kind.URL),
        ),
        "chats": (
            ("chat_id", _O, Kind.RECORD_ID),
            ("customer_id", _D, Kind.CUSTOMER_ID),
            ("order_id", _O, Kind.RECORD_ID),
            ("started_at", _Q, Kind.EVENT_TIME),
            ("text", _S, Kind.FREE_TEXT),
        ),
        "reviews": (
            ("review_id", _O, Kind.RECORD_ID),
            ("customer_id", _D, Kind.CUSTOMER_ID),
            ("stock_code", _O, Kind.PRODUCT),
            ("rating", _O, Kind.AMOUNT),
            ("created_at", _Q, Kind.EVENT_TIME),
            ("text", _S, Kind.FREE_TEXT),
        ),
    }
)
"""The ground truth of every generated column: ``table → ((column, class, kind), ...)``."""

_MAX_CUSTOMERS = 50_000_000


@dataclass(frozen=True)
class RetailOptions:
    """Sizes and shape of a generated shop; every rate is a mean per customer (or order).

    Attributes
    ----------
    orders_per_customer
        Mean orders per customer (negative binomial: many one-off buyers, a loyal tail).
    lines_per_order
        Mean lines per order (at least 1).
    repeat_rate
        Chance that a line re-buys an item from the customer's earlier orders.
    popularity_exponent
        Zipf exponent of product popularity by sales rank (0 is uniform).
    sessions_per_customer
        Mean clickstream sessions per customer.
    anonymous_sessions
        Share of all sessions by visitors who are not signed in (``customer_id`` null).
    chats_per_customer, reviews_per_customer
        Mean support chats and product reviews per customer.
    text
        ``False`` skips the ``chats`` and ``reviews`` tables (and so all spans).
    """

    orders_per_customer: float = 3.0
    lines_per_order: float = 3.0
    repeat_rate: float = 0.3
    popularity_exponent: float = 0.75
    sessions_per_customer: float = 2.0
    anonymous_sessions: float = 0.25
    chats_per_customer: float = 0.1
    reviews_per_customer: float = 0.2
    text: bool = True

    def __post_init__(self) -> None:
        for name in (
            "orders_per_customer",
            "popularity_exponent",
            "sessions_per_customer",
            "chats_per_customer",
            "reviews_per_customer",
        ):
            _check_range(name, getattr(self, name), 0.0, 1_000.0)
        _check_range("lines_per_order", self.lines_per_order, 1.0, 1_000.0)
        _check_range("repeat_rate", self.repeat_rate, 0.0, 1.0)
        _check_range("anonymous_sessions", self.anonymous_sessions, 0.0, 0.99)
        if not isinstance(self.text, bool):
            raise ParameterError(f"text={self.text!r} is not a bool; pass True or False")


def generate_retail(
    customers: int,
    *,
    seed: int,
    options: RetailOptions | None = None,
    catalogue: pa.Table | None = None,
) -> RetailDataset:
    """Generate a linked synthetic retail dataset with its ground truth.

    The people are fabricated from Faker's word lists; this is test data, not a privacy
    release, so a plain seeded generator is right here. Each table draws from its own
    stream of ``seed``, so the same seed gives identical tables, and the customers do not
    change when only the sizes of the other tables do. Dates fall in 2010-12 … 2011-09,
    the period of Online Retail.

    Parameters
    ----------
    customers
        Number of customers, 1 to 50,000,000.
    seed
        Non-negative integer seed.
    options
        Sizes and shape of the linked tables; :class:`RetailOptions` defaults otherwise.
    catalogue
        Products to sell (``stock_code, description, unit_price, purchase_count``);
        :func:`~shopveil.data.product_catalogue` by default.

    Returns
    -------
    RetailDataset
        Tables ``customers, orders, order_lines, sessions, chats, reviews``, the class and
        kind of every column, and every personal-data span in the free text.
    """
    _check_customers(customers)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed={seed!r} is not a non-negative integer; pass e.g. seed=0")
    options = options if options is not None else RetailOptions()
    if not isinstance(options, RetailOptions):
        raise ParameterError(f"options={options!r} is not a RetailOptions; pass RetailOptions(...)")
    goods = products(
        catalogue if catalogue is not None else product_catalogue(), options.popularity_exponent
    )
    if len(goods.weights) == 0:
        raise ParameterError("catalogue holds no merchandise; pass a catalogue with products")
    streams = [
        np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(5)
    ]

    people = make_customers(streams[0], customers)
    orders = make_orders(
        streams[1],
        people,
        goods,
        orders_per_customer=options.orders_per_customer,
        lines_per_order=options.lines_per_order,
        repeat_rate=options.repeat_rate,
    )
    tables: dict[str, pa.Table] = {
        "customers": people.table,
        "orders": orders.orders,
        "order_lines": orders.lines,
        "sessions": make_sessions(
            streams[2],
            people,
            goods,
            sessions_per_customer=options.sessions_per_customer,
            anonymous_share=options.anonymous_sessions,
        ),
    }
    spans: list[SpanTruth] = []
    if options.text:
        n_chats = round(customers * options.chats_per_customer)
        n_reviews = round(customers * options.reviews_per_customer)
        tables["chats"], chat_text = make_chats(streams[3], people, orders, goods, n_chats)
        tables["reviews"], review_text = make_reviews(streams[4], people, orders, goods, n_reviews)
        spans += _spans("chats", chat_text)
        spans += _spans("reviews", review_text)
    truths = tuple(
        ColumnTruth(table, column, column_class, kind)
        for table in tables
        for column, column_class, kind in COLUMN_TRUTH[table]
    )
    return RetailDataset(tables=MappingProxyType(tables), columns=truths, spans=tuple(spans))


def _spans(table: str, filled: Filled) -> list[SpanTruth]:
    rows, starts, ends = filled.row.tolist(), filled.start.tolist(), filled.end.tolist()
    return [
        SpanTruth(table, "text", row, start, end, kind)
        for row, start, end, kind in zip(rows, starts, ends, filled.kind, strict=True)
    ]


def _check_customers(customers: object) -> None:
    if isinstance(customers, bool) or not isinstance(customers, int | np.integer):
        raise ParameterError(f"customers={customers!r} is not an integer; pass e.g. 1000")
    if not 1 <= customers <= _MAX_CUSTOMERS:
        raise ParameterError(f"customers={customers} is out of range; pass 1 to {_MAX_CUSTOMERS:,}")


def _check_range(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name}={value!r} is not a number; pass a value in [{low}, {high}]")
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(f"{name}={value!r} is out of range; pass a value in [{low}, {high}]")
