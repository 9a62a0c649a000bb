"""Support chats and product reviews: free text with personal data at known offsets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core import Kind
from shopveil.data._generator._orders import PERIOD_START, SHOP_HOURS, Orders, Products
from shopveil.data._generator._people import PERIOD_END, Customers, name_pool
from shopveil.data._generator._templates import (
    CHATS_ABOUT_ORDER,
    CHATS_GENERAL,
    PII_SLOTS,
    REVIEWS_NEGATIVE,
    REVIEWS_POSITIVE,
)
from shopveil.data._generator._vec import concat, pick, uniform_times, weighted_choice

__all__ = ["CHAT_SCHEMA", "REVIEW_SCHEMA", "Filled", "fill_templates", "make_chats", "make_reviews"]

CHAT_SCHEMA = pa.schema(
    [
        ("chat_id", pa.string()),
        ("customer_id", pa.string()),
        ("order_id", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("text", pa.string()),
    ]
)
REVIEW_SCHEMA = pa.schema(
    [
        ("review_id", pa.string()),
        ("customer_id", pa.string()),
        ("stock_code", pa.string()),
        ("rating", pa.int8()),
        ("created_at", pa.timestamp("us")),
        ("text", pa.string()),
    ]
)
_KINDS = tuple(dict.fromkeys(PII_SLOTS.values()))
_LAST_MOMENT = PERIOD_END.astype("datetime64[s]") + np.timedelta64(86_399, "s")
_RATING_WEIGHTS = np.array([0.06, 0.05, 0.09, 0.25, 0.55])
# Most reviews name nobody; a template with personal slots is a quarter as likely.
_PII_TEMPLATE_WEIGHT = 0.25


@dataclass(frozen=True)
class Filled:
    """Filled-in texts and where their personal data sits (one entry per span)."""

    text: pa.Array
    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: tuple[Kind, ...]


def fill_templates(
    templates: Sequence[str], choice: np.ndarray, slots: Mapping[str, pa.Array]
) -> Filled:
    """Row ``i`` gets ``templates[choice[i]]`` with its slots filled from ``slots[...][i]``.

    Offsets are code points, computed from the lengths of literals and slot values, so
    ``text[start:end]`` is exactly the embedded value.
    """
    n = len(choice)
    order = np.argsort(choice, kind="stable")
    bounds = np.searchsorted(choice[order], np.arange(len(templates) + 1))
    texts: list[pa.Array] = []
    placed: list[np.ndarray] = []
    rows_out: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    for t, template in enumerate(templates):
        rows = order[bounds[t] : bounds[t + 1]]
        if len(rows) == 0:
            continue
        index = pa.array(rows)
        position = np.zeros(len(rows), dtype=np.int64)
        parts: list[pa.Array | str] = []
        for literal, slot in _segments(template):
            if literal:
                parts.append(literal)
                position += len(literal)
            if slot:
                values = slots[slot].take(index)
                length = pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
                if slot in PII_SLOTS:
                    rows_out.append(rows)
                    starts.append(position.copy())
                    ends.append(position + length)
                    kinds.append(np.full(len(rows), _KINDS.index(PII_SLOTS[slot])))
                parts.append(values)
                position += length
        texts.append(concat(parts, len(rows)))
        placed.append(rows)
    inverse = np.argsort(np.concatenate(placed), kind="stable") if n else np.zeros(0, np.int64)
    text = pa.concat_arrays(texts).take(pa.array(inverse)) if n else pa.array([], pa.string())
    empty = np.zeros(0, np.int64)
    row = np.concatenate(rows_out) if rows_out else empty
    start = np.concatenate(starts) if starts else empty
    end = np.concatenate(ends) if ends else empty
    kind = np.concatenate(kinds) if kinds else empty
    by_place = np.lexsort((start, row))
    return Filled(
        text=text,
        row=row[by_place],
        start=start[by_place],
        end=end[by_place],
        kind=tuple(_KINDS[k] for k in kind[by_place]),
    )


def make_chats(
    rng: np.random.Generator,
    customers: Customers,
    orders: Orders,
    goods: Products,
    n_chats: int,
) -> tuple[pa.Table, Filled]:
    """Support chats in time order; four in five of a buyer's chats are about an order."""
    count = orders.count
    n_orders = orders.orders.num_rows
    who = weighted_choice(rng, 1.0 + count, n_chats)
    about_order = (count[who] > 0) & (rng.random(n_chats) < 0.8)
    position = orders.first_order[who] + (rng.random(n_chats) * count[who]).astype(np.int64)
    order_row = np.zeros(n_chats, dtype=np.int64)
    if n_orders:
        order_row = orders.by_customer[np.where(about_order, position, 0)]
    when = uniform_times(
        rng,
        np.maximum(customers.signup[who], PERIOD_START),
        np.full(n_chats, PERIOD_END),
        SHOP_HOURS,
    )
    if n_orders:
        delay = rng.integers(1800, 10 * 86_400, n_chats).astype("timedelta64[s]")
        after_order = np.minimum(orders.time[order_row] + delay, _LAST_MOMENT)
        when = np.where(about_order, after_order, when)
    # Sort first, so that span rows are rows of the finished table.
    by_time = np.argsort(when, kind="stable")
    who, about_order, order_row, when = (
        who[by_time],
        about_order[by_time],
        order_row[by_time],
        when[by_time],
    )
    order_id = pa.nulls(n_chats, pa.string())
    if n_orders:
        order_id = pc.if_else(
            pa.array(about_order),
            pick(orders.orders.column("order_id").combine_chunks(), order_row),
            order_id,
        )
    choice = np.where(
        about_order,
        rng.integers(0, len(CHATS_ABOUT_ORDER), n_chats),
        len(CHATS_ABOUT_ORDER) + rng.integers(0, len(CHATS_GENERAL), n_chats),
    )
    slots = _person_slots(rng, customers, who)
    slots["order_id"] = order_id
    slots["product"] = _product_names(goods, weighted_choice(rng, goods.weights, n_chats))
    filled = fill_templates(CHATS_ABOUT_ORDER + CHATS_GENERAL, choice, slots)
    table = pa.Table.from_arrays(
        [
            _ids("CH", n_chats),
            slots["customer_id"],
            order_id,
            pa.array(when.astype("datetime64[us]")),
            filled.text,
        ],
        schema=CHAT_SCHEMA,
    )
    return table, filled


def make_reviews(
    rng: np.random.Generator,
    customers: Customers,
    orders: Orders,
    goods: Products,
    n_reviews: int,
) -> tuple[pa.Table, Filled]:
    """Reviews of bought items, by their buyers, a few days to weeks after the order."""
    n_lines = len(orders.line_order)
    n_reviews = min(n_reviews, n_lines)
    line = (
        np.sort(rng.choice(n_lines, n_reviews, replace=False))
        if n_reviews
        else np.zeros(0, np.int64)
    )
    order_row = orders.line_order[line]
    who = orders.customer[order_row]
    delay = rng.integers(2 * 86_400, 40 * 86_400, n_reviews).astype("timedelta64[s]")
    when = np.minimum(orders.time[order_row] + delay, _LAST_MOMENT)
    by_time = np.argsort(when, kind="stable")
    line, order_row, who, when = line[by_time], order_row[by_time], who[by_time], when[by_time]
    rating = 1 + weighted_choice(rng, _RATING_WEIGHTS, n_reviews)
    positive = rating >= 4
    choice = np.where(
        positive,
        _template_choice(rng, REVIEWS_POSITIVE, n_reviews),
        len(REVIEWS_POSITIVE) + _template_choice(rng, REVIEWS_NEGATIVE, n_reviews),
    )
    product = orders.line_product[line]
    slots = _person_slots(rng, customers, who)
    slots["order_id"] = pick(orders.orders.column("order_id").combine_chunks(), order_row)
    slots["product"] = _product_names(goods, product)
    filled = fill_templates(REVIEWS_POSITIVE + REVIEWS_NEGATIVE, choice, slots)
    table = pa.Table.from_arrays(
        [
            _ids("R", n_reviews),
            slots["customer_id"],
            pick(goods.stock_code, product),
            pa.array(rating.astype(np.int8)),
            pa.array(when.astype("datetime64[us]")),
            filled.text,
        ],
        schema=REVIEW_SCHEMA,
    )
    return table, filled


def _person_slots(
    rng: np.random.Generator, customers: Customers, who: np.ndarray
) -> dict[str, pa.Array]:
    table = customers.table
    index = pa.array(who, type=pa.int64())

    def col(name: str) -> pa.Array:
        return table.column(name).combine_chunks().take(index)

    card = col("card_number")
    quads = [pc.utf8_slice_codeunits(card, i, i + 4) for i in (0, 4, 8, 12)]
    spaced = concat([quads[0], " ", quads[1], " ", quads[2], " ", quads[3]], len(who))
    english = name_pool("en_GB")
    n_english = len(english.female_weights) + len(english.male_weights)
    return {
        "customer_id": col("customer_id"),
        "name": col("name"),
        "first": customers.first_name.take(index),
        "email": col("email"),
        "phone": col("phone"),
        "street": col("street_address"),
        "city": col("city"),
        "postcode": col("postcode"),
        # People type card numbers both ways; the span is whatever they typed.
        "card": pc.if_else(pa.array(rng.random(len(who)) < 0.5, pa.bool_()), spaced, card),
        "agent": pick(english.first, rng.integers(0, n_english, len(who))),
        "friend": pick(english.first, rng.integers(0, n_english, len(who))),
    }


def _template_choice(rng: np.random.Generator, templates: Sequence[str], n: int) -> np.ndarray:
    weights = np.array(
        [_PII_TEMPLATE_WEIGHT if _has_pii(t) else 1.0 for t in templates], dtype=np.float64
    )
    return weighted_choice(rng, weights, n)


def _has_pii(template: str) -> bool:
    return any(slot in PII_SLOTS for _, slot in _segments(template))


def _product_names(goods: Products, product: np.ndarray) -> pa.Array:
    names = pc.utf8_trim_whitespace(pc.utf8_lower(goods.description))
    return pick(names, product)


def _ids(prefix: str, n: int) -> pa.Array:
    numbers = pc.cast(pa.array(np.arange(10_000_001, 10_000_001 + n)), pa.string())
    return concat([prefix, numbers], n)


def _segments(template: str) -> list[tuple[str, str]]:
    """``"a {x} b"`` → ``[("a ", "x"), (" b", "")]``."""
    out: list[tuple[str, str]] = []
    rest = template
    while rest:
        literal, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        out.append((literal, slot))
    return out
