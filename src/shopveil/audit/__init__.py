"""The hash-chained audit log: every release, detokenization and erasure leaves a record.

>>> log = AuditLog(store, keyring)                                        # doctest: +SKIP
>>> log.append(actor="cli", action="anonymize.run", details={"rows": 10})  # doctest: +SKIP
>>> log.verify()                                                          # doctest: +SKIP
1

:func:`check_action` refuses an action name the log would refuse, before any work.
"""

from shopveil.audit._checkpoint import CHECKPOINTS_ENV, Checkpoint, default_checkpoint_dir
from shopveil.audit._event import AuditEvent, check_action
from shopveil.audit._log import AuditLog

__all__ = [
    "CHECKPOINTS_ENV",
    "AuditEvent",
    "AuditLog",
    "Checkpoint",
    "check_action",
    "default_checkpoint_dir",
]
