"""Tracking covers the frames a face detector misses; redaction stays inside its regions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil.errors import ParameterError
from shopveil.vision import (
    Box,
    FaceRedaction,
    RedactionMethod,
    TrackingConfig,
    coverage,
    redact_regions,
    region_mask,
    track_faces,
)

WIDTH, HEIGHT = 640, 360


def _walk(frames: int, speed: tuple[float, float], side: float) -> list[Box]:
    """A face moving at constant speed, one true box per frame."""
    return [
        Box(
            20 + speed[0] * k, 40 + speed[1] * k, 20 + speed[0] * k + side, 40 + speed[1] * k + side
        )
        for k in range(frames)
    ]


def _worst_coverage(truth: list[Box], regions: list[list[Box]]) -> float:
    return min(
        coverage(box, region_mask(frame, WIDTH, HEIGHT))
        for box, frame in zip(truth, regions, strict=True)
    )


@given(
    # Up to a tenth of the face's size per frame: across its own width in a third of a
    # second at 30 frames per second.
    speed=st.tuples(st.floats(-0.1, 0.1), st.floats(-0.05, 0.05)),
    side=st.floats(30, 90),
    seen=st.lists(st.booleans(), min_size=30, max_size=30),
)
def test_a_missed_frame_between_detections_is_still_covered(
    speed: tuple[float, float], side: float, seen: list[bool]
) -> None:
    # The detector sees the face on the first and last frame and then at least once in
    # every run of max_gap frames; each frame it misses must still be redacted.
    config = TrackingConfig()
    seen = [True, *seen, True]
    run = 0
    for k, hit in enumerate(seen):
        run = 0 if hit else run + 1
        if run > config.max_gap:
            seen[k] = True
            run = 0
    truth = _walk(len(seen), (speed[0] * side, speed[1] * side), side)
    detections = [[box] if hit else [] for box, hit in zip(truth, seen, strict=True)]
    policy = FaceRedaction()
    regions = [policy.regions(boxes) for boxes in track_faces(detections, config)]
    assert _worst_coverage(truth, regions) >= 0.9


def test_without_tracking_the_missed_frames_let_the_face_through() -> None:
    # The same walk with every other detection missing: tracking off leaves frames bare.
    truth = _walk(20, (5.0, 1.0), 60)
    detections = [[box] if k % 2 == 0 else [] for k, box in enumerate(truth)]
    policy = FaceRedaction()
    off = TrackingConfig(max_gap=0, extend=0)
    bare = [policy.regions(b) for b in track_faces(detections, off)]
    assert _worst_coverage(truth, bare) == 0.0
    tracked = [policy.regions(b) for b in track_faces(detections, TrackingConfig())]
    assert _worst_coverage(truth, tracked) >= 0.9


def test_a_face_is_carried_past_its_last_detection() -> None:
    truth = _walk(12, (6.0, 0.0), 50)
    detections = [[box] if k < 8 else [] for k, box in enumerate(truth)]
    regions = [
        FaceRedaction().regions(b) for b in track_faces(detections, TrackingConfig(extend=4))
    ]
    assert _worst_coverage(truth, regions) >= 0.9


def test_two_faces_keep_their_own_tracks() -> None:
    left, right = _walk(10, (3.0, 0.0), 50), _walk(10, (-3.0, 0.0), 50)
    right = [b.shift(400, 150) for b in right]
    detections = [
        [a, b] if k % 3 == 0 else [] for k, (a, b) in enumerate(zip(left, right, strict=True))
    ]
    tracked = track_faces(detections, TrackingConfig())
    policy = FaceRedaction()
    regions = [policy.regions(b) for b in tracked]
    assert _worst_coverage(left, regions) >= 0.9
    assert _worst_coverage(right, regions) >= 0.9
    # No box drifts between the two faces.
    assert all(len(frame) == 2 for frame in tracked[:9])


@pytest.mark.parametrize("method", list(RedactionMethod))
def test_each_method_changes_the_region_and_nothing_else(method: RedactionMethod) -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    region = Box(30, 20, 90, 100)
    out = redact_regions(image, [region], FaceRedaction(method=method, fill=(255, 0, 255)))
    inside = region_mask([region], 160, 120)
    changed = (out != image).any(axis=2)
    assert not changed[~inside].any()
    assert changed[inside].mean() > 0.95
    # Little of the face's detail is left: the region's variance falls by most of it.
    before = image[inside].astype(float).std(axis=0).mean()
    assert out[inside].astype(float).std(axis=0).mean() < 0.5 * before


def test_fill_paints_the_colour_given_as_rgb() -> None:
    image = np.zeros((10, 10, 3), dtype=np.uint8)
    out = redact_regions(
        image, [Box(0, 0, 10, 10)], FaceRedaction(method=RedactionMethod.FILL, fill=(255, 10, 0))
    )
    assert out[5, 5].tolist() == [0, 10, 255]  # BGR


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: FaceRedaction(margin=-0.1), "margin=-0.1"),
        (lambda: FaceRedaction(method="blur"), "method='blur'"),  # type: ignore[arg-type]
        (lambda: FaceRedaction(blocks=1), "blocks=1"),
        (lambda: TrackingConfig(max_gap=-1), "max_gap=-1"),
    ],
)
def test_bad_settings_name_the_parameter(make: object, named: str) -> None:
    with pytest.raises(ParameterError, match=named):
        make()  # type: ignore[operator]
