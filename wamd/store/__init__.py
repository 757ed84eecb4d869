"""Auth state: credentials and Signal keys, with memory, multi-file and SQLite backends.

- ``init_auth_creds()`` / ``AuthenticationCreds``: what a device keeps across restarts;
- ``MemoryKeyStore``: for tests; ``CachedKeyStore(inner)``: a cache over any store;
- ``use_multi_file_auth_state(folder)``: Baileys' folder layout, made crash-safe;
- ``use_sqlite_auth_state(path)``: one SQLite file, safe for several processes.

Every backend implements the ``SignalKeyStore`` contract with atomic transactions.
"""

from wamd.store.auth import AuthState
from wamd.store.cache import CachedKeyStore
from wamd.store.creds import AuthenticationCreds, Me, init_auth_creds
from wamd.store.memory import MemoryKeyStore
from wamd.store.multifile import MultiFileKeyStore, use_multi_file_auth_state
from wamd.store.sqlite import SQLiteKeyStore, use_sqlite_auth_state
from wamd.store.types import KEY_TYPES, KeyType, SignalKeyStore

__all__ = [
    "KEY_TYPES",
    "AuthState",
    "AuthenticationCreds",
    "CachedKeyStore",
    "KeyType",
    "Me",
    "MemoryKeyStore",
    "MultiFileKeyStore",
    "SQLiteKeyStore",
    "SignalKeyStore",
    "init_auth_creds",
    "use_multi_file_auth_state",
    "use_sqlite_auth_state",
]
