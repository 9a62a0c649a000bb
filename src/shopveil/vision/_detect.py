"""Face detection with the Haar cascades that ship inside OpenCV's wheel.

The frontal cascade and the profile cascade, run on the image and, for the profile, on
its mirror image (the cascade knows one side of the head only). Detection runs on a
grey, histogram-equalised copy scaled so its longer side is at most ``max_side`` pixels;
boxes come back in the original image's pixels. Overlapping boxes are merged into the
box that covers both, since a redaction would rather cover too much than too little.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from shopveil._core.extras import from_extra
from shopveil.errors import ParameterError
from shopveil.vision._boxes import Box

with from_extra("vision"):
    import cv2

__all__ = ["CASCADES", "DetectorConfig", "FaceDetector"]

# The cascade files used, as named in ``cv2.data.haarcascades``, and whether each runs
# on the mirror image too.
CASCADES: tuple[tuple[str, bool], ...] = (
    ("haarcascade_frontalface_default.xml", False),
    ("haarcascade_profileface.xml", True),
)


@dataclass(frozen=True)
class DetectorConfig:
    """How hard the detector looks.

    Parameters
    ----------
    max_side
        Detection runs on a copy scaled so its longer side is at most this many pixels.
    min_face
        Smallest face side, in the original image's pixels, that is searched for.
    scale_factor
        Step between the cascade's search scales (smaller finds more, slower).
    min_neighbors
        Overlapping hits a detection needs (smaller finds more, with more false alarms).
    merge_iou
        Boxes overlapping at least this much are merged into one.
    """

    max_side: int = 1280
    min_face: int = 24
    scale_factor: float = 1.1
    min_neighbors: int = 3
    merge_iou: float = 0.2

    def __post_init__(self) -> None:
        if self.max_side < 64:
            raise ParameterError(f"max_side={self.max_side}: use at least 64 pixels")
        if self.min_face < 8:
            raise ParameterError(f"min_face={self.min_face}: use at least 8 pixels")
        if not 1.01 <= self.scale_factor <= 2.0:
            raise ParameterError(
                f"scale_factor={self.scale_factor}: use a value between 1.01 and 2.0"
            )
        if self.min_neighbors < 1:
            raise ParameterError(f"min_neighbors={self.min_neighbors}: use 1 or more")
        if not 0.0 < self.merge_iou <= 1.0:
            raise ParameterError(f"merge_iou={self.merge_iou}: use a value in (0, 1]")


class _Cascade(Protocol):
    """The part of ``cv2.CascadeClassifier`` the detector uses."""

    def empty(self) -> bool: ...

    def detectMultiScale(
        self, image: Any, scaleFactor: float, minNeighbors: int, minSize: tuple[int, int]
    ) -> Any: ...


@functools.cache
def _cascade(name: str) -> _Cascade:
    # OpenCV 5 dropped the cascades from its main modules (and its wheels from
    # cv2.data): the vision extra pins 4.x, but an environment may hold another.
    classifier = getattr(cv2, "CascadeClassifier", None)
    folder = getattr(importlib.import_module("cv2.data"), "haarcascades", "")
    path = Path(folder) / name
    cascade: _Cascade | None = classifier(str(path)) if classifier is not None else None
    if cascade is None or cascade.empty():
        raise ParameterError(
            f"OpenCV {cv2.__version__} has no face cascade {name}; install the 4.x wheel "
            "that carries it: pip install 'shopveil[vision]' (opencv-python-headless<5)"
        )
    return cascade


class FaceDetector:
    """Finds faces in one image (a ``height × width`` or ``height × width × 3`` array)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._cascades = [(_cascade(name), mirror) for name, mirror in CASCADES]

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """The faces in ``image`` (BGR or grey), as boxes in its pixels."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = grey.shape
        scale = min(1.0, self.config.max_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        side = max(8, round(self.config.min_face * scale))
        found: list[Box] = []
        for cascade, mirror in self._cascades:
            views = [(grey, False), (cv2.flip(grey, 1), True)] if mirror else [(grey, False)]
            for view, flipped in views:
                hits = cascade.detectMultiScale(
                    view,
                    scaleFactor=self.config.scale_factor,
                    minNeighbors=self.config.min_neighbors,
                    minSize=(side, side),
                )
                for x, y, w, h in np.asarray(hits).reshape(-1, 4).tolist():
                    if flipped:
                        x = grey.shape[1] - x - w
                    found.append(Box(x / scale, y / scale, (x + w) / scale, (y + h) / scale))
        return merge_boxes(found, self.config.merge_iou)


def _hull(a: Box, b: Box) -> Box:
    return Box(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))


def merge_boxes(boxes: list[Box], min_iou: float) -> list[Box]:
    """Merge boxes that overlap at least ``min_iou`` (or nest) into covering boxes."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                inter = Box(max(a.x0, b.x0), max(a.y0, b.y0), min(a.x1, b.x1), min(a.y1, b.y1))
                nested = inter.area >= 0.8 * min(a.area, b.area)
                if nested or a.iou(b) >= min_iou:
                    merged[i] = _hull(a, b)
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged
