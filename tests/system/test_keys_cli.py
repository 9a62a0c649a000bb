"""End to end through the CLI: detokenize, keys rotate (vault and master), erase."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from shopveil.audit import AuditLog
from shopveil.keys import Keyring, Vault, parse_key_text
from shopveil.store import Store

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from shopveil.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_detokenize_rotate_erase(store_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SHOPVEIL_HOME": str(home), "SHOPVEIL_DB_URL": store_url}
    env.pop("SHOPVEIL_MASTER_KEY", None)

    # Tokenize through the library with the same store and key file the CLI will use.
    store = Store.open(store_url)
    keyring = Keyring.open(store)
    key_file = keyring.key_file
    assert key_file is not None and home not in key_file.parents
    vault = Vault(store, keyring, AuditLog(store, keyring))
    addresses = ["12 Rue de la Paix", "1 Main St"]
    tokens = vault.tokenize(addresses, subject_ids=["cust-ann", "cust-bob"], purpose="fulfilment")
    store.close()

    done = _cli(env, "detokenize", *tokens, "--purpose", "fulfilment", "--actor", "picker-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == addresses

    denied = _cli(env, "detokenize", tokens[0], "--purpose", "marketing")
    assert denied.returncode == 1
    assert denied.stderr.startswith("error: purpose 'marketing' may not re-identify")
    assert denied.stdout == "" and len(denied.stderr.splitlines()) == 1

    malformed = _cli(env, "detokenize", "12 Rue de la Paix", "--purpose", "fulfilment")
    assert malformed.returncode == 2 and "not a vault token" in malformed.stderr
    assert "Rue de la Paix" not in malformed.stderr

    rotated = _cli(env, "keys", "rotate", "--batch-size", "1")
    assert rotated.returncode == 0, rotated.stderr
    assert "version 2" in rotated.stdout and "2 subject" in rotated.stdout

    old_key = key_file.read_text()
    master = _cli(env, "keys", "rotate-master")
    assert master.returncode == 0, master.stderr
    assert key_file.read_text() != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]

    erased = _cli(env, "erase", "--subject", "cust-ann", "--actor", "dpo")
    assert erased.returncode == 0, erased.stderr
    assert "1 vault value(s) unrecoverable" in erased.stdout and "cust-ann" not in erased.stdout

    gone = _cli(env, "detokenize", tokens[0], "--purpose", "fulfilment")
    assert gone.returncode == 1 and "erased subject" in gone.stderr
    kept = _cli(env, "detokenize", tokens[1], "--purpose", "fulfilment")
    assert kept.returncode == 0 and kept.stdout.strip() == "1 Main St"

    wrong_key = secrets.token_urlsafe(32)
    wrong = _cli(
        {**env, "SHOPVEIL_MASTER_KEY": wrong_key},
        "detokenize",
        tokens[1],
        "--purpose",
        "fulfilment",
    )
    assert wrong.returncode == 1 and "SHOPVEIL_MASTER_KEY" in wrong.stderr
    assert wrong_key not in wrong.stderr + wrong.stdout

    # Every step left an audit record, and the chain still verifies.
    store = Store.open(store_url)
    keyring = Keyring.open(store)
    log = AuditLog(store, keyring)
    actions = [e.action for e in log.events()]
    for action in (
        "vault.detokenize",
        "vault.detokenize.denied",
        "keys.rotate",
        "keys.rotate_master",
        "vault.erase",
    ):
        assert action in actions
    assert log.verify() == len(actions)
    store.close()


def test_rotate_master_with_an_env_key_and_erase_every_spelling(
    store_url: str, tmp_path: Path
) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    env = {**os.environ, "SHOPVEIL_DB_URL": store_url, "SHOPVEIL_MASTER_KEY": old}
    store = Store.open(store_url)
    keyring = Keyring.open(store, master_key=parse_key_text(old, where="old"))
    vault = Vault(store, keyring, AuditLog(store, keyring))
    [token] = vault.tokenize(["1 Main St"], subject_ids=["17850.0"], purpose="fulfilment")
    store.close()

    # Before: an env master key could not be rotated at all.
    unset = _cli(env, "keys", "rotate-master", "--new-key-env", "NO_SUCH_VAR")
    assert unset.returncode == 2 and "NO_SUCH_VAR" in unset.stderr
    no_file = _cli(env, "keys", "rotate-master")
    assert no_file.returncode == 2 and "--new-key-env" in no_file.stderr
    same = _cli({**env, "NEW_KEY": old}, "keys", "rotate-master", "--new-key-env", "NEW_KEY")
    assert same.returncode == 2 and "current master key" in same.stderr
    assert old not in same.stderr
    done = _cli({**env, "NEW_KEY": new}, "keys", "rotate-master", "--new-key-env", "NEW_KEY")
    assert done.returncode == 0, done.stderr
    assert "SHOPVEIL_MASTER_KEY" in done.stdout and new not in done.stdout
    env["SHOPVEIL_MASTER_KEY"] = new
    stale = _cli(
        {**env, "SHOPVEIL_MASTER_KEY": old}, "detokenize", token, "--purpose", "fulfilment"
    )
    assert stale.returncode == 1 and "not the one this store was created with" in stale.stderr

    # The id as Online Retail writes it was tokenized; the erasure names it as an integer.
    erased = _cli(env, "erase", "--subject", " 17850", "--actor", "dpo")
    assert erased.returncode == 0, erased.stderr
    assert "1 vault value(s) unrecoverable" in erased.stdout
    gone = _cli(env, "detokenize", token, "--purpose", "fulfilment")
    assert gone.returncode == 1 and "erased subject" in gone.stderr


def test_erase_help_says_what_erasure_covers() -> None:
    shown = _cli(dict(os.environ), "erase", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    for phrase in ("erasable_token", "technique token", "fpe", "-wal", "VACUUM", "rotate-master"):
        assert phrase in text
