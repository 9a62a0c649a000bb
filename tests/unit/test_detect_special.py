"""Special categories are found by their column names and by their values.

Health or religion columns were not detected at all: a policy's rules for sensitive
columns could not apply to them, so every preset released them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from shopveil._core import ColumnClass, Kind
from shopveil._core.classes import SPECIAL_KINDS
from shopveil.detect import scan_table

N = 200
RNG = np.random.default_rng(5)


def _pick(values: list[str]) -> list[str]:
    return [values[i] for i in RNG.integers(0, len(values), N)]


RELIGIONS = _pick(["Christian", "Muslim", "Jewish", "Hindu", "Atheist", "Buddhist"])
CONDITIONS = _pick(["asthma", "diabetes", "coeliac disease", "epilepsy"])
ETHNIC = _pick(["White", "Black", "Asian", "Mixed", "Hispanic"])
ORIENTATIONS = _pick(["straight", "gay", "bisexual", "lesbian"])
COORDINATES = [f"{lat:.5f},{lon:.5f}" for lat, lon in RNG.uniform(-60, 60, (N, 2))]
HEX = [f"{int(v):016x}" for v in RNG.integers(0, 2**62, N)]


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        # By name: what a shop's CRM or loyalty export calls them.
        ("health_notes", _pick(["fine", "see file", "n/a"]), Kind.HEALTH),
        ("medical_condition", _pick(["a", "b", "c"]), Kind.HEALTH),
        ("allergies", _pick(["nuts", "none", "milk"]), Kind.HEALTH),
        ("religion", _pick(["A", "B"]), Kind.RELIGION),
        ("ethnic_origin", _pick(["A", "B"]), Kind.ETHNICITY),
        ("sexual_orientation", _pick(["A", "B"]), Kind.SEX_LIFE),
        ("face_embedding", HEX, Kind.BIOMETRIC),
        ("fingerprint_template", HEX, Kind.BIOMETRIC),
        ("latitude", [str(v) for v in RNG.uniform(-60, 60, N)], Kind.PRECISE_LOCATION),
        # By value, under names that say nothing.
        ("attribute_7", RELIGIONS, Kind.RELIGION),
        ("segment_b", CONDITIONS, Kind.HEALTH),
        ("group_c", ETHNIC, Kind.ETHNICITY),
        ("field_d", ORIENTATIONS, Kind.SEX_LIFE),
        ("last_seen", COORDINATES, Kind.PRECISE_LOCATION),
    ],
)
def test_special_categories_are_sensitive_columns_of_their_kind(
    name: str, values: list[str], kind: Kind
) -> None:
    finding = scan_table(pa.table({name: values})).columns[0]
    assert (finding.kind, finding.column_class) == (kind, ColumnClass.SENSITIVE), finding
    assert finding.kind in SPECIAL_KINDS


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        # A browser fingerprint identifies a device, not a body.
        ("fingerprint", HEX, Kind.DEVICE_ID),
        # Colours share words with ethnic groups; a product's colour is not personal.
        ("colour", _pick(["white", "black", "red", "blue"]), Kind.PRODUCT),
        ("shade", _pick(["white", "black", "red", "blue", "green"]), Kind.UNKNOWN),
        # A page's orientation in a clickstream is not a person's.
        ("screen_orientation", _pick(["portrait", "landscape"]), Kind.UNKNOWN),
        # A product called after a designer is not a religion.
        ("description", _pick(["Christian Dior scarf", "Hindu lamp", "Jewish cookbook"]),
         Kind.PRODUCT),
    ],
)  # fmt: skip
def test_look_alikes_are_not_special_categories(name: str, values: list[str], kind: Kind) -> None:
    finding = scan_table(pa.table({name: values})).columns[0]
    assert finding.kind is kind, finding
    assert finding.kind not in SPECIAL_KINDS


def test_evidence_names_the_check_never_a_value() -> None:
    finding = scan_table(pa.table({"attribute_7": RELIGIONS})).columns[0]
    assert finding.evidence == ("100% of 200 sampled values are religions or beliefs",)
    assert not any(v.lower() in " ".join(finding.evidence).lower() for v in set(RELIGIONS))
