"""Faces in the annotated images and in a moving clip are redacted; metadata is gone.

The images and their hand-made boxes are in ``tests/data/faces`` (``_faces``); the real
Haar detector runs on them, and coverage is measured on the pixels that came out.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from _faces import Scene, faceless, jpeg_with_gps, moving_clip, scenes
from shopveil.vision import (
    Box,
    FaceDetector,
    FaceRedaction,
    RedactionMethod,
    TrackingConfig,
    VideoResult,
    coverage,
    redact_image,
    redact_video,
    region_mask,
    track_faces,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
MAGENTA = (255, 0, 255)
FILL = FaceRedaction(method=RedactionMethod.FILL, fill=MAGENTA)


def _painted(image: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Where ``image`` (BGR) shows the fill colour."""
    return np.abs(image.astype(int) - [255, 0, 255]).max(axis=2) <= tolerance


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    diff = before != after
    return diff if diff.ndim == 2 else diff.any(axis=2)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.mark.parametrize("scene", scenes(), ids=lambda s: s.name)
def test_every_annotated_face_is_covered(scene: Scene, detector: FaceDetector) -> None:
    image = scene.image if scene.image.ndim == 3 else cv2.cvtColor(scene.image, cv2.COLOR_GRAY2BGR)
    out, _, _ = redact_image(image, detector, FILL)
    painted = _painted(out)
    for face in scene.faces:
        assert coverage(face, painted) >= 0.9, (scene.name, face)
    # What changed outside the faces is the margin and any false alarm: bounded.
    outside = ~region_mask(list(scene.faces), image.shape[1], image.shape[0])
    assert _changed(image, out)[outside].mean() < 0.6


@pytest.mark.parametrize("scene", faceless(), ids=lambda s: s.name)
def test_images_without_faces_are_left_alone(scene: Scene, detector: FaceDetector) -> None:
    out, faces, _ = redact_image(scene.image, detector, FILL)
    # A false alarm (the cat's face is one) costs its box: at most a few per image.
    assert _changed(scene.image, out).mean() < 0.15, faces


def test_redact_image_strips_exif_and_gps(tmp_path: Path) -> None:
    source = tmp_path / "in" / "astronaut.jpg"
    source.parent.mkdir()
    jpeg_with_gps(source, scenes()[0].image)
    with Image.open(source) as before:
        assert before.getexif().get_ifd(0x8825)  # the test image does carry GPS
    result = runner.invoke(
        app, ["redact-image", str(source), "-o", str(tmp_path / "out"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"][0]["faces"]
    output = tmp_path / "out" / "astronaut.jpg"
    with Image.open(output) as after:
        assert after.format == "JPEG"
        assert not after.getexif()
        assert not after.getexif().get_ifd(0x8825)
        assert "exif" not in after.info and "comment" not in after.info
        assert b"Exif" not in output.read_bytes()[:4096]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[list[Box]], VideoResult, Path]:
    folder = tmp_path_factory.mktemp("clip")
    truth = moving_clip(folder / "shoppers.avi")
    result = redact_video(folder / "shoppers.avi", folder / "redacted.avi", policy=FILL)
    return truth, result, folder / "redacted.avi"


def test_no_frame_of_the_clip_shows_a_face(
    clip: tuple[list[list[Box]], VideoResult, Path],
) -> None:
    truth, result, output = clip
    capture = cv2.VideoCapture(str(output))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    assert len(frames) == len(truth) == result.frames
    for index, (frame, boxes) in enumerate(zip(frames, truth, strict=True)):
        painted = _painted(frame, tolerance=60)  # Motion JPEG blurs the fill's edges
        for box in boxes:
            assert coverage(box, painted) >= 0.9, (index, box)


def test_tracking_covers_the_frames_the_detector_missed(
    clip: tuple[list[list[Box]], VideoResult, Path],
) -> None:
    # The clip's real detections with two frames in three thrown away: tracked, every
    # face is still covered; untracked, the thrown-away frames show the faces.
    truth, result, _ = clip
    sparse = [list(d) if k % 3 == 0 else [] for k, d in enumerate(result.detections)]
    width, height = result.width, result.height

    def worst(config: TrackingConfig) -> float:
        tracked = track_faces(sparse, config)
        return min(
            coverage(box, region_mask(FILL.regions(regions), width, height))
            for regions, boxes in zip(tracked, truth, strict=True)
            for box in boxes
        )

    assert worst(TrackingConfig()) >= 0.9
    assert worst(TrackingConfig(max_gap=0, extend=0)) == 0.0


def test_detecting_one_frame_in_three_still_shows_no_face(tmp_path: Path) -> None:
    truth = moving_clip(tmp_path / "shoppers.avi")
    result = redact_video(
        tmp_path / "shoppers.avi", tmp_path / "redacted.avi", policy=FILL, detect_every=3
    )
    assert sum(1 for d in result.detections if d) <= len(truth) // 3 + 2
    capture = cv2.VideoCapture(str(tmp_path / "redacted.avi"))
    index = 0
    while (read := capture.read())[0]:
        painted = _painted(read[1], tolerance=60)
        for box in truth[index]:
            assert coverage(box, painted) >= 0.9, (index, box)
        index += 1
    capture.release()
    assert index == len(truth)
