"""Open a store by kind, for the tests and their writer processes.

``where`` is a folder (multifile), a file (sqlite) or a DSN (postgres); the Postgres
account comes from ``account`` or the ``WAMD_TEST_ACCOUNT`` environment variable (the
writer processes get it that way).
"""

from __future__ import annotations

import os

from wamd.store import use_multi_file_auth_state, use_sqlite_auth_state
from wamd.store.auth import AuthStateAndSave

__all__ = ["close_keys", "open_auth"]


async def open_auth(
    kind: str, where: str | os.PathLike[str], account: str = ""
) -> AuthStateAndSave:
    if kind == "multifile":
        return await use_multi_file_auth_state(where)
    if kind == "sqlite":
        return await use_sqlite_auth_state(where)
    if kind == "postgres":
        from wamd.store.postgres import use_postgres_auth_state

        name = account or os.environ.get("WAMD_TEST_ACCOUNT", "default")
        return await use_postgres_auth_state(os.fspath(where), account=name)
    raise ValueError(f"no store kind {kind!r}")


async def close_keys(keys: object) -> None:
    close = getattr(keys, "close", None)
    if close is not None:
        await close()
