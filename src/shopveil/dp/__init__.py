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
from shopveil.dp._catalog import Catalog, Dataset
from shopveil.dp._ledger import (
    DEFAULT_TOTAL,
    AccountState,
    Charge,
    Ledger,
    PeopleSpending,
    Renewal,
)
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
from shopveil.dp._query._answer import Answer, Cell
from shopveil.dp._query._engine import run_query, table_name
from shopveil.dp._query._parser import QuerySpec, parse_query
from shopveil.dp._query._plan import QueryOptions
from shopveil.dp._rdp import (
    DEFAULT_ORDERS,
    RdpAccountant,
    gaussian_rdp,
    gnmax_data_dependent_rdp,
    gnmax_log_q,
    max_zcdp_within,
    rdp_of_zcdp,
    rdp_to_approx_dp,
    threshold_rdp,
)
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
    "DEFAULT_ORDERS",
    "DEFAULT_TOTAL",
    "AccountState",
    "Accountant",
    "AesCtrBits",
    "Answer",
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
    "RandomBits",
    "RdpAccountant",
    "Renewal",
    "auto_granularity",
    "compose",
    "compose_advanced",
    "compose_sequential",
    "compose_zcdp",
    "convert",
    "fits",
    "gaussian_for",
    "gaussian_rdp",
    "gnmax_data_dependent_rdp",
    "gnmax_log_q",
    "half_width",
    "laplace_for",
    "make_above_threshold",
    "make_exponential_mechanism",
    "make_gaussian",
    "make_laplace",
    "make_partition_selection",
    "make_quantile",
    "make_top_k",
    "max_zcdp_within",
    "parse_query",
    "partition_selection_for",
    "rdp_of_zcdp",
    "rdp_to_approx_dp",
    "run_query",
    "sample_discrete_gaussian",
    "sample_discrete_laplace",
    "table_name",
    "threshold_rdp",
    "top_k",
    "top_pairs",
]
