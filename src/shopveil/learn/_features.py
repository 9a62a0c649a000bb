"""RFM-style customer features, churn labels and lifetime-value targets from transactions.

The input is a transaction table in the Online Retail layout (one row per invoice line:
``InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice, CustomerID``); other layouts
name their columns. Rows without a customer are dropped. A row is a *return* when its
invoice starts with ``"C"`` (Online Retail's cancellations) or its quantity is negative;
every other row with a positive quantity is a *purchase*.

Time windows are half-open: features use rows with ``time < as_of`` (and ``time >= since``
when given); labels and targets use ``as_of <= time < as_of + horizon``. A customer is
*active* at ``as_of`` when they made at least one purchase in the feature window; only
active customers get features, labels and targets, always in ascending id order, so the
three line up row for row.

:func:`unit_scaled` maps the features into ``[0, 1]`` with *declared* caps
(:data:`FEATURE_CAPS`), not with statistics of the data, so DP models can use it without
spending budget on normalization.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil.errors import ParameterError, SchemaError

__all__ = [
    "FEATURE_CAPS",
    "FEATURE_NAMES",
    "CustomerFeatures",
    "churn_labels",
    "clv_targets",
    "customer_features",
    "unit_scaled",
]

FEATURE_NAMES = (
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "mean_basket",
    "distinct_items",
    "purchases_30d",
    "purchases_90d",
    "return_rate",
)
"""The columns of :attr:`CustomerFeatures.values`, in order."""

FEATURE_CAPS: Mapping[str, float] = {
    "recency_days": 365.0,
    "frequency": 100.0,
    "monetary": 50_000.0,
    "tenure_days": 365.0,
    "mean_basket": 5_000.0,
    "distinct_items": 1_000.0,
    "purchases_30d": 30.0,
    "purchases_90d": 60.0,
    "return_rate": 1.0,
}
"""Public upper bounds (chosen without looking at any customer) used by :func:`unit_scaled`."""

Frame: TypeAlias = pl.DataFrame | pa.Table


@dataclass(frozen=True, eq=False)
class CustomerFeatures:
    """One row of features per active customer.

    Parameters
    ----------
    customers
        Customer ids (as strings), ascending.
    values
        ``float64`` matrix, one row per customer, one column per name.
    names
        Column names, :data:`FEATURE_NAMES` by default.
    window_start, window_end
        The feature window ``[window_start, window_end)``; ``window_start`` is the
        ``since`` given, else the earliest row used (which is data: pass ``since`` when
        the window goes into a release).
    """

    customers: tuple[str, ...]
    values: np.ndarray = field(repr=False)
    names: tuple[str, ...] = FEATURE_NAMES
    window_start: datetime | None = None
    window_end: datetime | None = None

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (len(self.customers), len(self.names)):
            raise ParameterError(
                f"values must have shape ({len(self.customers)}, {len(self.names)}), "
                f"got {values.shape}"
            )
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return len(self.customers)

    def of_customers(self, keep: np.ndarray) -> CustomerFeatures:
        """The rows of the customers where ``keep`` (one bool per customer) is True."""
        mask = np.asarray(keep, dtype=bool)
        customers = tuple(c for c, k in zip(self.customers, mask, strict=True) if k)
        return CustomerFeatures(
            customers, self.values[mask], self.names, self.window_start, self.window_end
        )

    def column(self, name: str) -> np.ndarray:
        """One feature for every customer."""
        if name not in self.names:
            raise ParameterError(f"unknown feature {name!r}; choose one of {list(self.names)}")
        return self.values[:, self.names.index(name)]


def customer_features(
    transactions: Frame,
    *,
    as_of: datetime,
    since: datetime | None = None,
    customer: str = "CustomerID",
    time: str = "InvoiceDate",
    quantity: str = "Quantity",
    price: str = "UnitPrice",
    invoice: str | None = "InvoiceNo",
    item: str | None = "StockCode",
) -> CustomerFeatures:
    """RFM features of every customer active in ``[since, as_of)``.

    Parameters
    ----------
    transactions
        Invoice lines (polars or Arrow).
    as_of
        The end of the feature window (exclusive); recency and tenure count from here.
    since
        The start of the feature window (inclusive); all earlier rows when ``None``.
    customer, time, quantity, price, invoice, item
        Column names. Without ``invoice``, one customer's lines at one timestamp form an
        invoice; without ``item``, ``distinct_items`` is 0.

    Returns
    -------
    CustomerFeatures
        :data:`FEATURE_NAMES` per customer. Recency and tenure are in days; money is
        ``quantity × price`` of purchases; ``return_rate`` is returned value over
        purchased value, at most 1.
    """
    lines = _lines(transactions, customer, time, quantity, price, invoice, item, as_of)
    window = pl.col("t") < as_of
    if since is not None:
        _check_time("since", since)
        if since >= as_of:
            raise ParameterError(f"since={since} must be before as_of={as_of}")
        window &= pl.col("t") >= since
    lines = lines.filter(window)
    bought = lines.filter(~pl.col("returned"))
    day = pl.duration(days=1)
    recent_30 = pl.col("t") >= as_of - timedelta(days=30)
    recent_90 = pl.col("t") >= as_of - timedelta(days=90)
    per_customer = (
        bought.group_by("c")
        .agg(
            recency_days=(pl.lit(as_of) - pl.col("t").max()) / day,
            frequency=pl.col("i").n_unique(),
            monetary=pl.col("value").sum(),
            tenure_days=(pl.lit(as_of) - pl.col("t").min()) / day,
            distinct_items=pl.col("s").drop_nulls().n_unique(),
            purchases_30d=pl.col("i").filter(recent_30).n_unique(),
            purchases_90d=pl.col("i").filter(recent_90).n_unique(),
        )
        .with_columns(mean_basket=pl.col("monetary") / pl.col("frequency"))
    )
    returned = (
        lines.filter(pl.col("returned"))
        .group_by("c")
        .agg(returned_value=pl.col("value").abs().sum())
    )
    table = (
        per_customer.join(returned, on="c", how="left")
        .with_columns(
            return_rate=pl.when(pl.col("monetary") > 0)
            .then((pl.col("returned_value").fill_null(0.0) / pl.col("monetary")).clip(0.0, 1.0))
            .otherwise(0.0)
        )
        .sort("c")
    )
    values = table.select([pl.col(n).cast(pl.Float64) for n in FEATURE_NAMES]).to_numpy()
    start = since if since is not None else lines["t"].min()
    return CustomerFeatures(
        customers=tuple(table["c"].to_list()),
        values=np.ascontiguousarray(values),
        window_start=start if isinstance(start, datetime) else None,
        window_end=as_of,
    )


def churn_labels(
    transactions: Frame,
    *,
    as_of: datetime,
    horizon: timedelta,
    customers: Sequence[str] | None = None,
    customer: str = "CustomerID",
    time: str = "InvoiceDate",
    quantity: str = "Quantity",
    invoice: str | None = "InvoiceNo",
) -> np.ndarray:
    """1 for each customer who buys nothing in ``[as_of, as_of + horizon)``, else 0.

    ``customers`` are the ids to label (e.g. ``features.customers``); by default every
    customer with a purchase before ``as_of``, ascending, as :func:`customer_features`
    orders them (without its ``since``).
    """
    revenue = _future_revenue(
        transactions, as_of, horizon, customers, customer, time, quantity, None, invoice
    )
    return (revenue[1] == 0).astype(np.int8)


def clv_targets(
    transactions: Frame,
    *,
    as_of: datetime,
    horizon: timedelta,
    customers: Sequence[str] | None = None,
    customer: str = "CustomerID",
    time: str = "InvoiceDate",
    quantity: str = "Quantity",
    price: str = "UnitPrice",
    invoice: str | None = "InvoiceNo",
) -> np.ndarray:
    """Each customer's purchase revenue in ``[as_of, as_of + horizon)`` (returns not netted).

    Aligned with ``customers`` as in :func:`churn_labels`.
    """
    revenue = _future_revenue(
        transactions, as_of, horizon, customers, customer, time, quantity, price, invoice
    )
    return revenue[0]


def unit_scaled(features: CustomerFeatures, caps: Mapping[str, float] = FEATURE_CAPS) -> np.ndarray:
    """Features mapped into ``[0, 1]``: ``log1p(clamp(x, 0, cap)) / log1p(cap)`` per column.

    The caps are public, so the map is the same on neighbouring datasets and each
    customer's row has L2 norm at most ``sqrt(len(names))``.
    """
    missing = [n for n in features.names if n not in caps]
    if missing:
        raise ParameterError(f"caps lack {missing}; declare an upper bound for every feature")
    bounds = np.array([float(caps[n]) for n in features.names])
    if not np.all(np.isfinite(bounds) & (bounds > 0)):
        raise ParameterError(f"caps must be finite and > 0, got {dict(caps)}")
    clipped = np.clip(features.values, 0.0, bounds)
    return np.log1p(clipped) / np.log1p(bounds)


# --- helpers -------------------------------------------------------------------------------


def _check_time(name: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise ParameterError(f"{name} must be a datetime, got {type(value).__name__}")


def _lines(
    transactions: Frame,
    customer: str,
    time: str,
    quantity: str,
    price: str | None,
    invoice: str | None,
    item: str | None,
    as_of: datetime,
) -> pl.DataFrame:
    """Rows with a customer, renamed ``c, t, q, i, s, value, returned``."""
    _check_time("as_of", as_of)
    frame = transactions if isinstance(transactions, pl.DataFrame) else pl.from_arrow(transactions)
    if not isinstance(frame, pl.DataFrame):
        raise ParameterError("transactions must be a polars DataFrame or an Arrow table")
    named: dict[str, str | None] = {"customer": customer, "time": time, "quantity": quantity}
    named |= {"price": price, "invoice": invoice, "item": item}
    missing = [f"{k}={v!r}" for k, v in named.items() if v is not None and v not in frame.columns]
    if missing:
        raise SchemaError(
            f"transactions lack the column(s) {', '.join(missing)}; "
            f"pass the right names (columns: {frame.columns})"
        )
    dtype = frame.schema[time]
    if not isinstance(dtype, pl.Datetime | pl.Date):
        raise SchemaError(
            f"column {time!r} must hold timestamps, got {dtype}; parse it first "
            "(e.g. shopveil.data.load_online_retail)"
        )
    if isinstance(dtype, pl.Datetime) and (dtype.time_zone is None) != (as_of.tzinfo is None):
        raise ParameterError(
            f"as_of and column {time!r} must both be naive or both carry a time zone"
        )
    ids = pl.col(customer).cast(pl.Utf8)
    if frame.schema[customer].is_float():
        # CSV readers give Online Retail's ids as 17850.0; the id is the integer.
        ids = pl.col(customer).cast(pl.Int64).cast(pl.Utf8)
    columns = [
        ids.alias("c"),
        pl.col(time)
        .cast(pl.Datetime("us", dtype.time_zone if isinstance(dtype, pl.Datetime) else None))
        .alias("t"),
        pl.col(quantity).cast(pl.Float64).alias("q"),
        (pl.col(price).cast(pl.Float64) if price else pl.lit(0.0)).alias("p"),
        (pl.col(item).cast(pl.Utf8) if item else pl.lit(None, pl.Utf8)).alias("s"),
    ]
    if invoice:
        columns.append(pl.col(invoice).cast(pl.Utf8).alias("i"))
    else:
        columns.append(pl.concat_str([ids, pl.col(time).cast(pl.Utf8)], separator="|").alias("i"))
    lines = frame.select(columns).drop_nulls(["c", "t", "q", "p"])
    returned = (pl.col("q") < 0) | pl.col("i").str.starts_with("C").fill_null(False)
    return lines.with_columns(returned=returned, value=pl.col("q") * pl.col("p")).filter(
        pl.col("returned") | (pl.col("q") > 0)
    )


def _future_revenue(
    transactions: Frame,
    as_of: datetime,
    horizon: timedelta,
    customers: Sequence[str] | None,
    customer: str,
    time: str,
    quantity: str,
    price: str | None,
    invoice: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: revenue and number of purchase lines in the label window."""
    if not isinstance(horizon, timedelta) or horizon <= timedelta(0):
        raise ParameterError(f"horizon must be a positive timedelta, got {horizon!r}")
    lines = _lines(transactions, customer, time, quantity, price, invoice, None, as_of)
    bought = lines.filter(~pl.col("returned"))
    if customers is None:
        ids = bought.filter(pl.col("t") < as_of)["c"].unique().sort()
    else:
        ids = pl.Series("c", [str(c) for c in customers], dtype=pl.Utf8)
    future = (
        bought.filter((pl.col("t") >= as_of) & (pl.col("t") < as_of + horizon))
        .group_by("c")
        .agg(revenue=pl.col("value").sum(), lines=pl.len())
    )
    joined = pl.DataFrame({"c": ids}).join(future, on="c", how="left", maintain_order="left")
    revenue = joined["revenue"].fill_null(0.0).to_numpy().astype(np.float64)
    count = joined["lines"].fill_null(0).to_numpy().astype(np.int64)
    if not math.isfinite(float(revenue.sum())):
        raise ParameterError("revenue is not finite; check the quantity and price columns")
    return revenue, count
