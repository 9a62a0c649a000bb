"""Faces in store images and video: detected, tracked and redacted; metadata stripped.

Faces are found by the Haar cascades OpenCV ships in its wheel (no model download),
followed across video frames so a frame the detector misses is still covered, and
blurred, pixelated or filled with a margin (:class:`RedactionMethod`). Images are written
from their pixels alone, so EXIF, GPS and every other metadata block is dropped. Needs
the ``vision`` extra: ``pip install 'shopveil[vision]'``.
"""

from __future__ import annotations

from shopveil.vision._boxes import Box, coverage, region_mask
from shopveil.vision._detect import DetectorConfig, FaceDetector
from shopveil.vision._image import (
    ImageResult,
    read_image,
    redact_image,
    redact_image_file,
    redact_image_files,
)
from shopveil.vision._redact import FaceRedaction, RedactionMethod, redact_regions
from shopveil.vision._track import TrackingConfig, track_faces
from shopveil.vision._video import VIDEO_CODECS, VideoResult, redact_video

__all__ = [
    "VIDEO_CODECS",
    "Box",
    "DetectorConfig",
    "FaceDetector",
    "FaceRedaction",
    "ImageResult",
    "RedactionMethod",
    "TrackingConfig",
    "VideoResult",
    "coverage",
    "read_image",
    "redact_image",
    "redact_image_file",
    "redact_image_files",
    "redact_regions",
    "redact_video",
    "region_mask",
    "track_faces",
]
