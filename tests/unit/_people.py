"""A people key for ledgers made directly in tests (a workspace derives its own)."""

import secrets

from shopveil.dp import PeopleKey

PEOPLE_KEY = PeopleKey(secrets.token_bytes(32))
