"""The Luhn mod-10 check, vectorized over rows of digits (card numbers, loyalty ids)."""

from __future__ import annotations

import numpy as np

__all__ = ["luhn_check_digits", "luhn_valid"]


def _luhn_sums(digits: np.ndarray, *, with_check: bool) -> np.ndarray:
    # Double every second digit from the right, the check digit itself excluded. Leading
    # zeros change nothing, so right-aligned, zero-padded rows of any length work.
    digits = np.asarray(digits, dtype=np.int64)
    from_right = np.arange(digits.shape[1])[::-1] + (0 if with_check else 1)
    doubled = np.where(from_right % 2 == 1, digits * 2, digits)
    return np.where(doubled > 9, doubled - 9, doubled).sum(axis=1)


def luhn_valid(digits: np.ndarray) -> np.ndarray:
    """For each row of a digit matrix: is its last digit a correct Luhn check digit?"""
    return _luhn_sums(digits, with_check=True) % 10 == 0


def luhn_check_digits(payload: np.ndarray) -> np.ndarray:
    """The Luhn check digit that completes each row of ``payload`` (an ``(n, k)`` digit matrix)."""
    return (10 - _luhn_sums(payload, with_check=False) % 10) % 10
