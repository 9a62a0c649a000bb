"""Concurrent appends from threads and from processes keep one valid chain, losing nothing."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from collections import Counter

import pytest

from shopveil.audit import AuditLog
from shopveil.keys import Keyring
from shopveil.store import Store


def test_threads_appending_keep_a_valid_chain(store_url: str) -> None:
    store = Store.open(store_url)
    log = AuditLog(store, Keyring.open(store, master_key=secrets.token_bytes(32)))
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                log.append(actor=f"thread-{n}", action="test.append", details={"i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert log.verify() == 60
    events = log.events()
    assert [e.seq for e in events] == list(range(1, 61))
    assert Counter(e.actor for e in events) == {f"thread-{n}": 15 for n in range(4)}
    store.close()


# Each process opens the fresh store itself: key check, root key and the audit head are
# all created under the race, and every process must still derive the same keys.
_WORKER = """
import sys
from shopveil.audit import AuditLog
from shopveil.keys import Keyring
from shopveil.store import Store
url, master, name = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
store = Store.open(url)
keyring = Keyring.open(store, master_key=master)
log = AuditLog(store, keyring)
for i in range(10):
    log.append(actor=name, action="test.append", details={"i": i})
print(keyring.derive("marketing", "customer_id").hex())
"""


@pytest.mark.slow
def test_processes_appending_keep_a_valid_chain(store_url: str) -> None:
    Store.open(store_url).close()  # schema first; create_all itself is not race-safe
    master = secrets.token_bytes(32)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, store_url, master.hex(), f"proc-{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in outputs]
    assert len({out.strip() for out, _ in outputs}) == 1

    store = Store.open(store_url)
    keyring = Keyring.open(store, master_key=master)
    log = AuditLog(store, keyring)
    assert log.verify() == 30
    assert Counter(e.actor for e in log.events()) == {f"proc-{n}": 10 for n in range(3)}
    assert keyring.derive("marketing", "customer_id").hex() == outputs[0][0].strip().decode()
    store.close()
