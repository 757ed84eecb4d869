"""Auth state: credentials and Signal keys, with memory, multi-file and SQLite backends.

- ``init_auth_creds()`` / ``AuthenticationCreds``: what a device keeps across restarts;
- ``MemoryKeyStore``: for tests; ``CachedKeyStore(inner)``: a cache over any store;
- ``use_multi_file_auth_state(folder)``: Baileys' folder layout, made crash-safe;
- ``use_sqlite_auth_state(path)``: one SQLite file, safe for several processes;
- ``use_postgres_auth_state(dsn_or_pool, account=...)``: many accounts in one PostgreSQL
  database (``pip install 'wamd[postgres]'``);
- ``wamd.store.views``: typed views (prekeys, LID map, sender-key memory, sent messages,
  event buffer) over any key store.

Each ``use_*_auth_state`` returns an ``AuthStateAndSave``: ``state, save_creds = await ...``.

Every backend implements the ``SignalKeyStore`` contract with atomic transactions.
"""

from wamd.store.auth import AuthState, AuthStateAndSave, SaveCreds
from wamd.store.cache import CachedKeyStore
from wamd.store.creds import AuthenticationCreds, Me, init_auth_creds
from wamd.store.memory import MemoryKeyStore
from wamd.store.multifile import MultiFileKeyStore, use_multi_file_auth_state
from wamd.store.postgres import PostgresKeyStore, use_postgres_auth_state
from wamd.store.sqlite import SQLiteKeyStore, use_sqlite_auth_state
from wamd.store.types import KEY_TYPES, KeyType, SignalKeyStore

__all__ = [
    "KEY_TYPES",
    "AuthState",
    "AuthStateAndSave",
    "AuthenticationCreds",
    "CachedKeyStore",
    "KeyType",
    "Me",
    "MemoryKeyStore",
    "MultiFileKeyStore",
    "PostgresKeyStore",
    "SQLiteKeyStore",
    "SaveCreds",
    "SignalKeyStore",
    "init_auth_creds",
    "use_multi_file_auth_state",
    "use_postgres_auth_state",
    "use_sqlite_auth_state",
]
