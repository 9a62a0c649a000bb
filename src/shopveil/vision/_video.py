"""Video: detect faces in every frame, track them, and write the redacted frames.

Two passes over the file: the first detects faces in every frame and keeps only the
boxes; tracking then fills the frames between detections and carries each face a few
frames past its first and last detection; the second pass decodes the frames again,
redacts them and encodes them into a temporary file, renamed onto the output at the end.
Memory stays one frame, whatever the length of the video.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopveil._core.extras import from_extra
from shopveil.errors import ParameterError, SinkError, SourceError
from shopveil.vision._boxes import Box
from shopveil.vision._detect import FaceDetector
from shopveil.vision._files import staged
from shopveil.vision._redact import FaceRedaction, redact_regions
from shopveil.vision._track import TrackingConfig, track_faces

with from_extra("vision"):
    import cv2

__all__ = ["VIDEO_CODECS", "Progress", "VideoResult", "redact_video"]

# Output suffix -> the FOURCC it is encoded with (both ship in OpenCV's wheel).
VIDEO_CODECS: dict[str, str] = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, frames_done, frames_total)``; stage is detect or redact."""


@dataclass(frozen=True)
class VideoResult:
    """What was done to one video."""

    source: Path
    output: Path
    fps: float
    width: int
    height: int
    detections: tuple[tuple[Box, ...], ...]
    """Per frame, the faces the detector found."""
    regions: tuple[tuple[Box, ...], ...]
    """Per frame, the regions redacted (detections and tracked boxes, with the margin)."""

    @property
    def frames(self) -> int:
        """Frames written."""
        return len(self.regions)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "source": str(self.source),
            "output": str(self.output),
            "frames": self.frames,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "frames_with_detections": sum(1 for d in self.detections if d),
            "frames_redacted": sum(1 for r in self.regions if r),
            "faces_detected": sum(len(d) for d in self.detections),
        }


def _fourcc_name(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if code and text.isprintable() else "unknown"


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a folder; give a video file")
    # OpenCV and its FFmpeg print their own lines on stderr for a file they cannot
    # open; the error below says it once. OPENCV_FFMPEG_LOGLEVEL is read at each open.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(str(path))
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not capture.isOpened():
        raise SourceError(
            f"{path.name}: cannot open it as a video (not a video, or a container or "
            "codec with no decoder here); give an MP4, AVI or MOV file in H.264, "
            "MPEG-4 or Motion JPEG"
        )
    return capture


def redact_video(
    source: Path,
    output: Path,
    *,
    detector: FaceDetector | None = None,
    policy: FaceRedaction | None = None,
    tracking: TrackingConfig | None = None,
    progress: Progress | None = None,
    detect_every: int = 1,
) -> VideoResult:
    """Redact every face in every frame of ``source`` into ``output``.

    Faces are detected in every frame, or in one frame in ``detect_every`` (faster; the
    tracking then carries them across the frames in between, so ``detect_every`` must
    stay within the tracking's ``max_gap``).

    The output's suffix picks its codec (:data:`VIDEO_CODECS`); it keeps the source's
    size and frame rate, and has no audio track. Nothing is written unless every frame
    decoded and encoded.
    """
    detector = detector or FaceDetector()
    policy = policy or FaceRedaction()
    tracking = tracking or TrackingConfig()
    if not 1 <= detect_every <= tracking.max_gap + 1:
        raise ParameterError(
            f"--detect-every {detect_every}: use 1 (every frame) up to "
            f"{tracking.max_gap + 1}, the longest gap tracking bridges"
        )
    codec = VIDEO_CODECS.get(output.suffix.lower())
    if codec is None:
        raise ParameterError(
            f"-o {output.name}: unsupported video type {output.suffix or '(none)'!r}; "
            f"end the name with {', '.join(VIDEO_CODECS)}"
        )
    if output.exists() and output.resolve() == source.resolve():
        raise ParameterError(f"-o {output}: would overwrite the input; choose another file")
    if not output.parent.is_dir():
        raise ParameterError(f"-o {output}: the folder {output.parent} does not exist")

    capture = _open(source)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        fps = fps if math.isfinite(fps) and fps > 0 else 25.0
        estimate = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        detections: list[list[Box]] = []
        size: tuple[int, int] | None = None
        last: npt.NDArray[np.uint8] | None = None
        while True:
            ok, decoded = capture.read()
            if not ok:
                break
            frame = np.asarray(decoded, dtype=np.uint8)
            size = size or (frame.shape[1], frame.shape[0])
            index = len(detections)
            detections.append(detector.detect(frame) if index % detect_every == 0 else [])
            last = frame
            if progress:
                progress("detect", len(detections), max(estimate, len(detections)))
        if last is not None and (len(detections) - 1) % detect_every:
            # The last frame is always searched, so tracks reach the end of the video.
            detections[-1] = detector.detect(last)
        if size is None:
            raise SourceError(
                f"{source.name}: no frame could be decoded (codec {_fourcc_name(capture)!r} "
                "is not supported, or the file is damaged); give H.264, MPEG-4 or Motion JPEG"
            )
    finally:
        capture.release()

    tracked = track_faces(detections, tracking)
    regions = [policy.regions(boxes) for boxes in tracked]
    width, height = size
    with staged([output]) as (temp,):
        writer = cv2.VideoWriter(str(temp), cv2.VideoWriter.fourcc(*codec), fps, size)
        if not writer.isOpened():
            raise SinkError(f"-o {output.name}: the {codec} encoder cannot write here")
        capture = _open(source)
        try:
            for index, frame_regions in enumerate(regions):
                ok, decoded = capture.read()
                if not ok or (decoded.shape[1], decoded.shape[0]) != size:
                    raise SourceError(
                        f"{source.name}: frame {index} did not decode the same way twice; "
                        "the file is damaged"
                    )
                frame = np.asarray(decoded, dtype=np.uint8)
                writer.write(redact_regions(frame, frame_regions, policy))
                if progress:
                    progress("redact", index + 1, len(regions))
        finally:
            capture.release()
            writer.release()
    return VideoResult(
        source,
        output,
        fps,
        width,
        height,
        tuple(tuple(d) for d in detections),
        tuple(tuple(r) for r in regions),
    )
