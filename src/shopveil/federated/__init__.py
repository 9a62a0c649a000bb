"""Federated learning on Flower: the churn model trained where the customers' data is.

Clients (regional stores, or customers' own devices) train locally and send updates
only; the server averages them (FedAvg, FedProx). Customer-level DP-FedAvg (fixed or
adaptive clipping, exact discrete Gaussian noise) is charged to the people ledger once
per run; secure aggregation masks updates pairwise so the server sees only their sum;
compression shrinks the uplink. Needs the ``fl`` extra (Flower).

* Data: :func:`churn_data`, :class:`Partition`, :func:`partition`.
* Runs: :class:`FederatedRun`, :class:`Strategy`, :class:`LocalTraining`,
  :class:`DPFedAvgConfig`, :class:`ClipMode`, :class:`Compression`,
  :class:`Compressor`, :func:`simulate`, :func:`train_on_grid`.
* Devices → regional edge → cloud: :func:`simulate_hierarchy`, :class:`HierarchyResult`.
* A real deployment's Flower components: :mod:`shopveil.federated.deploy`.
"""

from shopveil.federated._compress import Compression, Compressor
from shopveil.federated._data import ChurnData, Partition, churn_data, partition
from shopveil.federated._dp import ClipMode, DPFedAvgConfig
from shopveil.federated._hierarchy import HierarchyResult, simulate_hierarchy
from shopveil.federated._model import LocalTraining
from shopveil.federated._server import FederatedRun, RoundReport, Strategy, train_on_grid
from shopveil.federated._simulate import SimulationResult, simulate

__all__ = [
    "ChurnData",
    "ClipMode",
    "Compression",
    "Compressor",
    "DPFedAvgConfig",
    "FederatedRun",
    "HierarchyResult",
    "LocalTraining",
    "Partition",
    "RoundReport",
    "SimulationResult",
    "Strategy",
    "churn_data",
    "partition",
    "simulate",
    "simulate_hierarchy",
    "train_on_grid",
]
