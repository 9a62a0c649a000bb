"""Randomness as an argument: a CSPRNG by default, a seeded one only on explicit request.

Key material never comes from here; it comes from :mod:`secrets` or ``cryptography``.
This module serves non-key randomness (shuffles, synthetic data, experiments).
"""

from __future__ import annotations

import secrets
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["InsecureRandomnessWarning", "insecure_seeded_rng", "secure_rng"]


class InsecureRandomnessWarning(UserWarning):
    """A seeded, predictable generator is in use: fine for experiments, never for releases."""


def secure_rng() -> np.random.Generator:
    """A generator seeded with 256 bits from the operating system's CSPRNG."""
    import numpy as np  # on use: importing ``_core`` stays cheap

    return np.random.Generator(np.random.PCG64(secrets.randbits(256)))


def insecure_seeded_rng(seed: int) -> np.random.Generator:
    """A reproducible generator for experiments and tests. Warns every time it is made."""
    warnings.warn(
        f"seeded RNG (seed={seed}) in use: results are reproducible and predictable; "
        "do not use it for a release",
        InsecureRandomnessWarning,
        stacklevel=2,
    )
    import numpy as np

    return np.random.Generator(np.random.PCG64(seed))
