"""``shopveil anonymize`` on a table of support chats with photos, under the example
policy ``docs/examples/support_chats.yaml``: the PII in the messages is replaced by
consistent fakes, the faces in the photos are covered and their metadata gone, and a
corrupt photo stops the run with one line and nothing written."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from _faces import jpeg_with_gps, scenes
from shopveil.vision import coverage

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "support_chats.yaml"
# (chat, message, photo) and the raw PII each message holds.
CHATS = [
    (
        "c1",
        "Hi, I'm Maria Gonzalez, my card 4111 1111 1111 1111 was charged twice. "
        "Call me on +44 20 7946 0958.",
        "photos/astronaut.png",
        ["Maria", "Gonzalez", "4111 1111 1111 1111", "7946 0958"],
    ),
    (
        "c1",
        "Maria again: please send it to 12 Baker Street, London NW1 6XE.",
        "photos/camera.png",
        ["Maria", "12 Baker Street", "NW1 6XE"],
    ),
    (
        "c2",
        "This is John Smith, email john.smith@example.org, from the store in Lyon.",
        "photos/gps.jpg",
        ["John", "Smith", "john.smith@example.org", "Lyon"],
    ),
    ("c2", "Thanks, that was all.", "", []),
]


def _table(folder: Path, photos: list[str]) -> Path:
    path = folder / "chats.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["chat_id", "message", "photo"])
        for (chat, message, _, _), photo in zip(CHATS, photos, strict=True):
            writer.writerow([chat, message, photo])
    return path


def _policy(folder: Path) -> Path:
    # Filled faces (black) instead of blurred ones, so coverage can be read off the pixels.
    text = EXAMPLE.read_text(encoding="utf-8").replace("method: blur", "method: fill")
    path = folder / "support_chats.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _anonymize(table: Path, output: Path, policy: Path) -> tuple[int, str]:
    result = runner.invoke(
        app, ["anonymize", str(table), "-o", str(output), "--policy", str(policy)]
    )
    return result.exit_code, result.stderr or result.output


def test_chats_and_photos_come_out_without_pii_or_faces(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "photos").mkdir(parents=True)
    astronaut, camera = scenes()[:2]
    cv2.imwrite(str(data / "photos" / "astronaut.png"), astronaut.image)
    cv2.imwrite(str(data / "photos" / "camera.png"), camera.image)
    jpeg_with_gps(data / "photos" / "gps.jpg", astronaut.image)
    table = _table(data, [photo for _, _, photo, _ in CHATS])
    output = tmp_path / "out" / "released.csv"
    output.parent.mkdir()

    code, errors = _anonymize(table, output, _policy(tmp_path))

    assert code == 0, errors
    with output.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    messages = [row["message"] for row in rows]
    for message, (_, _, _, pii) in zip(messages, CHATS, strict=True):
        assert [value for value in pii if value in message] == [], message
    assert messages[3] == CHATS[3][1]  # nothing personal: unchanged
    # The same customer, the same fake first name, in the next message of the chat.
    fake_first = messages[0].split("I'm ")[1].split()[0]
    assert messages[1].startswith(f"{fake_first} again")
    # Each photo redacted into the folder beside the release, under a new name.
    photos = [row["photo"] for row in rows]
    assert photos[:3] == [
        "released.csv.images/000001.png",
        "released.csv.images/000002.png",
        "released.csv.images/000003.jpg",
    ]
    assert photos[3] == ""
    for photo, scene in zip(photos[:2], (astronaut, camera), strict=True):
        before = scene.image if scene.image.ndim == 3 else cv2.merge([scene.image] * 3)
        after = cv2.imread(str(output.parent / photo))
        for face in scene.faces:
            assert coverage(face, (before == 0).all(axis=2)) < 0.1  # not black to begin with
            assert coverage(face, (after == 0).all(axis=2)) >= 0.9
    redacted_jpeg = output.parent / photos[2]
    with Image.open(redacted_jpeg) as image:
        assert not image.getexif() and "comment" not in image.info
        dark = (np.asarray(image.convert("L")) < 16).astype(bool)
    assert coverage(astronaut.faces[0], dark) >= 0.9  # JPEG leaves the fill nearly black
    assert b"Exif" not in redacted_jpeg.read_bytes()[:4096]


def test_a_corrupt_photo_stops_the_run_with_one_line_and_nothing_written(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "photos").mkdir(parents=True)
    cv2.imwrite(str(data / "photos" / "astronaut.png"), scenes()[0].image)
    (data / "photos" / "maria_gonzalez.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    photos = ["photos/astronaut.png", "photos/maria_gonzalez.jpg", "", ""]
    table = _table(data, photos)
    before = sorted(p.name for p in data.rglob("*"))

    code, errors = _anonymize(table, data / "released.csv", _policy(tmp_path))

    lines = errors.strip().splitlines()
    assert code == 2 and len(lines) == 1, errors
    assert "'photo', row 2" in lines[0] and "maria" not in lines[0].lower()
    assert sorted(p.name for p in data.rglob("*")) == before  # no table, no images
