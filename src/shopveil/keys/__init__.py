"""Keys: the keyring, wrapped and versioned data keys, and the reversible vault.

>>> from shopveil.keys import Keyring, Vault
>>> keyring = Keyring.open(store)                                     # doctest: +SKIP
>>> key = keyring.derive(purpose="marketing", context="customer_id")  # doctest: +SKIP
>>> vault = Vault(store, keyring, AuditLog(store, keyring))           # doctest: +SKIP
>>> vault.tokenize(["1 Main St"], subject_ids=["c42"], purpose="fulfilment")  # doctest: +SKIP
['vt1_...']
"""

from shopveil.keys._datakeys import DataKeyInfo
from shopveil.keys._keyring import Keyring
from shopveil.keys._master import ENV_VAR, default_key_file, format_key_text, parse_key_text
from shopveil.keys._tokens import is_token
from shopveil.keys._vault import Erasure, Rotation, Vault, VaultConfig

__all__ = [
    "ENV_VAR",
    "DataKeyInfo",
    "Erasure",
    "Keyring",
    "Rotation",
    "Vault",
    "VaultConfig",
    "default_key_file",
    "format_key_text",
    "is_token",
    "parse_key_text",
]
