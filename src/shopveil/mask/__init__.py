"""Masking operators: redaction, partial masking, generalization, perturbation, shuffling,
date shifting, consistent fake substitution, and the faces in a column of image paths
(:class:`RedactFaces`, bound to the face detector by the release pipeline).

Each operator is a frozen dataclass of its parameters with ``apply(values, context)``,
mapping an Arrow array to an Arrow array of the same length; nulls stay null.
:func:`shuffle_within` and :class:`DateShift` work on whole tables, because they need
other columns (the groups, the subject).
"""

from shopveil.mask._basic import Keep, Redact, RedactMode
from shopveil.mask._dates import DateShift
from shopveil.mask._faces import FaceMethod, RedactFaces
from shopveil.mask._generalize import AgeBand, DateUnit, GeneralizeDate, Truncate
from shopveil.mask._hierarchy import (
    GeneralizeHierarchy,
    GeneralizePostcode,
    PostcodeLevel,
    read_hierarchy,
)
from shopveil.mask._numeric import GeneralizeNumber, NoiseMode, Perturb
from shopveil.mask._partial import MaskCard, MaskEmail, Nullify, PartialMask
from shopveil.mask._shuffle import Shuffle, shuffle_within
from shopveil.mask._substitute import FakeKind, FakeSubstitute

__all__ = [
    "AgeBand",
    "DateShift",
    "DateUnit",
    "FaceMethod",
    "FakeKind",
    "FakeSubstitute",
    "GeneralizeDate",
    "GeneralizeHierarchy",
    "GeneralizeNumber",
    "GeneralizePostcode",
    "Keep",
    "MaskCard",
    "MaskEmail",
    "NoiseMode",
    "Nullify",
    "PartialMask",
    "Perturb",
    "PostcodeLevel",
    "Redact",
    "RedactFaces",
    "RedactMode",
    "Shuffle",
    "Truncate",
    "read_hierarchy",
    "shuffle_within",
]
