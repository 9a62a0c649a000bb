"""``shopveil access grant|list|revoke``: a key printed once, listed by name, revoked."""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()


def test_a_key_is_printed_once_listed_by_name_and_revoked() -> None:
    granted = runner.invoke(app, ["access", "grant", "front", "--role", "shop_front",
                                  "--purpose", "personalization"])  # fmt: skip
    assert granted.exit_code == 0, granted.output
    key = granted.stdout.strip().splitlines()[-1]
    assert key.startswith("svk_") and len(key) > 40
    listed = runner.invoke(app, ["access", "list", "--json"])
    (entry,) = json.loads(listed.stdout)
    assert entry["name"] == "front" and entry["role"] == "shop_front"
    assert entry["purposes"] == ["personalization"] and entry["revoked_at"] is None
    assert key not in listed.stdout
    db = Path(os.environ["SHOPVEIL_HOME"]) / "shopveil.db"
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert key not in dump and key[4:] not in dump
    assert runner.invoke(app, ["access", "revoke", "front"]).exit_code == 0
    (entry,) = json.loads(runner.invoke(app, ["access", "list", "--json"]).stdout)
    assert entry["revoked_at"] is not None


def test_a_role_the_policy_does_not_grant_is_one_line_exit_2() -> None:
    result = runner.invoke(app, ["access", "grant", "x", "--role", "admin"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: role 'admin' cannot be granted a key")
    revoked = runner.invoke(app, ["access", "revoke", "nobody"])
    assert revoked.exit_code == 2 and "no active key is named 'nobody'" in revoked.stderr
