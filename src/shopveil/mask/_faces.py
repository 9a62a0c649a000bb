"""A column of image paths whose images get their faces redacted and metadata stripped.

This is the technique as the policy declares it (its parameters, checked when the policy
loads). The work needs the face detector (:mod:`shopveil.vision`) and a folder to write
the redacted images to, which only a file release has: the release pipeline binds the
technique to both (:func:`shopveil.pipeline.anonymize_file`). Applied anywhere else (a
service request, a Spark job) it refuses, naming the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import pyarrow as pa

from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError, PolicyError

__all__ = ["FaceMethod", "RedactFaces"]


class FaceMethod(StrEnum):
    """What replaces the pixels of a face (see :class:`shopveil.vision.RedactionMethod`)."""

    BLUR = "blur"
    PIXELATE = "pixelate"
    FILL = "fill"


@dataclass(frozen=True)
class RedactFaces:
    """Faces in the images a column of file paths names: redacted, metadata stripped.

    Parameters
    ----------
    method
        ``blur``, ``pixelate`` or ``fill`` (black).
    margin
        Each face box grows by this fraction of its size on every side (0 to 2).
    """

    name: ClassVar[str] = "redact_faces"

    method: FaceMethod = FaceMethod.BLUR
    margin: float = 0.3

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", FaceMethod(self.method))
        except ValueError:
            choices = ", ".join(m.value for m in FaceMethod)
            raise ParameterError(f"method must be one of {choices}, got {self.method!r}") from None
        margin = self.margin
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= 2:
            raise ParameterError(f"margin must be a fraction from 0 to 2, got {margin!r}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Refuse: the images are written by a file release, which binds this technique."""
        raise PolicyError(
            f"column {context.column!r}: technique {self.name!r} writes redacted images "
            "beside a released file; run it with `shopveil anonymize` (anonymize_file), or "
            "give the column another technique for this release"
        )
