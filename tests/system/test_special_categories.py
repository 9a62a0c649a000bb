"""Special categories: dropped by every preset, released only on each customer's consent.

Generated customers and sessions carry a health condition, a religion, an ethnic group and
precise locations, under names a CRM export uses. Under every preset and purpose the
release drops them; a policy that keeps one for a purpose must declare the consent the
law asks (GDPR Art. 9(2)(a), LGPD Art. 11 I, PIPL Art. 29; CCPA: the right to limit,
1798.121), and the release then holds only the customers the consent register allows.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from shopveil._core.subjects import canonical_id
from shopveil.data import generate_retail, read_table
from shopveil.errors import PolicyError
from shopveil.pipeline import anonymize_file

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
LAWS = ("gdpr", "ccpa", "lgpd", "pipl")
SPECIAL = ("health_condition", "religion", "ethnicity", "home_gps")


@lru_cache(maxsize=1)
def _tables() -> dict[str, pa.Table]:
    data = generate_retail(300, seed=5)
    rng = np.random.default_rng(5)
    customers = data.tables["customers"]  # all adults: minors are tested elsewhere
    n = customers.num_rows

    def pick(values: list[str], size: int) -> pa.Array:
        return pa.array([values[i] for i in rng.integers(0, len(values), size)])

    coordinates = [f"{a:.5f},{b:.5f}" for a, b in rng.uniform(-60, 60, (n, 2))]
    customers = (
        customers.append_column("health_condition", pick(["asthma", "diabetes", "none"], n))
        .append_column("religion", pick(["Christian", "Muslim", "Jewish", "Atheist"], n))
        .append_column("ethnicity", pick(["White", "Black", "Asian", "Mixed"], n))
        .append_column("home_gps", pa.array(coordinates))
    )
    sessions = data.tables["sessions"]
    visits = [f"{a:.5f} {b:.5f}" for a, b in rng.uniform(-60, 60, (sessions.num_rows, 2))]
    sessions = sessions.append_column("latitude_longitude", pa.array(visits))
    return {"customers": customers, "sessions": sessions}


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, object]:
    """The tables on disk, the customers registered, and consent to special categories
    recorded: 40 grants, 20 refusals, the rest no record."""
    for name, table in _tables().items():
        pacsv.write_csv(table, tmp_path / f"{name}.csv")
    ids = [canonical_id(v) for v in _tables()["customers"].column("customer_id").to_pylist()]
    granted, refused = set(ids[:40]), set(ids[40:60])
    lines = ["customer,purpose,status,date"]
    lines += [f"{c},sensitive_data,granted,2011-02-01" for c in sorted(granted)]
    lines += [f"{c},sensitive_data,refused,2011-02-01" for c in sorted(refused)]
    lines += [f"{c},analytics,granted,2011-02-01" for c in ids]  # PIPL asks it too
    (tmp_path / "consent.csv").write_text("\n".join(lines) + "\n")
    _ok("data", "add", "customers", str(tmp_path / "customers.csv"), "--unit", "customer_id")
    _ok("consent", "import", str(tmp_path / "consent.csv"))
    return {"dir": tmp_path, "ids": set(ids), "granted": granted, "refused": refused}


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize(
    ("table", "purpose", "role"),
    [
        ("customers", "analytics", None),
        ("customers", "marketing", None),
        ("customers", "support", "support_agent"),
        ("customers", "fulfilment", "admin"),
        ("sessions", "analytics", "admin"),
    ],
)
def test_every_preset_drops_special_categories_for_every_purpose(
    shop: dict[str, object], law: str, table: str, purpose: str, role: str | None
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    out = folder / f"{table}-{law}-{purpose}.csv"
    people = folder / "customers.csv"  # the ages of the sessions' customers
    result = anonymize_file(
        folder / f"{table}.csv", out, policy=law, purpose=purpose, role=role, people=people
    )
    special = [s for s in result.plan.steps if s.column in (*SPECIAL, "latitude_longitude")]
    assert special and all(s.dropped for s in special), [(s.column, s.kind) for s in special]
    assert {s.kind.value for s in special} <= {"health", "religion", "ethnicity",
                                                "precise_location"}  # fmt: skip
    assert not set(read_table(out).column_names) & {*SPECIAL, "latitude_longitude"}
    assert all(s.origin is not None and s.origin.file == "base.yaml" for s in special)


def _keeping(folder: Path, law: str, *, declared: bool) -> Path:
    policy = folder / f"health-{law}.yaml"
    consent = ", sensitive_data_consent: true" if declared else ""
    policy.write_text(
        f"shopveil_policy: 1\nname: health-{law}\nextends: {law}\n"
        "purposes:\n"
        f"  analytics: {{release_modes: [record]{consent}}}\n"
        "columns:\n"
        "  customer_id: {class: direct_identifier, kind: customer_id, technique: keep}\n"
        "rules:\n"
        "  - when: {kind: health}\n"
        "    technique: keep\n"
    )
    return policy


@pytest.mark.parametrize("law", LAWS)
def test_a_purpose_that_declares_consent_releases_only_the_customers_who_gave_it(
    shop: dict[str, object], law: str
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    out = folder / f"health-{law}.csv"
    result = anonymize_file(
        folder / "customers.csv", out, policy=_keeping(folder, law, declared=True),
        purpose="analytics", role="admin",
    )  # fmt: skip
    released = read_table(out)
    assert "health_condition" in released.column_names
    assert "religion" not in released.column_names  # only what the policy keeps
    ids = {canonical_id(v) for v in released.column("customer_id").to_pylist()}
    if law == "ccpa":  # a right to limit: everyone but those who limited the use
        assert ids == shop["ids"] - shop["refused"]  # type: ignore[operator]
    else:  # explicit, specific or separate consent: no record, no release
        assert ids == shop["granted"]
    assert result.plan.sensitive_columns == ("health_condition",)
    assert any("special categories kept ('health_condition')" in n for n in result.plan.notes)


@pytest.mark.parametrize("law", LAWS)
def test_keeping_a_special_category_without_declaring_consent_is_refused(
    shop: dict[str, object], law: str
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    policy, out = _keeping(folder, law, declared=False), folder / "out.csv"
    with pytest.raises(PolicyError) as refused:
        anonymize_file(folder / "customers.csv", out, policy=policy, purpose="analytics",
                       role="analyst")  # fmt: skip
    message = str(refused.value)
    assert message.startswith(f"{policy}:10: column 'health_condition' holds health data")
    assert "sensitive_data_consent: true" in message
    assert not out.exists()


def test_without_a_customer_id_consent_cannot_be_checked_so_nothing_is_released(
    shop: dict[str, object],
) -> None:
    folder: Path = shop["dir"]  # type: ignore[assignment]
    table = _tables()["customers"].drop_columns(["customer_id"])
    pacsv.write_csv(table, folder / "anonymous.csv")
    policy = _keeping(folder, "gdpr", declared=True)
    policy.write_text(policy.read_text().replace(
        "columns:\n  customer_id: {class: direct_identifier, kind: customer_id, technique: keep}\n",
        ""))  # fmt: skip
    with pytest.raises(PolicyError, match="no customer id column to check that consent by"):
        anonymize_file(folder / "anonymous.csv", folder / "out.csv", policy=policy,
                       purpose="analytics", role="analyst")  # fmt: skip
    assert not (folder / "out.csv").exists()
