"""The annotated face images (``tests/data/faces/faces.json``) and a moving test clip.

Shared by the vision tests and ``benchmarks/bench_vision.py``. Images come from
scikit-image's bundled data; boxes from the JSON, which says where each came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from skimage import data as skdata

from shopveil.vision import Box

ANNOTATIONS = Path(__file__).parent / "data" / "faces" / "faces.json"

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Scene:
    """One image (BGR, or grey) and its annotated face boxes."""

    name: str
    image: Image
    faces: tuple[Box, ...]


def _bgr(name: str) -> Image:
    image = np.asarray(getattr(skdata, name)(), dtype=np.uint8)
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def _lfw(index: int) -> Image:
    crops = np.load(Path(skdata.__file__).parent / "lfw_subset.npy")
    return np.asarray((crops[index] * 255).round(), dtype=np.uint8)


def _box(values: list[int]) -> Box:
    return Box(*(float(v) for v in values))


def scenes() -> list[Scene]:
    """Every annotated image: the photos, then the composites."""
    spec = json.loads(ANNOTATIONS.read_text(encoding="utf-8"))
    out = [
        Scene(p["name"], _bgr(p["name"]), tuple(_box(f) for f in p["faces"]))
        for p in spec["photos"]
    ]
    for c in spec["composites"]:
        width, height = c["size"]
        canvas = cv2.resize(_bgr(c["background"]), (width, height))
        boxes = []
        for face in c["faces"]:
            x0, y0, x1, y1 = face["box"]
            crop = cv2.resize(_lfw(face["lfw"]), (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
            canvas[y0:y1, x0:x1] = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
            boxes.append(_box(face["box"]))
        out.append(Scene(c["name"], canvas, tuple(boxes)))
    return out


def faceless() -> list[Scene]:
    """Images with no human face."""
    spec = json.loads(ANNOTATIONS.read_text(encoding="utf-8"))["no_faces"]
    return [Scene(name, _bgr(name), ()) for name in spec["images"]]


def moving_clip(
    path: Path, *, frames: int = 16, size: tuple[int, int] = (640, 360), fps: float = 12.0
) -> list[list[Box]]:
    """Write a clip of the two photos sliding across ``size`` and return each frame's boxes.

    The astronaut moves along the top half left to right, the cameraman along the bottom
    half right to left, both bobbing up and down; the file is Motion JPEG in an AVI.
    """
    spec = {p["name"]: p for p in json.loads(ANNOTATIONS.read_text(encoding="utf-8"))["photos"]}
    width, height = size
    side = height // 2 - 10
    background = cv2.resize(_bgr("coffee"), size)
    sprites = []
    for name in ("astronaut", "camera"):
        image = _bgr(name)
        scale = side / image.shape[0]
        sprite = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        if sprite.ndim == 2:
            sprite = cv2.cvtColor(sprite, cv2.COLOR_GRAY2BGR)
        sprites.append((sprite, [_box(f) for f in spec[name]["faces"]], scale))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    truth: list[list[Box]] = []
    # A fortieth of the photo per frame: about an eighth of the face's width.
    speed = side / 40
    for k in range(frames):
        frame = background.copy()
        boxes = []
        for row, (sprite, faces, scale) in enumerate(sprites):
            x = round(speed * k) if row == 0 else round(width - side - speed * k)
            x = min(max(x, 0), width - side)
            y = 5 + row * (height // 2) + round(4 * np.sin(k / 2))
            frame[y : y + side, x : x + side] = sprite
            boxes += [
                Box(f.x0 * scale + x, f.y0 * scale + y, f.x1 * scale + x, f.y1 * scale + y)
                for f in faces
            ]
        writer.write(frame)
        truth.append(boxes)
    writer.release()
    return truth


def jpeg_with_gps(path: Path, image: Image) -> None:
    """Write ``image`` (BGR or grey) as a JPEG carrying a camera, a time, GPS and a comment."""
    from PIL import Image as Pillow

    pixels = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    picture = Pillow.fromarray(pixels)
    exif = Pillow.Exif()
    exif[0x010F] = "ShopCam"  # Make
    exif[0x0132] = "2026:12:07 10:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    picture.save(path, format="JPEG", exif=exif, comment=b"customer 1234")
