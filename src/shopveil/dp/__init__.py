"""Differential privacy recipes: the shared budget ledger, the steward's catalog, DP
queries (SQL subset on DuckDB, or the :class:`Query` builder), retail top-k, and
mechanisms that carry their privacy maps.

Every release here says what it costs: a query or a top-k is charged to the
:class:`Ledger` before its answer leaves, and a :class:`Measurement` pairs its noise with
the map from sensitivity to budget (``laplace_for(PureDP(1), 1)`` is the least noise
that fits). Raw samplers, composition theorems and Rényi accounting live in
:mod:`shopveil.dp.hazmat`, for building new mechanisms with a proof.

For the steward's tools: :func:`read_contents` reads a file's schema and people to
register it in the :class:`Catalog`; :func:`check_ledger` replays the ledger's audit
events against its accounts (:func:`count_accounts` says how many there are); and
:func:`budget_dict` gives a budget's values by name (``{"epsilon": 1.0}``), as the
ledger writes them to the audit log.
"""

from shopveil.dp._accounting import Accountant, compose, fits
from shopveil.dp._builder import Query
from shopveil.dp._catalog import Catalog, Dataset
from shopveil.dp._ledger import (
    DEFAULT_TOTAL,
    AccountState,
    Charge,
    Ledger,
    PeopleSpending,
    Renewal,
)
from shopveil.dp._ledger_check import check_ledger, count_accounts
from shopveil.dp._measurement import (
    Measurement,
    auto_granularity,
    gaussian_for,
    half_width,
    laplace_for,
    make_gaussian,
    make_laplace,
)
from shopveil.dp._people import People, PeopleKey
from shopveil.dp._processing import charge_record
from shopveil.dp._query._answer import Answer, Cell, budget_dict
from shopveil.dp._query._engine import run_query, table_name
from shopveil.dp._query._parser import parse_query
from shopveil.dp._query._people import read_contents
from shopveil.dp._query._plan import AutoBounds, QueryOptions
from shopveil.dp._query._spec import QuerySpec
from shopveil.dp._recipes import top_k, top_pairs
from shopveil.dp._selection import (
    make_above_threshold,
    make_exponential_mechanism,
    make_partition_selection,
    make_quantile,
    make_top_k,
    partition_selection_for,
)

__all__ = [
    "DEFAULT_TOTAL",
    "AccountState",
    "Accountant",
    "Answer",
    "AutoBounds",
    "Catalog",
    "Cell",
    "Charge",
    "Dataset",
    "Ledger",
    "Measurement",
    "People",
    "PeopleKey",
    "PeopleSpending",
    "Query",
    "QueryOptions",
    "QuerySpec",
    "Renewal",
    "auto_granularity",
    "budget_dict",
    "charge_record",
    "check_ledger",
    "compose",
    "count_accounts",
    "fits",
    "gaussian_for",
    "half_width",
    "laplace_for",
    "make_above_threshold",
    "make_exponential_mechanism",
    "make_gaussian",
    "make_laplace",
    "make_partition_selection",
    "make_quantile",
    "make_top_k",
    "parse_query",
    "partition_selection_for",
    "read_contents",
    "run_query",
    "table_name",
    "top_k",
    "top_pairs",
]
