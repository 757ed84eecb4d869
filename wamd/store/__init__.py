"""Auth state: credentials and Signal keys, with memory, multi-file and SQLite backends."""

from wamd.store.types import KEY_TYPES, KeyType, SignalKeyStore

__all__ = ["KEY_TYPES", "KeyType", "SignalKeyStore"]
