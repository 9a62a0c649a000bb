"""Personalization trained with privacy: recommenders, customer models, PATE distillation.

Everything here needs the ``[ml]`` extra (scipy, scikit-learn; torch and Opacus only for
DP-SGD, imported by the models that train with them).

- Recommenders: a frozen config (``Popularity()``, ``DPCoPurchase(ApproxDP(1, 1e-6))``, …)
  whose ``fit(train, FitContext(ledger=...))`` charges the shared ledger first and returns
  a model that scores each customer from their **own** history (user-side mode). Build
  them by name with :func:`build_recommender` (``MODELS`` lists them; :func:`is_private`
  says whether a name at an ε trains with DP); measure them with :func:`evaluate`, on two
  separately loaded files re-indexed together by :func:`align`; list a customer's top-k
  from a saved model and their own purchases with :func:`recommend` (one customer at a
  time, as a live service asks, with :class:`ServedRecommender`); measure a saved
  model on private test data with :func:`evaluate_private` (DP metrics, charged to the
  test customers). A private recommender fits only on purchases loaded with the public
  :class:`Catalogue`
  (``load_interactions(path, catalogue=load_catalogue(FILE))``): its item vocabulary
  and texts.
- Customer models: :func:`customer_features` (RFM), churn and CLV with
  :func:`train_customer_model` (non-private or DP-SGD through :func:`make_private`),
  segmentation with :func:`dp_kmeans`.
- PATE: :func:`release_labels` (teachers on disjoint customer shards, noisy votes) and
  :func:`train_student`.
- Every saved model carries :class:`PrivacyMetadata`: (ε, δ), privacy unit, data window.
  The unit defaults to :data:`CUSTOMER`: one customer with all their purchases.

Without the extra, importing this package raises :class:`~shopveil.errors.MissingExtraError`
naming ``pip install 'shopveil[ml]'``.
"""

from shopveil._core.extras import from_extra

with from_extra("ml"):
    import scipy.sparse  # noqa: F401  (every model here builds on it: checked first)

from shopveil.learn._als import ALS, ALSModel, solve_factors
from shopveil.learn._baselines import BuyAgain, DPPopularity, Popularity, popularity_order
from shopveil.learn._catalogue import Catalogue, load_catalogue
from shopveil.learn._charging import CUSTOMER, charge_customers, consenting
from shopveil.learn._customers import CustomerModel, CustomerModelConfig, train_customer_model
from shopveil.learn._dp_als import DPALS
from shopveil.learn._dp_cobuy import DPCoPurchase
from shopveil.learn._dp_eigen import DPEigen
from shopveil.learn._dp_mf import DPMF
from shopveil.learn._dpsgd import PrivateTraining, make_private
from shopveil.learn._dpsgd_budget import DPSGDAccountant, DPSGDConfig
from shopveil.learn._evaluate import Evaluation, align, evaluate
from shopveil.learn._features import (
    FEATURE_CAPS,
    FEATURE_NAMES,
    CustomerFeatures,
    churn_labels,
    clv_targets,
    customer_features,
)
from shopveil.learn._interactions import (
    Interactions,
    from_table,
    load_interactions,
    purchases_only,
    temporal_split,
)
from shopveil.learn._itemknn import ItemKNN
from shopveil.learn._kmeans import DPKMeansConfig, KMeansModel, dp_kmeans
from shopveil.learn._model_file import ModelFile, PrivacyMetadata, load_model, save_model
from shopveil.learn._pate import LabelRelease, Student, Window, release_labels, train_student
from shopveil.learn._pate_aggregate import GNMaxConfig
from shopveil.learn._private_eval import EVALUATION_EPSILON, PrivateEvaluation, evaluate_private
from shopveil.learn._recommend import (
    CustomerList,
    history_of,
    load_history,
    model_catalogue,
    recommend,
)
from shopveil.learn._recommender import (
    FitContext,
    FittedRecommender,
    NoSignalWarning,
    Recommender,
)
from shopveil.learn._registry import (
    MODELS,
    ModelPrivacy,
    build_recommender,
    is_private,
    load_recommender,
    model_names,
    save_recommender,
)
from shopveil.learn._served import ServedRecommender

__all__ = [
    "ALS",
    "CUSTOMER",
    "DPALS",
    "DPMF",
    "EVALUATION_EPSILON",
    "FEATURE_CAPS",
    "FEATURE_NAMES",
    "MODELS",
    "ALSModel",
    "BuyAgain",
    "Catalogue",
    "CustomerFeatures",
    "CustomerList",
    "CustomerModel",
    "CustomerModelConfig",
    "DPCoPurchase",
    "DPEigen",
    "DPKMeansConfig",
    "DPPopularity",
    "DPSGDAccountant",
    "DPSGDConfig",
    "Evaluation",
    "FitContext",
    "FittedRecommender",
    "GNMaxConfig",
    "Interactions",
    "ItemKNN",
    "KMeansModel",
    "LabelRelease",
    "ModelFile",
    "ModelPrivacy",
    "NoSignalWarning",
    "Popularity",
    "PrivacyMetadata",
    "PrivateEvaluation",
    "PrivateTraining",
    "Recommender",
    "ServedRecommender",
    "Student",
    "Window",
    "align",
    "build_recommender",
    "charge_customers",
    "churn_labels",
    "clv_targets",
    "consenting",
    "customer_features",
    "dp_kmeans",
    "evaluate",
    "evaluate_private",
    "from_table",
    "history_of",
    "is_private",
    "load_catalogue",
    "load_history",
    "load_interactions",
    "load_model",
    "load_recommender",
    "make_private",
    "model_catalogue",
    "model_names",
    "popularity_order",
    "purchases_only",
    "recommend",
    "release_labels",
    "save_model",
    "save_recommender",
    "solve_factors",
    "temporal_split",
    "train_customer_model",
    "train_student",
]
