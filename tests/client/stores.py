"""Every auth store the client runs on, for tests that must not hide behind the memory one.

``STORE_KINDS`` names them all: memory, multi-file, SQLite and PostgreSQL (the session's
real server, ``tests/conftest.py``; each state is an account of its own in one database,
and the Postgres runs are skipped with the reason where no server can be had).

- ``store_kind`` (a fixture over ``STORE_KINDS``) and ``open_state(kind, folder)`` for a
  test that opens its states itself;
- ``every_store``: ``link()`` and ``fresh_state()`` open the store under test;
- ``any_state``: one fresh auth state on each store in turn.

The Postgres store costs a few database round trips per message, so the test files that
use ``every_store`` pick their kinds: ``FILE_KINDS`` (memory, multi-file, SQLite) for the
many protocol tests, ``STORE_KINDS`` where the store itself is what is tested
(failures, reconnects, the soak).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from wamd.client import WASocket
from wamd.sim import SimPhone, SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.store.multifile import use_multi_file_auth_state
from wamd.store.sqlite import SQLiteKeyStore, use_sqlite_auth_state

FILE_KINDS = ("memory", "multi-file", "sqlite")
STORE_KINDS = (*FILE_KINDS, "postgres")


class _Postgres:
    """The session's PostgreSQL DSN, once a test of the ``postgres`` kind asked for it."""

    dsn: str | None = None


def _want_postgres(request: pytest.FixtureRequest, kind: str) -> None:
    if kind == "postgres":
        _Postgres.dsn = request.getfixturevalue("postgres_dsn")


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
    if kind == "postgres":
        from wamd.store.postgres import use_postgres_auth_state

        if _Postgres.dsn is None:
            raise RuntimeError("the postgres kind needs the store_kind or every_store fixture")
        state, _ = await use_postgres_auth_state(
            _Postgres.dsn, account=f"{folder.name}-{uuid.uuid4().hex[:8]}"
        )
        return state  # type: ignore[no-any-return]
    raise ValueError(f"no such store kind {kind!r}")


async def close_state(state: AuthState) -> None:
    from wamd.store.postgres import PostgresKeyStore

    if isinstance(state.keys, SQLiteKeyStore | PostgresKeyStore):
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
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each store's name in turn, for ``open_state`` (Postgres: the session's server)."""
    kind: str = request.param
    _want_postgres(request, kind)
    return kind


async def _every_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    _want_postgres(request, request.param)
    _Current.kind, _Current.folder, _Current.opened = request.param, tmp_path, []
    try:
        yield request.param
    finally:
        opened = _Current.opened
        _Current.kind, _Current.folder, _Current.opened = "memory", None, []
        for state in opened:
            await close_state(state)


@pytest.fixture(params=FILE_KINDS)
async def every_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Run the test once per file store: ``link()`` and ``fresh_state()`` open that store."""
    async for kind in _every_store(request, tmp_path):
        yield kind


@pytest.fixture(params=STORE_KINDS)
async def every_store_and_postgres(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """``every_store`` on PostgreSQL too, for the tests of the store's own behaviour."""
    async for kind in _every_store(request, tmp_path):
        yield kind


@pytest.fixture(params=STORE_KINDS)
async def any_state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuthState]:
    """An auth state on each store in turn (memory, multi-file, SQLite, PostgreSQL)."""
    _want_postgres(request, request.param)
    state = await open_state(request.param, tmp_path)
    yield state
    await close_state(state)
