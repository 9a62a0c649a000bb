"""The tuner: search a technique's parameters for the Pareto front and recommend a point.

- :func:`tune_table`: k-anonymity by the lattice search (at several suppression limits)
  and Mondrian (strict and relaxed), at the target k and above; the least information
  loss (:class:`TableMeasure`) that meets k and a risk ceiling (:class:`TableTarget`).
  Spends no DP budget.
- :func:`tune_recommender`: a recommender's model size, ε split and regularization
  (:class:`RecommenderSpace`, :data:`DEFAULT_GRIDS`) on a validation window carved from
  the training data (:func:`last_share_per_user`), never the test window; every private
  fit charges the ledger of its :class:`~shopveil.learn.FitContext` once
  (:class:`RecommenderTarget`, :class:`RecommenderTuning`). Needs the ``[ml]`` extra.

::

    from shopveil.tune import TableTarget, tune_table

    tuning = tune_table(table, qi, TableTarget(k=10), hierarchies=hierarchies)
    tuning.recommended.method, tuning.recommended.ncp, tuning.release.table
"""

from typing import TYPE_CHECKING

from shopveil._core.lazy import lazy_exports

if TYPE_CHECKING:
    from shopveil.tune._pareto import pareto_front
    from shopveil.tune._recommender import (
        DEFAULT_GRIDS,
        RecommenderCandidate,
        RecommenderMeasure,
        RecommenderSpace,
        RecommenderTarget,
        RecommenderTuning,
        tune_recommender,
    )
    from shopveil.tune._table import (
        TableCandidate,
        TableMeasure,
        TableSpace,
        TableTarget,
        TableTuning,
        tune_table,
    )
    from shopveil.tune._validation import last_share_per_user

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "shopveil.tune._pareto": ("pareto_front",),
        "shopveil.tune._recommender": (
            "DEFAULT_GRIDS",
            "RecommenderCandidate",
            "RecommenderMeasure",
            "RecommenderSpace",
            "RecommenderTarget",
            "RecommenderTuning",
            "tune_recommender",
        ),
        "shopveil.tune._validation": ("last_share_per_user",),
        "shopveil.tune._table": (
            "TableCandidate",
            "TableMeasure",
            "TableSpace",
            "TableTarget",
            "TableTuning",
            "tune_table",
        ),
    },
)

__all__ = [
    "DEFAULT_GRIDS",
    "RecommenderCandidate",
    "RecommenderMeasure",
    "RecommenderSpace",
    "RecommenderTarget",
    "RecommenderTuning",
    "TableCandidate",
    "TableMeasure",
    "TableSpace",
    "TableTarget",
    "TableTuning",
    "last_share_per_user",
    "pareto_front",
    "tune_recommender",
    "tune_table",
]
