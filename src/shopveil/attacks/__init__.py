"""Attacks on ShopVeil's own releases and models: membership, linkage, DP audits.

Everything here needs the ``[ml]`` extra (scipy, scikit-learn).

- :func:`membership_attack` with a :class:`MembershipConfig`: customer-level membership
  inference against a recommender (threshold and LiRA, Carlini et al. 2022), AUC and TPR
  at 0.1% and 1% FPR.
- :func:`run_audit` with an :class:`AuditConfig`: an empirical lower bound on the ε of
  a mechanism (Laplace, geometric, Gaussian, the DP query engine, DP popularity) from
  draws on neighbouring inputs (:func:`audit_samples`, Clopper-Pearson); a mechanism
  whose noise is halved is caught.
- :func:`linkage_attack` with a :class:`LinkageConfig`: re-identify customers in a
  release from a few of their purchases an outsider knows.
- Helpers: :func:`auc`, :func:`tpr_at_fpr`, :func:`clopper_pearson`.
"""

from shopveil._core.extras import from_extra

with from_extra("ml"):
    import scipy.stats  # noqa: F401  (the attacks' statistics build on it: checked first)

from shopveil.attacks._audit import AuditResult, Measure, audit_samples
from shopveil.attacks._audit_targets import AuditConfig, AuditTarget, run_audit
from shopveil.attacks._linkage import (
    LinkageConfig,
    LinkageResult,
    linkage_attack,
    linkage_attack_files,
)
from shopveil.attacks._membership import (
    AttackScores,
    MembershipConfig,
    MembershipResult,
    config_from_model_file,
    membership_attack,
)
from shopveil.attacks._stats import auc, clopper_pearson, tpr_at_fpr

__all__ = [
    "AttackScores",
    "AuditConfig",
    "AuditResult",
    "AuditTarget",
    "LinkageConfig",
    "LinkageResult",
    "Measure",
    "MembershipConfig",
    "MembershipResult",
    "auc",
    "audit_samples",
    "clopper_pearson",
    "config_from_model_file",
    "linkage_attack",
    "linkage_attack_files",
    "membership_attack",
    "run_audit",
    "tpr_at_fpr",
]
