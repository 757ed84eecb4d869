"""The auth state failing while the bot runs, on every store, against the sim.

- an unreadable session is set aside (kept, not deleted), the message becomes a stub with
  a retry receipt, the sender resends on a new session: the chat recovers by itself, the
  connection stays open, and a ``connection.update`` says what happened;
- unreadable prekeys make the first message of a new contact a stub that recovers the
  same way (instead of failing on every login);
- a store that cannot write closes the connection with ``StoreFailed`` and acknowledges
  nothing: the message comes again once the store works.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest

from tests.client.conftest import Inbox
from tests.client.stores import every_store_and_postgres, link
from wamd.binary import JID
from wamd.client.supervisor import is_final
from wamd.errors import CorruptedStore, DisconnectReason, StoreError, StoreFailed
from wamd.events import ConnectionUpdate
from wamd.signal.address import signal_address
from wamd.sim import SimServer
from wamd.store import MemoryKeyStore
from wamd.store.multifile import MultiFileKeyStore
from wamd.store.postgres import PostgresKeyStore
from wamd.store.sqlite import SQLiteKeyStore
from wamd.store.types import SignalKeyStore
from wamd.testing import socket_for

pytestmark = pytest.mark.usefixtures(every_store_and_postgres.__name__)

BOUND = 10.0


async def _postgres(keys: PostgresKeyStore, query: str, params: tuple[Any, ...]) -> list[Any]:
    """One statement on the store's database, on a connection of the test's own."""
    import psycopg

    assert keys._dsn is not None
    async with await psycopg.AsyncConnection.connect(keys._dsn, autocommit=True) as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchall() if cur.description else []


async def _corrupt(keys: SignalKeyStore, type: str, key_id: str | list[str]) -> None:
    """Damage stored keys (one id or a list) the way each store gets damaged."""
    if isinstance(key_id, list):
        if isinstance(keys, PostgresKeyStore):  # one statement, not a connection per key
            await _postgres(
                keys,
                "UPDATE wamd_keys SET value = '{broken' WHERE account = %s AND type = %s "
                "AND id = ANY(%s)",
                (keys.account, type, key_id),
            )
            return
        for one in key_id:
            await _corrupt(keys, type, one)
        return
    if isinstance(keys, MultiFileKeyStore):
        keys.path_for(type, key_id).write_bytes(b'{"type": "Buf')  # a truncated file
    elif isinstance(keys, SQLiteKeyStore):
        db = keys.db
        statement = "UPDATE keys SET value = '{broken' WHERE type = ? AND id = ?"
        await keys._run(lambda: db.execute(statement, (type, key_id)))
    elif isinstance(keys, PostgresKeyStore):
        await _postgres(
            keys,
            "UPDATE wamd_keys SET value = '{broken' WHERE account = %s AND type = %s AND id = %s",
            (keys.account, type, key_id),
        )
    else:
        assert isinstance(keys, MemoryKeyStore)
        keys.data[type][key_id] = b"\xff not a record"


async def _stored_ids(keys: SignalKeyStore, type: str) -> list[str]:
    if isinstance(keys, MultiFileKeyStore):
        prefix = f"{type}-"
        return [p.name[len(prefix) : -5] for p in keys.folder.glob(f"{prefix}*.json")]
    if isinstance(keys, SQLiteKeyStore):
        db = keys.db
        query = "SELECT id FROM keys WHERE type = ?"
        rows = await keys._run(lambda: db.execute(query, (type,)).fetchall())
        return [r[0] for r in rows]
    if isinstance(keys, PostgresKeyStore):
        query = "SELECT id FROM wamd_keys WHERE account = %s AND type = %s"
        return [r[0] for r in await _postgres(keys, query, (keys.account, type))]
    assert isinstance(keys, MemoryKeyStore)
    return list(keys.data.get(type, {}))


async def _set_aside(keys: SignalKeyStore, type: str) -> list[Any]:
    """What each store kept of the keys it set aside."""
    if isinstance(keys, MultiFileKeyStore):
        return [p.read_bytes() for p in (keys.folder / "set-aside").glob(f"{type}-*")]
    if isinstance(keys, SQLiteKeyStore):
        db = keys.db
        query = "SELECT value FROM set_aside WHERE type = ?"
        try:
            rows = await keys._run(lambda: db.execute(query, (type,)).fetchall())
        except StoreError:  # no such table: nothing set aside
            return []
        return [r[0] for r in rows]
    if isinstance(keys, PostgresKeyStore):
        query = "SELECT value FROM wamd_set_aside WHERE account = %s AND type = %s"
        return [r[0] for r in await _postgres(keys, query, (keys.account, type))]
    assert isinstance(keys, MemoryKeyStore)
    return [value for t, _, value in keys.aside if t == type]


async def test_an_unreadable_session_is_set_aside_and_the_chat_recovers(
    sim: SimServer, every_store_and_postgres: str
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)
    first = await alice.send_text(bot_phone.jid, "establish")
    await inbox.wait(lambda m: m.key.id == first)
    await sock.idle()
    address = signal_address(JID(alice.lid_user, "lid", 0))
    await _corrupt(sock.auth.keys, "session", address)

    lost = await alice.send_text(bot_phone.jid, "after the damage")
    stub = await inbox.wait(lambda m: m.key.id == lost and m.stub_type == "CIPHERTEXT")
    assert stub.message is None
    recovered = await inbox.wait(lambda m: m.key.id == lost and m.message is not None)
    assert recovered.text == "after the damage"
    again = await alice.send_text(bot_phone.jid, "and the chat goes on")
    assert (await inbox.wait(lambda m: m.key.id == again and m.message is not None)).text

    problems = [u.store_error for u in updates if u.store_error is not None]
    assert len(problems) == 1, problems
    problem = problems[0]
    assert isinstance(problem, CorruptedStore) and not isinstance(problem, StoreFailed)
    assert problem.key_type == "session" and problem.key_id == address
    assert "set aside" in str(problem) and "recovers by itself" in str(problem)
    kept = await _set_aside(sock.auth.keys, "session")
    assert len(kept) == 1  # the damaged bytes, kept
    assert kept[0] in (b'{"type": "Buf', "{broken", b"\xff not a record")
    assert not any(u.connection == "close" for u in updates)  # it never went down
    await sock.end()


async def test_an_unreadable_prekey_makes_one_stub_that_recovers(
    sim: SimServer, every_store_and_postgres: str
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    await sock.idle()
    keys = sock.auth.keys
    # whichever Alice's phone is handed
    await _corrupt(keys, "pre-key", await _stored_ids(keys, "pre-key"))

    first = await alice.send_text(bot_phone.jid, "hello, new here")
    stub = await inbox.wait(lambda m: m.key.id == first and m.stub_type == "CIPHERTEXT")
    assert stub.message is None
    recovered = await inbox.wait(lambda m: m.key.id == first and m.message is not None)
    assert recovered.text == "hello, new here"
    if not isinstance(keys, MemoryKeyStore):  # memory holds objects: nothing to parse
        assert await _set_aside(keys, "pre-key")
    again = await alice.send_text(bot_phone.jid, "second")
    assert (await inbox.wait(lambda m: m.key.id == again and m.message is not None)).text
    await sock.end()


async def test_a_store_that_cannot_write_closes_the_connection_and_acks_nothing(
    sim: SimServer, every_store_and_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    state = sock.auth
    inbox = Inbox(sock)
    first = await alice.send_text(bot_phone.jid, "establish")
    await inbox.wait(lambda m: m.key.id == first)
    await sock.idle()
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)

    keys = state.keys

    async def refuse(writes: object, *, wait: bool = True) -> None:
        if isinstance(keys, SQLiteKeyStore):
            # SQLite rolls back a failed COMMIT; the store gives its connection back
            await keys._rollback()
            raise StoreError(f"{keys.path}: attempt to write a readonly database")
        raise OSError(errno.EROFS, "Read-only file system")

    if isinstance(keys, MultiFileKeyStore):
        real_commit = keys._commit

        async def refuse_multi(writes: object) -> None:
            await keys._rollback()
            raise OSError(errno.EROFS, "Read-only file system")

        refuse = refuse_multi  # type: ignore[assignment]
        assert real_commit is not None
    elif isinstance(keys, PostgresKeyStore):

        async def refuse_postgres(writes: object) -> None:
            await keys._rollback()
            raise StoreError(f"{keys!r}: ReadOnlySqlTransaction: cannot execute INSERT")

        refuse = refuse_postgres  # type: ignore[assignment]
    # SQLite commits through _commit_grouped (its durability is the WAL's fsync after it)
    step = "_commit_grouped" if isinstance(keys, SQLiteKeyStore) else "_commit"
    monkeypatch.setattr(keys, step, refuse)

    lost = await alice.send_text(bot_phone.jid, "while the disk is read-only")
    last = await asyncio.wait_for(sock.wait_closed(), BOUND)
    assert last is not None and isinstance(last.error, StoreFailed)
    assert last.status_code == DisconnectReason.BAD_SESSION
    assert "nothing more is acknowledged" in str(last.error)
    assert is_final(last)  # run_forever stops here
    assert [u.store_error for u in updates if u.store_error is not None] == [last.error]
    assert not [m for m in inbox.messages if m.key.id == lost]  # neither emitted...

    monkeypatch.undo()  # the disk is writable again: the message was not lost
    again = socket_for(sim, state)
    later = Inbox(again)  # before it connects: the message comes with the login
    await again.connect()
    got = await later.wait(lambda m: m.key.id == lost and m.message is not None)
    assert got.text == "while the disk is read-only"
    await again.end()
