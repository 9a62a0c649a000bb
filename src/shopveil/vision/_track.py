"""Faces followed across video frames, so a frame the detector misses is still covered.

Detections are linked frame to frame into tracks (overlap with the track's predicted
box, or a centre within half a face of it). Inside a track, frames between two
detections get the box interpolated between them; before its first and after its last
detection, the box is carried on at the track's speed for ``extend`` frames, growing as
it goes. A frame's regions are then every detection and every track box on it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from shopveil.errors import ParameterError
from shopveil.vision._boxes import Box

__all__ = ["TrackingConfig", "track_faces"]


@dataclass(frozen=True)
class TrackingConfig:
    """How faces are carried between detections.

    Parameters
    ----------
    max_gap
        Frames without a detection that a track bridges (interpolating the box).
    extend
        Frames a track is carried before its first and after its last detection.
    min_iou
        Overlap with a track's predicted box that links a detection to it.
    growth
        Fraction of its size a carried box grows per frame it is carried.
    max_speed
        Fastest a face is assumed to move, as a fraction of its size per frame: a
        detection that overlaps no track still joins one whose predicted centre is
        within half a face plus this much per frame since the track was last seen.
    """

    max_gap: int = 15
    extend: int = 5
    min_iou: float = 0.1
    growth: float = 0.02
    max_speed: float = 0.15

    def __post_init__(self) -> None:
        if self.max_gap < 0:
            raise ParameterError(f"max_gap={self.max_gap}: use 0 or more frames")
        if self.extend < 0:
            raise ParameterError(f"extend={self.extend}: use 0 or more frames")
        if not 0.0 <= self.min_iou <= 1.0:
            raise ParameterError(f"min_iou={self.min_iou}: use a value between 0 and 1")
        if not 0.0 <= self.growth <= 0.5:
            raise ParameterError(f"growth={self.growth}: use a fraction between 0 and 0.5")
        if not 0.0 <= self.max_speed <= 1.0:
            raise ParameterError(f"max_speed={self.max_speed}: use a fraction between 0 and 1")


@dataclass
class _Track:
    seen: dict[int, Box] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return max(self.seen)

    def velocity(self, at_end: bool) -> tuple[float, float]:
        frames = sorted(self.seen)
        if len(frames) < 2:
            return 0.0, 0.0
        a, b = (frames[-2], frames[-1]) if at_end else (frames[0], frames[1])
        ca, cb = _centre(self.seen[a]), _centre(self.seen[b])
        return (cb[0] - ca[0]) / (b - a), (cb[1] - ca[1]) / (b - a)

    def predict(self, frame: int) -> Box:
        vx, vy = self.velocity(at_end=True)
        steps = frame - self.last
        return self.seen[self.last].shift(vx * steps, vy * steps)


def _centre(box: Box) -> tuple[float, float]:
    return (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2


def _near(a: Box, b: Box, gap: int, config: TrackingConfig) -> float:
    """How well ``a``, predicted ``gap`` frames on, matches ``b`` (0: not at all)."""
    overlap = a.iou(b)
    if overlap >= config.min_iou:
        return 1.0 + overlap
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    reach = max(a.width, a.height, b.width, b.height) * (0.5 + config.max_speed * gap)
    distance = ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5
    return 1.0 - distance / reach if distance < reach else 0.0


def _link(detections: list[list[Box]], config: TrackingConfig) -> list[_Track]:
    tracks: list[_Track] = []
    for frame, boxes in enumerate(detections):
        live = [t for t in tracks if frame - t.last <= config.max_gap + 1]
        pairs = sorted(
            (
                (score, ti, bi)
                for ti, track in enumerate(live)
                for bi, box in enumerate(boxes)
                if (score := _near(track.predict(frame), box, frame - track.last, config)) > 0
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for _, ti, bi in pairs:
            if ti in used_tracks or bi in used_boxes:
                continue
            live[ti].seen[frame] = boxes[bi]
            used_tracks.add(ti)
            used_boxes.add(bi)
        tracks += [_Track({frame: box}) for bi, box in enumerate(boxes) if bi not in used_boxes]
    return tracks


def track_faces(detections: list[list[Box]], config: TrackingConfig) -> list[list[Box]]:
    """Per frame, the boxes to redact: detections plus tracked boxes between them."""
    frames = len(detections)
    out: list[list[Box]] = [list(boxes) for boxes in detections]
    for track in _link(detections, config):
        seen = sorted(track.seen)
        for a, b in itertools.pairwise(seen):
            for frame in range(a + 1, b):
                # Between two detections the box grows as if carried from the nearer one.
                t = (frame - a) / (b - a)
                grow = config.growth * min(frame - a, b - frame)
                out[frame].append(track.seen[a].lerp(track.seen[b], t).expand(grow))
        for end, step in ((seen[0], -1), (seen[-1], 1)):
            vx, vy = track.velocity(at_end=step > 0)
            box = track.seen[end]
            for k in range(1, config.extend + 1):
                frame = end + step * k
                if not 0 <= frame < frames:
                    break
                carried = box.shift(vx * step * k, vy * step * k)
                out[frame].append(carried.expand(config.growth * k))
    return out
