"""Orders and order lines: real products, Zipf-like popularity, repeat buying, regional taste."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.data._generator._ids import customer_ids
from shopveil.data._generator._people import PERIOD_END, Customers
from shopveil.data._generator._places import COUNTRIES
from shopveil.data._generator._vec import concat, pick, uniform_times
from shopveil.errors import SchemaError

__all__ = ["ORDER_LINE_SCHEMA", "ORDER_SCHEMA", "Orders", "Products", "make_orders", "products"]

PERIOD_START = np.datetime64("2010-12-01", "D")
# Online Retail's trading hours: orders from 7:00 to 20:00, busiest around noon.
SHOP_HOURS = np.array([0] * 7 + [1, 4, 8, 10, 12, 14, 13, 10, 8, 5, 3, 2, 1] + [0] * 4, float)
_CATALOGUE_COLUMNS = ("stock_code", "description", "unit_price", "purchase_count")
_NON_MERCHANDISE = ("C2", "POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS")

ORDER_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("order_time", pa.timestamp("us")),
        ("country", pa.string()),
    ]
)
ORDER_LINE_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("stock_code", pa.string()),
        ("description", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Products:
    """The merchandise of the catalogue, most popular first, with Zipf weights."""

    stock_code: pa.Array
    description: pa.Array
    unit_price: pa.Array
    weights: np.ndarray


@dataclass(frozen=True)
class Orders:
    """Orders and lines, plus what chats and reviews draw on."""

    orders: pa.Table
    lines: pa.Table
    customer: np.ndarray  # per order (table order): index of its customer
    time: np.ndarray  # per order (table order): datetime64[s]
    first_order: np.ndarray  # per customer: row of their first order in customer-major order
    count: np.ndarray  # per customer: number of orders
    by_customer: np.ndarray  # customer-major order position -> table row
    line_order: np.ndarray  # per line (table order): its order's table row
    line_product: np.ndarray  # per line (table order): index into Products


def products(catalogue: pa.Table, zipf_exponent: float) -> Products:
    """Merchandise from ``catalogue`` (postage, fees and vouchers dropped), ranked by sales."""
    missing = [c for c in _CATALOGUE_COLUMNS if c not in catalogue.column_names]
    if missing:
        raise SchemaError(
            f"catalogue lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(_CATALOGUE_COLUMNS)} (see shopveil.data.product_catalogue())"
        )
    code = catalogue.column("stock_code")
    keep = pc.and_(
        pc.and_(
            pc.match_substring_regex(code, r"\d"),
            pc.invert(pc.is_in(code, pa.array(_NON_MERCHANDISE))),
        ),
        pc.and_(
            pc.invert(pc.starts_with(code, "gift_")),
            pc.greater(pc.utf8_length(catalogue.column("description")), 0),
        ),
    )
    kept = catalogue.filter(keep)
    kept = kept.take(
        pc.sort_indices(kept, [("purchase_count", "descending"), ("stock_code", "ascending")])
    )
    rank = np.arange(1, kept.num_rows + 1, dtype=np.float64)
    weights = rank**-zipf_exponent
    return Products(
        stock_code=kept.column("stock_code").combine_chunks(),
        description=kept.column("description").combine_chunks(),
        unit_price=kept.column("unit_price").combine_chunks(),
        weights=weights / weights.sum(),
    )


def make_orders(
    rng: np.random.Generator,
    customers: Customers,
    goods: Products,
    *,
    orders_per_customer: float,
    lines_per_order: float,
    repeat_rate: float,
) -> Orders:
    """Orders in time order (``order_id`` rising with time) and their lines."""
    n = customers.table.num_rows
    # Negative binomial: many one-off buyers and a long tail of loyal ones.
    shape = 1.2
    count = rng.negative_binomial(shape, shape / (shape + orders_per_customer), n)
    owner = np.repeat(np.arange(n), count)
    first_order = np.concatenate([[0], np.cumsum(count)[:-1]])
    start = np.maximum(customers.signup[owner], PERIOD_START)
    time = uniform_times(rng, start, np.full(len(owner), PERIOD_END), SHOP_HOURS)
    # Customer-major, time-sorted: a customer's earlier orders come first. ``owner`` is
    # already sorted, so one integer sort of (owner, seconds) keys orders each customer.
    seconds = (time - PERIOD_START.astype("datetime64[s]")).astype(np.int64)
    key = np.sort((owner.astype(np.int64) << 26) | seconds)
    time = PERIOD_START.astype("datetime64[s]") + (key & ((1 << 26) - 1)).astype("timedelta64[s]")
    n_orders = len(owner)

    size = 1 + rng.poisson(max(lines_per_order - 1.0, 0.0), n_orders)
    line_of = np.repeat(np.arange(n_orders), size)
    product = _choose_products(rng, goods, customers.country[owner[line_of]])
    product = _repeat_purchases(rng, product, line_of, size, owner, count, repeat_rate)

    by_time = np.argsort(time)  # table row -> customer-major position
    rank = np.empty(n_orders, dtype=np.int64)
    rank[by_time] = np.arange(n_orders)
    order_id = concat(
        ["SV", pc.cast(pa.array(np.arange(10_000_001, 10_000_001 + n_orders)), pa.string())],
        n_orders,
    )
    # Lines in table order: each order's block of lines, orders in time order (no sort).
    block_size = size[by_time]
    block_start = (np.cumsum(size) - size)[by_time]
    out_start = np.cumsum(block_size) - block_size
    line_rows = np.repeat(block_start - out_start, block_size) + np.arange(int(size.sum()))
    line_order = np.repeat(np.arange(n_orders), block_size)
    line_product = product[line_rows]
    countries = pa.array([c.name for c in COUNTRIES])
    orders = pa.Table.from_arrays(
        [
            order_id,
            customer_ids(owner[by_time]),
            pa.array(time[by_time].astype("datetime64[us]")),
            pick(countries, customers.country[owner[by_time]]),
        ],
        schema=ORDER_SCHEMA,
    )
    lines = pa.Table.from_arrays(
        [
            pick(order_id, line_order),
            pick(goods.stock_code, line_product),
            pick(goods.description, line_product),
            pa.array(_quantities(rng, len(line_rows))),
            pick(goods.unit_price, line_product),
        ],
        schema=ORDER_LINE_SCHEMA,
    )
    return Orders(
        orders=orders,
        lines=lines,
        customer=owner[by_time],
        time=time[by_time],
        first_order=first_order,
        count=count,
        by_customer=rank,
        line_order=line_order,
        line_product=line_product,
    )


def country_tastes(rng: np.random.Generator, goods: Products) -> np.ndarray:
    """Per country, the catalogue's popularity tilted by a lasting local taste."""
    tilt = rng.lognormal(0.0, 0.8, size=(len(COUNTRIES), len(goods.weights)))
    tilt[0] = 1.0  # the home market defines the base popularity
    tastes = goods.weights * tilt
    return tastes / tastes.sum(axis=1, keepdims=True)


def _choose_products(rng: np.random.Generator, goods: Products, country: np.ndarray) -> np.ndarray:
    tastes = country_tastes(np.random.Generator(np.random.PCG64(rng.integers(2**63))), goods)
    n_goods = tastes.shape[1]
    # One search for all countries: country c's CDF is shifted to [c, c + 1].
    cdf = np.cumsum(tastes, axis=1)
    cdf[:, -1] = 1.0
    shifted = (cdf + np.arange(len(tastes))[:, None]).ravel()
    at = np.searchsorted(shifted, country + rng.random(len(country)), side="right")
    return (at - country * n_goods).clip(0, n_goods - 1)


def _repeat_purchases(
    rng: np.random.Generator,
    product: np.ndarray,
    line_of: np.ndarray,
    size: np.ndarray,
    owner: np.ndarray,
    count: np.ndarray,
    repeat_rate: float,
) -> np.ndarray:
    """With chance ``repeat_rate`` a line re-buys an item from the customer's earlier orders."""
    order_start = np.concatenate([[0], np.cumsum(size)[:-1]])  # first line of each order
    lines_per_customer = np.bincount(owner, weights=size, minlength=len(count)).astype(np.int64)
    customer_start = np.concatenate([[0], np.cumsum(lines_per_customer)[:-1]])
    first = customer_start[owner[line_of]]
    before = order_start[line_of]  # earlier orders' lines are [first, before)
    eligible = (before > first) & (rng.random(len(line_of)) < repeat_rate)
    pointer = np.arange(len(line_of))
    earlier = first + (rng.random(len(line_of)) * (before - first)).astype(np.int64)
    pointer[eligible] = earlier[eligible]
    # A re-bought line may itself be a re-buy: follow pointers until they settle.
    while True:
        following = pointer[pointer]
        if np.array_equal(following, pointer):
            return product[pointer]
        pointer = following


def _quantities(rng: np.random.Generator, n: int) -> np.ndarray:
    quantity = rng.geometric(0.55, n).astype(np.int64)
    bulk = np.flatnonzero(rng.random(n) < 0.06)
    quantity[bulk] = np.array([6, 12, 24])[rng.integers(0, 3, len(bulk))]
    return quantity
