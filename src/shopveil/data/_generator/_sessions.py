"""Clickstream sessions: who (or which anonymous device) browsed which pages, when."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.data._generator._ids import (
    customer_ids,
    device_bytes,
    format_ips,
    format_uuids,
    ip_octets,
)
from shopveil.data._generator._orders import PERIOD_START, Products
from shopveil.data._generator._people import PERIOD_END, Customers
from shopveil.data._generator._vec import concat, pick, uniform_times, weighted_choice

__all__ = ["SESSION_SCHEMA", "make_sessions"]

SESSION_SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("customer_id", pa.string()),
        ("device_id", pa.string()),
        ("ip_address", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("ended_at", pa.timestamp("us")),
        ("pages", pa.string()),
    ]
)
# Browsing peaks in the evening, unlike ordering, which follows office hours.
_BROWSING_HOURS = np.array(
    [1, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4, 4, 5, 5, 4, 4, 4, 5, 6, 8, 9, 8, 5, 2], float
)
_FIXED_PAGES = (
    "/", "/basket", "/checkout", "/checkout/confirmation", "/account", "/account/orders",
    "/help", "/contact", "/wishlist",
)  # fmt: skip
_CATEGORIES = (
    "christmas", "kitchen", "home-decor", "lighting", "bags", "party", "stationery",
    "garden", "toys", "gifts", "vintage", "candles",
)  # fmt: skip
_SEARCH_WORDS = (
    "heart", "lantern", "cake", "bag", "mug", "bunting", "candle", "clock", "vintage",
    "christmas", "tea", "doormat", "cushion", "frame", "garland", "retrospot", "jam",
    "lunch+box", "paper+chain", "hot+water+bottle",
)  # fmt: skip
_PRODUCT_PAGES = 1000
# Page kinds: fixed, category, search, product. Landing pages and later pages differ.
_LANDING = np.array([0.4, 0.1, 0.2, 0.3])
_BROWSING = np.array([0.2, 0.15, 0.1, 0.55])


def make_sessions(
    rng: np.random.Generator,
    customers: Customers,
    goods: Products,
    *,
    sessions_per_customer: float,
    anonymous_share: float,
) -> pa.Table:
    """Sessions in start-time order; anonymous visitors have a null ``customer_id``."""
    n = customers.table.num_rows
    known_count = rng.poisson(sessions_per_customer, n)
    owner = np.repeat(np.arange(n), known_count)
    n_known = len(owner)
    n_anon = round(n_known * anonymous_share / (1.0 - anonymous_share)) if n_known else 0
    total = n_known + n_anon
    low = np.concatenate(
        [np.maximum(customers.signup[owner], PERIOD_START), np.full(n_anon, PERIOD_START)]
    )
    start = uniform_times(rng, low, np.full(total, PERIOD_END), _BROWSING_HOURS)
    # Sort the numbers first and build the strings in table order: no string shuffling.
    order = np.argsort(start, kind="stable")
    start = start[order]
    owner = np.concatenate([owner, np.full(n_anon, -1)])[order]
    known = owner >= 0

    # Each customer browses from a main and a second device, and from home most of the time;
    # anonymous visitors bring a device and an address of their own.
    second = (rng.random(total) < 0.25).astype(np.int64)
    # Gather fixed-width bytes and format afterwards: gathering strings is far slower.
    device_pool = np.concatenate([device_bytes(rng, 2 * n), device_bytes(rng, n_anon)])
    device = format_uuids(device_pool[np.where(known, 2 * owner + second, 2 * n + _rank(~known))])
    at_home = known & (rng.random(total) < 0.6)
    ip_pool = np.concatenate([customers.ip, ip_octets(rng, int((~at_home).sum()))])
    ip = format_ips(ip_pool[np.where(at_home, owner, n + _rank(~at_home))])
    customer = customer_ids(np.where(known, owner, 0), known)

    n_pages = np.minimum(rng.geometric(0.3, total), 40)
    dwell = rng.lognormal(np.log(40.0), 0.8, int(n_pages.sum())).astype(np.int64) + 2
    offsets = np.concatenate([[0], np.cumsum(n_pages)])
    duration = np.add.reduceat(dwell, offsets[:-1]) if total else np.zeros(0, np.int64)
    end = start + duration.astype("timedelta64[s]")
    session_id = concat(
        ["S", pc.cast(pa.array(np.arange(100_000_001, 100_000_001 + total)), pa.string())], total
    )
    return pa.Table.from_arrays(
        [
            session_id,
            customer,
            device,
            ip,
            pa.array(start.astype("datetime64[us]")),
            pa.array(end.astype("datetime64[us]")),
            _pages(rng, goods, offsets),
        ],
        schema=SESSION_SCHEMA,
    )


def _rank(mask: np.ndarray) -> np.ndarray:
    """Where ``mask`` is set, the running count of set entries before it (0, 1, 2, ...)."""
    return np.cumsum(mask) - 1


def _pages(rng: np.random.Generator, goods: Products, offsets: np.ndarray) -> pa.Array:
    """Space-separated page paths, one string per session."""
    n_top = min(_PRODUCT_PAGES, len(goods.weights))
    vocabulary = pa.concat_arrays(
        [
            pa.array(_FIXED_PAGES),
            pa.array([f"/category/{c}" for c in _CATEGORIES]),
            pa.array([f"/search?q={w}" for w in _SEARCH_WORDS]),
            pc.binary_join_element_wise("/product/", goods.stock_code.slice(0, n_top), ""),
        ]
    )
    sizes = np.array([len(_FIXED_PAGES), len(_CATEGORIES), len(_SEARCH_WORDS), n_top])
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = int(offsets[-1])
    landing = np.zeros(total, dtype=bool)
    landing[offsets[:-1]] = True
    kind = np.where(
        landing,
        weighted_choice(rng, _LANDING, total),
        weighted_choice(rng, _BROWSING, total),
    )
    within = (rng.random(total) * sizes[kind]).astype(np.int64)
    product_weights = goods.weights[:n_top]
    is_product = kind == 3
    within[is_product] = weighted_choice(rng, product_weights, int(is_product.sum()))
    paths = pick(vocabulary, base[kind] + within)
    lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), paths)
    return pc.binary_join(lists, " ")
