"""Face boxes: axis-aligned rectangles in pixel coordinates, and what they cover."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Box", "coverage", "region_mask"]


@dataclass(frozen=True)
class Box:
    """A rectangle ``[x0, x1) × [y0, y1)`` in pixels (floats while tracking)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        """Width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """Height in pixels."""
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        """Area in square pixels (0 for an empty box)."""
        return max(0.0, self.width) * max(0.0, self.height)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other``."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        inter = max(0.0, w) * max(0.0, h)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def expand(self, margin: float) -> Box:
        """The box grown by ``margin`` times its width and height on every side."""
        dx, dy = self.width * margin, self.height * margin
        return Box(self.x0 - dx, self.y0 - dy, self.x1 + dx, self.y1 + dy)

    def shift(self, dx: float, dy: float) -> Box:
        """The box moved by ``(dx, dy)``."""
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def lerp(self, other: Box, t: float) -> Box:
        """The box ``t`` of the way from this one to ``other``."""
        return Box(
            self.x0 + (other.x0 - self.x0) * t,
            self.y0 + (other.y0 - self.y0) * t,
            self.x1 + (other.x1 - self.x1) * t,
            self.y1 + (other.y1 - self.y1) * t,
        )

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer ``(x0, y0, x1, y1)`` rounded outwards and clipped to the image."""
        x0 = min(max(int(np.floor(self.x0)), 0), width)
        y0 = min(max(int(np.floor(self.y0)), 0), height)
        x1 = min(max(int(np.ceil(self.x1)), 0), width)
        y1 = min(max(int(np.ceil(self.y1)), 0), height)
        return x0, y0, x1, y1


def region_mask(boxes: list[Box], width: int, height: int) -> npt.NDArray[np.bool_]:
    """A ``height × width`` mask, true inside any of ``boxes``."""
    mask = np.zeros((height, width), dtype=bool)
    for box in boxes:
        x0, y0, x1, y1 = box.pixels(width, height)
        mask[y0:y1, x0:x1] = True
    return mask


def coverage(box: Box, mask: npt.NDArray[np.bool_]) -> float:
    """The fraction of ``box``'s pixels (clipped to the image) that ``mask`` covers."""
    x0, y0, x1, y1 = box.pixels(mask.shape[1], mask.shape[0])
    window = mask[y0:y1, x0:x1]
    return float(window.mean()) if window.size else 1.0
