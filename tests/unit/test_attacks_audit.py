"""Empirical DP audits: every real mechanism stays under its claim, halved noise is caught."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil.attacks import (
    AuditConfig,
    AuditTarget,
    Measure,
    auc,
    audit_samples,
    clopper_pearson,
    run_audit,
    tpr_at_fpr,
)
from shopveil.errors import ParameterError

MECHANISMS = [AuditTarget.LAPLACE, AuditTarget.GEOMETRIC, AuditTarget.GAUSSIAN]
# A sound mechanism's bound exceeds its claim with probability at most ALPHA: the tests
# run at a level where that never happens in practice.
ALPHA = 1e-6


@pytest.mark.parametrize("target", MECHANISMS)
def test_each_mechanism_stays_under_its_claim_and_is_tight(target: AuditTarget) -> None:
    result = run_audit(AuditConfig(target, epsilon=1.0, trials=20_000, alpha=ALPHA))
    assert result.passed, result.as_dict()
    # A real test, not a vacuous one: the bound comes close to the claim.
    assert result.lower_bound > 0.75 * result.claimed


@pytest.mark.parametrize("target", MECHANISMS)
def test_halved_noise_fails_the_audit(target: AuditTarget) -> None:
    result = run_audit(AuditConfig(target, epsilon=1.0, trials=20_000, broken=True, alpha=ALPHA))
    assert not result.passed, result.as_dict()
    assert result.lower_bound > 1.5 * result.claimed


@settings(max_examples=5, deadline=None)
@given(epsilon=st.floats(0.3, 2.0))
def test_laplace_bound_is_below_any_claimed_epsilon(epsilon: float) -> None:
    result = run_audit(
        AuditConfig(AuditTarget.GEOMETRIC, epsilon=epsilon, trials=10_000, alpha=ALPHA)
    )
    assert result.lower_bound <= result.claimed
    assert result.measure is Measure.EPSILON


def test_the_query_engine_stays_under_its_claim() -> None:
    result = run_audit(AuditConfig(AuditTarget.QUERY, epsilon=2.0, trials=150, alpha=ALPHA))
    assert result.passed and result.lower_bound > 0, result.as_dict()


def test_dp_popularity_stays_under_its_claim() -> None:
    result = run_audit(AuditConfig(AuditTarget.DP_POPULARITY, epsilon=2.0, trials=150, alpha=ALPHA))
    assert result.passed and result.lower_bound > 0, result.as_dict()


def test_identical_inputs_give_no_lower_bound() -> None:
    rng = np.random.default_rng(0)
    same = rng.laplace(size=4000)
    result = audit_samples(
        same,
        rng.laplace(size=4000),
        mechanism="same",
        measure=Measure.EPSILON,
        claimed=0.1,
        alpha=ALPHA,
    )
    assert result.lower_bound < 0.1


def test_auc_and_tpr_agree_with_their_definitions() -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(1, 1, 500), rng.normal(0, 1, 500)])
    members = np.arange(1000) < 500
    pairs = (scores[:500, None] > scores[None, 500:]).mean()
    assert auc(scores, members) == pytest.approx(pairs)
    t = tpr_at_fpr(scores, members, 0.01)
    cut = np.sort(scores[500:])[-5]  # at most 5 of 500 non-members (1%) at or above it
    assert t == pytest.approx((scores[:500] > cut).mean(), abs=0.01)


@given(successes=st.integers(0, 50), extra=st.integers(0, 50))
def test_clopper_pearson_contains_the_estimate(successes: int, extra: int) -> None:
    trials = successes + extra
    if trials == 0:
        return
    low, high = clopper_pearson(successes, trials, 0.05)
    assert 0 <= low <= successes / trials <= high <= 1
    assert math.isfinite(low) and math.isfinite(high)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"target": "nope"}, "unknown audit target 'nope'"),
        ({"target": "query", "broken": True}, "broken .halved noise. applies to"),
        ({"target": "laplace", "trials": 10}, "trials must be an int >= 40"),
        ({"target": "laplace", "epsilon": 0}, "epsilon must be a finite number > 0"),
    ],
)
def test_bad_audits_name_the_parameter(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ParameterError, match=needle):
        AuditConfig(**kwargs)  # type: ignore[arg-type]


# A private recommender is fitted once per draw (a real fit, charged to a scratch ledger):
# few draws, at μ = 2 where halved noise (μ ≈ 3.8 on the audited counts) stands clear of
# the claim even with 250 draws per input.
@pytest.mark.parametrize("target", [AuditTarget.DP_ALS, AuditTarget.DP_COBUY])
def test_a_private_recommender_stays_under_its_claim(target: AuditTarget) -> None:
    result = run_audit(AuditConfig(target, epsilon=2.0, trials=150, alpha=ALPHA))
    assert result.passed and result.measure is Measure.MU, result.as_dict()
    assert result.claimed == pytest.approx(2.0, rel=1e-6)


def test_dp_als_with_halved_noise_fails_the_audit() -> None:
    result = run_audit(AuditConfig(AuditTarget.DP_ALS, epsilon=2.0, trials=250, broken=True))
    assert not result.passed, result.as_dict()


def test_one_dp_sgd_step_carries_the_mu_its_noise_multiplier_claims() -> None:
    """The audit's DP-SGD draws: the canary moves the weight by C/B under noise σC/B, so
    the standardized shift is μ = 1/σ, the claim; halved noise shows 2/σ."""
    from shopveil.attacks._audit_models import dpsgd_draw

    for broken, factor in ((False, 1.0), (True, 2.0)):
        draw, claimed = dpsgd_draw(8.0, broken)
        x0, x1 = draw(0, 400), draw(1, 400)
        shift = (x1.mean() - x0.mean()) / math.sqrt((x0.var(ddof=1) + x1.var(ddof=1)) / 2)
        # The standardized shift of 400 + 400 draws is within ±0.4 of its value (> 4 se).
        assert shift == pytest.approx(factor * claimed, abs=0.4), (broken, shift, claimed)
