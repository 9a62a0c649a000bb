"""Federated learning on Flower: models trained where the customers' data is.

Clients (regional stores, or customers' own devices) train locally and send updates
only; the server averages them (FedAvg, FedProx). Customer-level DP-FedAvg (fixed or
adaptive clipping, exact discrete Gaussian noise) is charged to the people ledger once
per run; secure aggregation masks updates pairwise so the server sees only their sum;
compression shrinks the uplink; homomorphic aggregation (Paillier) is the alternative
to masking. Vertical FL trains one model on two parties' columns of the customers they
share, found by private set intersection. Needs the ``fl`` extra (Flower, PyNaCl, phe).

* Data: :func:`churn_data`, :func:`recommender_data`, :class:`Partition`,
  :func:`partition`.
* Runs: :class:`FederatedRun`, :class:`Strategy`, :class:`LocalTraining`,
  :class:`DPFedAvgConfig`, :class:`ClipMode`, :class:`Compression`,
  :class:`Compressor`, :func:`simulate` (churn), :func:`simulate_recommender`
  (federated matrix factorization, :class:`Factorization`), :func:`train_on_grid`.
* Personalization: ``personalize=`` on both simulations, local fine-tuning of the
  federated model on each client's own customers, scored per country.
* Devices → regional edge → cloud: :func:`simulate_hierarchy`, :class:`HierarchyResult`.
* Vertical FL: :class:`VerticalParty`, :func:`split_parties`, :func:`train_vertical`,
  :class:`VerticalResult`; :class:`PsiParty`, :func:`private_intersection`.
* A real deployment's Flower components: :mod:`shopveil.federated.deploy`.
"""

from shopveil.federated._compress import Compression, Compressor
from shopveil.federated._data import ChurnData, Partition, churn_data, partition
from shopveil.federated._dp import ClipMode, DPFedAvgConfig
from shopveil.federated._hierarchy import HierarchyResult, simulate_hierarchy
from shopveil.federated._model import LocalTraining
from shopveil.federated._psi import PsiParty, private_intersection
from shopveil.federated._recsim import (
    RECOMMENDER_CLIP,
    RECOMMENDER_FINE_TUNING,
    RECOMMENDER_TRAINING,
    RecommenderResult,
    simulate_recommender,
)
from shopveil.federated._recsys import Factorization, RecommenderData, recommender_data
from shopveil.federated._server import FederatedRun, RoundReport, Strategy, train_on_grid
from shopveil.federated._simulate import SimulationResult, simulate
from shopveil.federated._vertical import (
    VerticalParty,
    VerticalResult,
    split_parties,
    train_vertical,
)

__all__ = [
    "RECOMMENDER_CLIP",
    "RECOMMENDER_FINE_TUNING",
    "RECOMMENDER_TRAINING",
    "ChurnData",
    "ClipMode",
    "Compression",
    "Compressor",
    "DPFedAvgConfig",
    "Factorization",
    "FederatedRun",
    "HierarchyResult",
    "LocalTraining",
    "Partition",
    "PsiParty",
    "RecommenderData",
    "RecommenderResult",
    "RoundReport",
    "SimulationResult",
    "Strategy",
    "VerticalParty",
    "VerticalResult",
    "churn_data",
    "partition",
    "private_intersection",
    "recommender_data",
    "simulate",
    "simulate_hierarchy",
    "simulate_recommender",
    "split_parties",
    "train_on_grid",
    "train_vertical",
]
