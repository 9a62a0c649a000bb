"""Low-level DP primitives: you need a proof to use these.

Hazardous materials, as in ``cryptography.hazmat``. Nothing here ties noise to a
sensitivity, checks a budget or charges the ledger: a raw sampler adds integer noise of
the scale you name, a composition theorem or an RDP conversion returns a bound that holds
only when its assumptions do. Use them to build and prove a new mechanism; for a
release, use the recipes in :mod:`shopveil.dp` (:func:`~shopveil.dp.run_query`,
:func:`~shopveil.dp.top_k`, :class:`~shopveil.dp.Ledger`, and the measurements such as
:func:`~shopveil.dp.laplace_for`, whose privacy maps say what they cost).

* Randomness: :class:`RandomBits` (64-bit words), :class:`AesCtrBits` (the default
  CSPRNG keystream), :data:`Rng` (what every ``rng=`` argument accepts) and
  :func:`as_bits`.
* Exact samplers: :func:`sample_discrete_laplace`, :func:`sample_discrete_gaussian`.
* Composition theorems: :func:`compose_sequential`, :func:`compose_advanced`,
  :func:`compose_zcdp`, and :func:`convert` between budget kinds
  (:func:`~shopveil.dp.compose` picks the tightest that applies).
* Rényi DP: :class:`RdpAccountant`, :data:`DEFAULT_ORDERS`, :func:`gaussian_rdp`,
  :func:`threshold_rdp`, :func:`rdp_of_zcdp`, :func:`rdp_to_approx_dp`,
  :func:`max_zcdp_within`, and PATE's :func:`gnmax_log_q` and
  :func:`gnmax_data_dependent_rdp` (data-dependent: report it, never charge it).
"""

from shopveil.dp._accounting import compose_advanced, compose_sequential, compose_zcdp, convert
from shopveil.dp._bits import AesCtrBits, RandomBits, Rng, as_bits
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
from shopveil.dp._samplers import sample_discrete_gaussian, sample_discrete_laplace

__all__ = [
    "DEFAULT_ORDERS",
    "AesCtrBits",
    "RandomBits",
    "RdpAccountant",
    "Rng",
    "as_bits",
    "compose_advanced",
    "compose_sequential",
    "compose_zcdp",
    "convert",
    "gaussian_rdp",
    "gnmax_data_dependent_rdp",
    "gnmax_log_q",
    "max_zcdp_within",
    "rdp_of_zcdp",
    "rdp_to_approx_dp",
    "sample_discrete_gaussian",
    "sample_discrete_laplace",
    "threshold_rdp",
]
