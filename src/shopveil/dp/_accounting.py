"""Composition: what several releases cost together, by the tightest bound that applies.

* sequential: ε's and δ's add (Dwork & Roth 2014, Thm 3.16);
* advanced: k releases of (ε, δ) cost (ε√(2k ln(1/δ')) + kε(e^ε − 1), kδ + δ')
  (Dwork, Rothblum & Vadhan 2010);
* zCDP: ρ's add; ε-DP is (ε²/2)-zCDP; ρ-zCDP is (ρ + 2√(ρ ln(1/δ)), δ)-DP
  (Bun & Steinke 2016). Gaussian releases compose here without loss.

:func:`compose` returns the smallest ε among the bounds valid for the releases given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
from shopveil.dp._rdp import rdp_of_zcdp, rdp_to_approx_dp
from shopveil.errors import ParameterError

__all__ = [
    "Accountant",
    "compose",
    "compose_advanced",
    "compose_sequential",
    "compose_zcdp",
    "convert",
    "fits",
]


def convert(spent: Budget, like: Budget) -> Budget:
    """``spent`` expressed in the kind of ``like``, where a sound conversion exists."""
    if isinstance(spent, ApproxDP) and spent.delta == 0 and not isinstance(like, ApproxDP):
        spent = PureDP(spent.epsilon)  # (ε, 0)-DP is ε-DP
    if type(spent) is type(like):
        return spent
    if isinstance(spent, PureDP) and isinstance(like, ApproxDP):
        return spent.to_approx_dp()
    if isinstance(spent, PureDP) and isinstance(like, ZCDP):
        return spent.to_zcdp()
    if isinstance(spent, ZCDP) and isinstance(like, ApproxDP) and like.delta > 0:
        return spent.to_approx_dp(like.delta)
    if isinstance(spent, ApproxDP):
        hint = (
            "this release needs δ > 0 (e.g. choosing GROUP BY keys that were not given as "
            "public); give public keys, or set the budget with a delta > 0"
        )
    else:
        hint = "set the budget as ZCDP, or as ApproxDP with a delta > 0"
    raise ParameterError(
        f"cannot charge {type(spent).__name__} ({spent}) against a {type(like).__name__} "
        f"budget ({like}): {hint}"
    )


def fits(spent: Budget, budget: Budget) -> bool:
    """True when ``spent`` (converted to ``budget``'s kind) fits in ``budget``."""
    try:
        converted = convert(spent, budget)
    except ParameterError:
        return False
    return converted.fits_in(budget)  # type: ignore[arg-type]


def compose_sequential(budgets: Sequence[Budget]) -> Budget:
    """Basic composition: PureDP stays PureDP, any δ makes it ApproxDP; zCDP adds ρ."""
    if not budgets:
        return PureDP(0.0)
    if all(isinstance(b, ZCDP) for b in budgets):
        return compose_zcdp(budgets)
    if any(isinstance(b, ZCDP) for b in budgets):
        raise ParameterError("mixing ZCDP with (ε, δ) releases: use compose(..., delta=...)")
    if all(isinstance(b, PureDP) for b in budgets):
        return PureDP(math.fsum(b.epsilon for b in budgets))  # type: ignore[union-attr]
    eps = math.fsum(b.epsilon for b in budgets)  # type: ignore[union-attr]
    delta = math.fsum(getattr(b, "delta", 0.0) for b in budgets)
    return ApproxDP(eps, min(delta, 1 - 1e-15))


def compose_advanced(each: Budget, k: int, delta_slack: float) -> ApproxDP:
    """k-fold advanced composition of one (ε, δ) or ε guarantee, spending ``delta_slack``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be an int >= 1, got {k!r}")
    slack = ApproxDP(0.0, delta_slack).delta
    if slack <= 0:
        raise ParameterError("delta_slack must be > 0 for advanced composition, e.g. 1e-7")
    if isinstance(each, ZCDP):
        raise ParameterError("advanced composition is for (ε, δ) releases; use compose_zcdp")
    eps = each.epsilon
    delta = getattr(each, "delta", 0.0)
    total = eps * math.sqrt(2 * k * math.log(1 / slack)) + k * eps * math.expm1(eps)
    return ApproxDP(total, min(k * delta + slack, 1 - 1e-15))


def compose_zcdp(budgets: Sequence[Budget]) -> ZCDP:
    """zCDP composition; PureDP releases enter as ε²/2."""
    rho = 0.0
    for b in budgets:
        if isinstance(b, ZCDP):
            rho += b.rho
        elif isinstance(b, PureDP):
            rho += b.to_zcdp().rho
        else:
            raise ParameterError(f"{b} has δ > 0 and has no zCDP equivalent")
    return ZCDP(rho)


def compose(budgets: Sequence[Budget], *, delta: float) -> ApproxDP:
    """The tightest (ε, δ) bound among sequential, advanced and zCDP / RDP composition.

    zCDP releases (and pure ones, as ε²/2-zCDP) convert to (ε, δ) twice: by Bun &
    Steinke's formula and through their RDP curve ``ρα`` with the tighter conversion of
    :func:`~shopveil.dp.hazmat.rdp_to_approx_dp`; the smaller ε is kept.

    ``delta`` is the total δ allowed; approximate releases use their own δ's from it.
    """
    target = ApproxDP(0.0, delta).delta
    candidates: list[ApproxDP] = []
    own_delta = math.fsum(getattr(b, "delta", 0.0) for b in budgets)
    if own_delta > target:
        raise ParameterError(f"the releases already use δ={own_delta:g} > delta={target:g}")
    if not any(isinstance(b, ZCDP) for b in budgets):
        candidates.append(convert(compose_sequential(budgets), ApproxDP(0.0, target)))  # type: ignore[arg-type]
        if budgets and len(set(budgets)) == 1 and target > own_delta:
            candidates.append(compose_advanced(budgets[0], len(budgets), target - own_delta))
    if all(not isinstance(b, ApproxDP) for b in budgets) and target > 0:
        rho = compose_zcdp(budgets)
        candidates.append(rho.to_approx_dp(target))
        candidates.append(rdp_to_approx_dp(rdp_of_zcdp(rho), target))
    if not candidates:
        raise ParameterError("no composition theorem applies; give delta > 0 to mix ZCDP")
    return min(candidates, key=lambda c: c.epsilon)


@dataclass(frozen=True)
class Accountant:
    """An immutable record of releases; ``spend`` returns a new accountant."""

    releases: tuple[Budget, ...] = ()

    def spend(self, cost: Budget) -> Accountant:
        """A new accountant with ``cost`` added to what was spent."""
        return Accountant((*self.releases, cost))

    def total(self, *, delta: float) -> ApproxDP:
        """The tightest (ε, δ) bound on everything spent so far."""
        return compose(self.releases, delta=delta)
