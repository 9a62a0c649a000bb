"""``redact-image`` and ``redact-video`` on broken input: one line, exit 2, nothing written."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _good_png(path: Path) -> Path:
    Image.fromarray(np.full((40, 60, 3), 128, dtype=np.uint8)).save(path)
    return path


def _corrupt_jpeg(path: Path) -> Path:
    Image.fromarray(np.full((200, 300, 3), 90, dtype=np.uint8)).save(path, format="JPEG")
    path.write_bytes(path.read_bytes()[:300])  # the header survives, the scan does not
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_corrupt_jpeg, "cannot decode the image"),
        (lambda p: (p.write_text("order_id,email\n1,a@b.c\n"), p)[1], "not an image"),
    ],
    ids=["corrupt-jpeg", "csv-named-jpg"],
)
def test_a_bad_image_in_the_list_writes_nothing(tmp_path: Path, make, expected: str) -> None:
    good = _good_png(tmp_path / "good.png")
    bad = make(tmp_path / "bad.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "good.png").write_bytes(b"previous")
    line = _one_line_error(["redact-image", str(good), str(bad), "-o", str(out)])
    assert expected in line and "bad.jpg" in line
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]
    assert (out / "good.png").read_bytes() == b"previous"


def test_a_new_output_folder_is_not_left_behind(tmp_path: Path) -> None:
    bad = _corrupt_jpeg(tmp_path / "bad.jpg")
    _one_line_error(["redact-image", str(bad), "-o", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()


def _mjpeg_avi(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 5, (64, 48))
    for k in range(3):
        writer.write(np.full((48, 64, 3), 40 * k, dtype=np.uint8))
    writer.release()
    return path


def _unknown_codec(path: Path) -> Path:
    # A real AVI whose stream claims a codec no decoder knows.
    _mjpeg_avi(path)
    path.write_bytes(path.read_bytes().replace(b"MJPG", b"QQQQ"))
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_unknown_codec, "codec with no decoder here"),
        (
            lambda p: (p.write_bytes(b"\x00\x01not a video" * 100), p)[1],
            "cannot open it as a video",
        ),
    ],
    ids=["unknown-codec", "not-a-video"],
)
def test_a_bad_video_writes_nothing(tmp_path: Path, make, expected: str) -> None:
    source = make(tmp_path / "in.avi")
    output = tmp_path / "out.mp4"
    line = _one_line_error(["redact-video", str(source), "-o", str(output)])
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]


def test_an_unknown_output_type_is_refused_before_any_work(tmp_path: Path) -> None:
    source = _mjpeg_avi(tmp_path / "in.avi")
    line = _one_line_error(["redact-video", str(source), "-o", str(tmp_path / "out.gif")])
    assert "--output" in line or "-o out.gif" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]


def test_a_small_video_goes_through_the_command(tmp_path: Path) -> None:
    source = _mjpeg_avi(tmp_path / "in.avi")
    result = runner.invoke(
        app, ["redact-video", str(source), "-o", str(tmp_path / "out.mp4"), "--json"]
    )
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    capture.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi", "out.mp4"]


def test_detecting_less_often_than_tracking_bridges_is_refused(tmp_path: Path) -> None:
    source = _mjpeg_avi(tmp_path / "in.avi")
    args = ["redact-video", str(source), "-o", str(tmp_path / "out.mp4"), "--detect-every"]
    line = _one_line_error([*args, "17"])
    assert "--detect-every 17" in line and "16" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]
