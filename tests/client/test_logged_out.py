"""A 401 marks the auth state logged out, in every store, so the next start knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client.stores import STORE_KINDS
from wamd.errors import DisconnectReason
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.store.multifile import use_multi_file_auth_state
from wamd.store.sqlite import SQLiteKeyStore, use_sqlite_auth_state
from wamd.testing import link, sim_server


async def _open(kind: str, folder: Path):  # type: ignore[no-untyped-def]
    if kind == "memory":
        state = AuthState(init_auth_creds(), MemoryKeyStore())

        async def nothing(*_: object) -> None:
            return None

        return state, nothing
    if kind == "multi-file":
        return await use_multi_file_auth_state(folder / "auth")
    return await use_sqlite_auth_state(folder / "auth.db")


async def _close(state: AuthState) -> None:
    if isinstance(state.keys, SQLiteKeyStore):
        await state.keys.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_an_unlinked_device_is_marked_logged_out_in_its_store(
    kind: str, tmp_path: Path
) -> None:
    async with sim_server() as sim:
        phone = sim.add_phone("15550001111", "Bot")
        state, save_creds = await _open(kind, tmp_path)
        sock = await link(sim, phone, state)
        sock.ev.on("creds.update", save_creds)
        assert state.creds.logged_out_at is None
        await phone.unlink(phone.companions[1])
        last = await sock.wait_closed()
        assert last is not None and last.status_code == DisconnectReason.LOGGED_OUT
        await sock.ev.drain()
        assert state.creds.logged_out_at is not None
        await _close(state)
    if kind == "memory":
        return
    again, _ = await _open(kind, tmp_path)
    try:
        assert again.creds.logged_out_at == state.creds.logged_out_at
        assert again.creds.me is not None  # nothing else was touched
    finally:
        await _close(again)


async def test_a_connection_that_merely_drops_is_not_marked(tmp_path: Path) -> None:
    async with sim_server() as sim:
        phone = sim.add_phone("15550001111", "Bot")
        state, _ = await _open("memory", tmp_path)
        sock = await link(sim, phone, state)
        device = phone.companions[1]
        assert device.connection is not None
        await device.connection.close()
        last = await sock.wait_closed()
        assert last is not None and last.status_code != DisconnectReason.LOGGED_OUT
        assert state.creds.logged_out_at is None
