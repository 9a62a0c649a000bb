"""``shopveil attack membership`` and ``shopveil attack audit``, end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from _purchases import purchases

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app


runner = CliRunner()


def _purchases_file(tmp_path: Path) -> Path:
    data = purchases(customers=120)
    path = tmp_path / "purchases.csv"
    lines = ["CustomerID,StockCode,InvoiceDate"]
    lines += [
        f"{data.user_ids[u]},{data.item_ids[i]},2011-01-01 10:00"
        for u, i in zip(data.users, data.items, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_membership_prints_the_issue_fields(tmp_path: Path) -> None:
    args = ["attack", "membership", "--data", str(_purchases_file(tmp_path))]
    result = runner.invoke(
        app, [*args, "--model", "als", "--param", "factors=32", "--shadows", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr", "members", "nonmembers"):
        assert key in out
    assert out["members"] + out["nonmembers"] == 120


def test_membership_of_a_private_model_without_epsilon_is_one_line(tmp_path: Path) -> None:
    args = ["attack", "membership", "--data", str(_purchases_file(tmp_path)), "--model", "dp-als"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "--epsilon" in result.stderr


def test_a_model_file_without_privacy_metadata_is_one_line(tmp_path: Path) -> None:
    bare = tmp_path / "bare.npz"
    meta = json.dumps({"format": 1, "kind": "als", "config": {}}).encode()
    np.savez(bare, __shopveil_model__=np.frombuffer(meta, dtype=np.uint8))
    args = ["attack", "membership", "--data", str(_purchases_file(tmp_path))]
    result = runner.invoke(app, [*args, "--model-file", str(bare), "--json"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "no privacy metadata" in result.stderr


def test_audit_passes_a_sound_mechanism_and_catches_halved_noise() -> None:
    audit = ["attack", "audit", "--target", "geometric", "--alpha", "1e-6", "--json"]
    sound = runner.invoke(app, audit)
    assert sound.exit_code == 0, sound.output
    assert json.loads(sound.stdout)["passed"] is True
    broken = runner.invoke(app, [*audit, "--broken"])
    assert broken.exit_code == 1
    out = json.loads(broken.stdout)
    assert out["passed"] is False and out["lower_bound"] > out["claimed"]
