"""How a face region is made unrecognisable: blur, pixelate or fill, with a margin."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopveil._core.extras import from_extra
from shopveil.errors import ParameterError
from shopveil.vision._boxes import Box

with from_extra("vision"):
    import cv2

__all__ = ["FaceRedaction", "RedactionMethod", "redact_regions"]


class RedactionMethod(enum.Enum):
    """What replaces the pixels of a face."""

    BLUR = "blur"
    """A blur strong enough that no feature smaller than an eighth of the region is left."""
    PIXELATE = "pixelate"
    """Blocks of one colour, ``blocks`` across the region's shorter side."""
    FILL = "fill"
    """One solid colour (``fill``)."""


@dataclass(frozen=True)
class FaceRedaction:
    """The redaction policy for faces.

    Parameters
    ----------
    method
        Blur, pixelate or fill.
    margin
        Each detected box grows by this fraction of its width and height on every side,
        so hair, chin and ears are covered too (a cascade's box runs from brow to mouth).
    blocks
        For ``PIXELATE``: blocks across the region's shorter side.
    fill
        For ``FILL``: the colour, as ``(red, green, blue)``.
    """

    method: RedactionMethod = RedactionMethod.BLUR
    margin: float = 0.3
    blocks: int = 6
    fill: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        if not isinstance(self.method, RedactionMethod):
            raise ParameterError(
                f"method={self.method!r}: use a RedactionMethod "
                f"({', '.join(m.value for m in RedactionMethod)})"
            )
        if not 0.0 <= self.margin <= 2.0:
            raise ParameterError(f"margin={self.margin}: use a fraction between 0 and 2")
        if not 2 <= self.blocks <= 64:
            raise ParameterError(f"blocks={self.blocks}: use between 2 and 64 blocks")
        if len(self.fill) != 3 or not all(0 <= c <= 255 for c in self.fill):
            raise ParameterError(f"fill={self.fill}: use three values from 0 to 255")

    def regions(self, faces: list[Box]) -> list[Box]:
        """The regions redacted for ``faces``: each box with the margin added."""
        return [face.expand(self.margin) for face in faces]


def redact_regions(
    image: npt.NDArray[np.uint8], regions: list[Box], policy: FaceRedaction
) -> npt.NDArray[np.uint8]:
    """A copy of ``image`` (BGR or grey) with every region redacted by ``policy``."""
    out = image.copy()
    height, width = image.shape[:2]
    for region in regions:
        x0, y0, x1, y1 = region.pixels(width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        patch = out[y0:y1, x0:x1]
        if policy.method is RedactionMethod.FILL:
            red, green, blue = policy.fill
            patch[...] = (
                (blue, green, red)
                if patch.ndim == 3
                else round(0.299 * red + 0.587 * green + 0.114 * blue)
            )
        elif policy.method is RedactionMethod.PIXELATE:
            h, w = patch.shape[:2]
            step = max(1.0, min(h, w) / policy.blocks)
            small = cv2.resize(
                patch,
                (max(1, round(w / step)), max(1, round(h / step))),
                interpolation=cv2.INTER_AREA,
            )
            patch[...] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            # Down to about 8 samples across, back up, then smoothed: as strong as a
            # Gaussian with sigma of an eighth of the region, at a fraction of its cost.
            h, w = patch.shape[:2]
            step = max(1.0, min(h, w) / 8)
            small = cv2.resize(
                patch,
                (max(1, round(w / step)), max(1, round(h / step))),
                interpolation=cv2.INTER_AREA,
            )
            kernel = max(3, int(step) | 1)
            patch[...] = cv2.GaussianBlur(
                cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (kernel, kernel), 0
            )
    return out
