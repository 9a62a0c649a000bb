"""Still images: read any format Pillow reads, redact faces, write with no metadata.

The output is a new image built from the pixels alone, so EXIF (camera, time, GPS),
XMP, IPTC, ICC profiles, comments and PNG text chunks are all gone. The EXIF orientation
is applied to the pixels first, so the image still shows the right way up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopveil._core.extras import from_extra
from shopveil.errors import ParameterError, SourceError
from shopveil.vision._boxes import Box
from shopveil.vision._detect import FaceDetector
from shopveil.vision._files import staged
from shopveil.vision._redact import FaceRedaction, redact_regions

with from_extra("vision"):
    import cv2
    from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageResult",
    "read_image",
    "redact_image",
    "redact_image_file",
    "redact_image_files",
]

# Pillow format -> save options. Other formats are refused, naming these.
_FORMATS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 95},
    "PNG": {},
    "WEBP": {"quality": 95},
    "BMP": {},
    "TIFF": {},
}


@dataclass(frozen=True)
class ImageResult:
    """What was done to one image."""

    source: Path
    output: Path | None
    width: int
    height: int
    faces: tuple[Box, ...]
    regions: tuple[Box, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (boxes as ``[x0, y0, x1, y1]`` pixels)."""
        return {
            "source": str(self.source),
            "output": None if self.output is None else str(self.output),
            "width": self.width,
            "height": self.height,
            "faces": [list(f.pixels(self.width, self.height)) for f in self.faces],
        }


@dataclass(frozen=True)
class _Decoded:
    pixels: npt.NDArray[np.uint8]  # BGR, or grey
    alpha: npt.NDArray[np.uint8] | None
    format: str


def read_image(path: Path) -> _Decoded:
    """Decode ``path`` into BGR (or grey) pixels, upright; refuse what is not an image."""
    try:
        with Image.open(path) as opened:
            fmt = opened.format or ""
            frames = getattr(opened, "n_frames", 1)
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder; give image files") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, UnidentifiedImageError):
            reason = "not an image Pillow can identify"
        raise SourceError(
            f"{path.name}: cannot decode the image ({reason}); give a whole JPEG, PNG, "
            "WebP, BMP or TIFF file"
        ) from None
    if fmt not in _FORMATS:
        raise SourceError(
            f"{path.name}: {fmt or 'unknown'} images are not supported; give {', '.join(_FORMATS)}"
        )
    if frames > 1:
        raise SourceError(
            f"{path.name}: has {frames} frames; redact moving images with redact-video"
        )
    alpha = None
    if image.mode in ("L", "I;16", "I", "F", "1"):
        pixels = np.asarray(image.convert("L"))
    else:
        if "A" in image.getbands():
            alpha = np.asarray(image.getchannel("A"))
        pixels = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    return _Decoded(np.ascontiguousarray(pixels), alpha, fmt)


def redact_image(
    image: npt.NDArray[np.uint8],
    detector: FaceDetector,
    policy: FaceRedaction,
) -> tuple[npt.NDArray[np.uint8], list[Box], list[Box]]:
    """Redact the faces of one BGR or grey image: ``(pixels, faces, regions)``."""
    faces = detector.detect(image)
    regions = policy.regions(faces)
    return redact_regions(image, regions, policy), faces, regions


def _encode(decoded: _Decoded, pixels: npt.NDArray[np.uint8], path: Path) -> None:
    if pixels.ndim == 2:
        image = Image.fromarray(pixels, mode="L")
    else:
        image = Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), mode="RGB")
        if decoded.alpha is not None and decoded.format != "JPEG":
            image.putalpha(Image.fromarray(decoded.alpha, mode="L"))
    # A fresh image from the pixels: no EXIF, GPS, XMP, ICC or text chunks carry over.
    image.save(path, format=decoded.format, **_FORMATS[decoded.format])


def redact_image_file(
    source: Path, target: Path, *, detector: FaceDetector, policy: FaceRedaction
) -> ImageResult:
    """Redact the faces of the image ``source`` into ``target``, in its format, without
    metadata. ``target`` is written directly: write into a staging folder or a temporary
    name and move it into place once everything succeeded."""
    image = read_image(source)
    pixels, faces, regions = redact_image(image.pixels, detector, policy)
    _encode(image, pixels, target)
    height, width = pixels.shape[:2]
    return ImageResult(source, target, width, height, tuple(faces), tuple(regions))


def redact_image_files(
    sources: list[Path],
    out_dir: Path,
    *,
    detector: FaceDetector | None = None,
    policy: FaceRedaction | None = None,
) -> list[ImageResult]:
    """Redact faces in each source and write it, without metadata, to ``out_dir``.

    Every output keeps its source's file name and format. All images are decoded and
    written to temporary files first; the outputs appear only once every one of them
    succeeded, so a corrupt file anywhere in the list leaves ``out_dir`` as it was.
    """
    detector = detector or FaceDetector()
    policy = policy or FaceRedaction()
    if not sources:
        raise ParameterError("give at least one image file to redact")
    targets = [out_dir / source.name for source in sources]
    names = [t.name for t in targets]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ParameterError(
            f"two inputs are named {twice[0]}; outputs keep the input's name, "
            "so redact them into different folders"
        )
    for source, target in zip(sources, targets, strict=True):
        if source.resolve() == target.resolve():
            raise ParameterError(
                f"-o {out_dir}: would overwrite the input {source.name}; choose another folder"
            )
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"-o {out_dir}: is a file; give a folder")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        with staged(targets) as temps:
            for source, temp, target in zip(sources, temps, targets, strict=True):
                done = redact_image_file(source, temp, detector=detector, policy=policy)
                results.append(replace(done, output=target))
    except BaseException:
        if created:
            out_dir.rmdir()
        raise
    return results
