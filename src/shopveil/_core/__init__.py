"""Typed values shared by every technique: budgets, privacy units, randomness, time.

The primitives several techniques share are imported from their own modules, so that
importing ``_core`` stays cheap: ``prf`` (the keyed HMAC-SHA-256 kernel, native when
built), ``hierarchy`` (generalization hierarchies), ``spans`` (text spans), ``luhn``,
``operators``, ``reidentify`` and ``subjects``; and the package plumbing: ``lazy``
(re-exports imported on first use) and ``extras`` (imports from an optional extra that
name the extra to install when it is missing).
"""

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
from shopveil._core.classes import ColumnClass, Kind
from shopveil._core.clock import Clock, FixedClock, SystemClock
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng, secure_rng
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit

__all__ = [
    "ZCDP",
    "ApproxDP",
    "Budget",
    "Clock",
    "ColumnClass",
    "FixedClock",
    "InsecureRandomnessWarning",
    "Kind",
    "PerCustomer",
    "PerRow",
    "PrivacyUnit",
    "PureDP",
    "SystemClock",
    "insecure_seeded_rng",
    "secure_rng",
]
