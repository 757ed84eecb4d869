"""Every auth store the client runs on, for tests that must not hide behind the memory one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from wamd.client import WASocket
from wamd.sim import SimPhone, SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.store.multifile import use_multi_file_auth_state
from wamd.store.sqlite import SQLiteKeyStore, use_sqlite_auth_state

STORE_KINDS = ("memory", "multi-file", "sqlite")


async def open_state(kind: str, folder: Path) -> AuthState:
    """A fresh auth state on the store named ``kind``, its files under ``folder``."""
    if kind == "memory":
        return AuthState(init_auth_creds(), MemoryKeyStore())
    if kind == "multi-file":
        state, _ = await use_multi_file_auth_state(folder / "auth")
        return state  # type: ignore[no-any-return]
    if kind == "sqlite":
        state, _ = await use_sqlite_auth_state(folder / "auth.db")
        return state  # type: ignore[no-any-return]
    raise ValueError(f"no such store kind {kind!r}")


async def close_state(state: AuthState) -> None:
    if isinstance(state.keys, SQLiteKeyStore):
        await state.keys.close()


class _Current:
    """The store that ``fresh_state()`` opens while ``every_store`` is in use."""

    kind = "memory"
    folder: Path | None = None
    opened: ClassVar[list[AuthState]] = []


async def fresh_state() -> AuthState:
    """A new auth state on the store under test (memory outside ``every_store``)."""
    if _Current.folder is None:
        return await open_state("memory", Path("."))
    folder = _Current.folder / f"state-{len(_Current.opened)}"
    folder.mkdir()
    state = await open_state(_Current.kind, folder)
    _Current.opened.append(state)
    return state


async def link(sim: SimServer, phone: SimPhone, state: AuthState | None = None) -> WASocket:
    """``tests.client.conftest.link`` on a fresh state of the store under test by default."""
    from tests.client.conftest import link as link_with

    return await link_with(sim, phone, state or await fresh_state())


@pytest.fixture(params=STORE_KINDS)
async def every_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Run the test once per store: ``link()`` and ``fresh_state()`` open that store."""
    _Current.kind, _Current.folder, _Current.opened = request.param, tmp_path, []
    try:
        yield request.param
    finally:
        opened = _Current.opened
        _Current.kind, _Current.folder, _Current.opened = "memory", None, []
        for state in opened:
            await close_state(state)


@pytest.fixture(params=STORE_KINDS)
async def any_state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuthState]:
    """An auth state on each store in turn (memory, multi-file, SQLite)."""
    state = await open_state(request.param, tmp_path)
    yield state
    await close_state(state)
