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
from shopveil.keys._master import (
    ENV_VAR,
    KEY_FILE_VAR,
    KeyLocationWarning,
    default_key_file,
    format_key_text,
    key_directory,
    parse_key_text,
)
from shopveil.keys._pseudonyms import pseudonym_keys
from shopveil.keys._tokens import is_token
from shopveil.keys._trail import AuditTrail
from shopveil.keys._vault import Erasure, Rotation, Vault, VaultConfig

__all__ = [
    "ENV_VAR",
    "KEY_FILE_VAR",
    "AuditTrail",
    "DataKeyInfo",
    "Erasure",
    "KeyLocationWarning",
    "Keyring",
    "Rotation",
    "Vault",
    "VaultConfig",
    "default_key_file",
    "format_key_text",
    "is_token",
    "key_directory",
    "parse_key_text",
    "pseudonym_keys",
]
