"""Keys: the keyring, wrapped and versioned data keys, and the reversible vault.

:func:`encode_fields` is how every MAC under a key from this keyring encodes its fields
(length-prefixed, so two tuples never encode alike): the audit chain and its checkpoints,
vault look-ups, erasable pseudonyms. :func:`hmac_hex` is HMAC-SHA-256 as hex text.

>>> from shopveil.keys import Keyring, Vault
>>> keyring = Keyring.open(store)                                     # doctest: +SKIP
>>> key = keyring.derive(purpose="marketing", context="customer_id")  # doctest: +SKIP
>>> vault = Vault(store, keyring, AuditLog(store, keyring))           # doctest: +SKIP
>>> vault.tokenize(["1 Main St"], subject_ids=["c42"], purpose="fulfilment")  # doctest: +SKIP
['vt1_...']
"""

from shopveil.keys._crypto import encode_fields, hmac_hex
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
    "encode_fields",
    "format_key_text",
    "hmac_hex",
    "is_token",
    "key_directory",
    "parse_key_text",
    "pseudonym_keys",
]
