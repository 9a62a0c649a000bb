"""Differential privacy: exact samplers, mechanisms with privacy maps, composition, the
shared budget ledger, and DP queries (SQL subset on DuckDB, or the :class:`Query` builder).
"""

from shopveil.dp._accounting import (
    Accountant,
    compose,
    compose_advanced,
    compose_sequential,
    compose_zcdp,
    convert,
    fits,
)
from shopveil.dp._bits import AesCtrBits, RandomBits
from shopveil.dp._builder import Query
from shopveil.dp._ledger import DEFAULT_TOTAL, AccountState, Charge, Ledger, Renewal
from shopveil.dp._measurement import (
    Measurement,
    auto_granularity,
    gaussian_for,
    half_width,
    laplace_for,
    make_gaussian,
    make_laplace,
)
from shopveil.dp._query._answer import Answer, Cell
from shopveil.dp._query._engine import run_query, table_name
from shopveil.dp._query._parser import QuerySpec, parse_query
from shopveil.dp._query._plan import QueryOptions
from shopveil.dp._recipes import top_k, top_pairs
from shopveil.dp._samplers import sample_discrete_gaussian, sample_discrete_laplace
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
    "AesCtrBits",
    "Answer",
    "Cell",
    "Charge",
    "Ledger",
    "Measurement",
    "Query",
    "QueryOptions",
    "QuerySpec",
    "RandomBits",
    "Renewal",
    "auto_granularity",
    "compose",
    "compose_advanced",
    "compose_sequential",
    "compose_zcdp",
    "convert",
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
    "run_query",
    "sample_discrete_gaussian",
    "sample_discrete_laplace",
    "table_name",
    "top_k",
    "top_pairs",
]
