"""Privacy next to utility: the scorecard of a release or a model, as JSON or HTML.

Everything here needs the ``[ml]`` extra (the attacks and the models it runs).

- :func:`release_scorecard`: k, l, t, re-identification risks and the linkage rate of a
  released table, its information loss (NCP) against the original, the ε its dataset was
  charged and the audit events behind it (:class:`ReleaseScorecard`).
- :func:`model_scorecard`: a model file's ε, the membership attack on it, Recall@k, NDCG,
  coverage and diversity against non-private ALS or popularity (:class:`Baseline`) on
  the same split, and the
  privacy-utility curve over ε (:class:`ModelScorecard`).
- :func:`render_scorecard`: one self-contained HTML page with inline SVG plots.
"""

from shopveil.scorecard._html import render_scorecard
from shopveil.scorecard._model import (
    Baseline,
    CurvePoint,
    ModelScorecard,
    max_membership_auc,
    model_scorecard,
)
from shopveil.scorecard._refs import LedgerRefs, ledger_refs
from shopveil.scorecard._release import ReleaseScorecard, information_loss, release_scorecard

__all__ = [
    "Baseline",
    "CurvePoint",
    "LedgerRefs",
    "ModelScorecard",
    "ReleaseScorecard",
    "information_loss",
    "ledger_refs",
    "max_membership_auc",
    "model_scorecard",
    "release_scorecard",
    "render_scorecard",
]
