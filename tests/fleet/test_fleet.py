"""One ``Fleet``, many accounts in one event loop, against a real sim on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wamd.errors import FleetError
from wamd.events import ConnectionUpdate, MessagesUpsert
from wamd.fleet import AccountEvent, AccountStatus, Fleet, MemoryAuths, SQLiteAuths
from wamd.fleet.auths import AuthBackend
from wamd.fleet.metrics import parse_text
from wamd.sim import SimPhone, SimServer
from wamd.store.auth import AuthStateAndSave
from wamd.testing import settle, wait_received

from .helpers import live, options, scanner, until


async def paired_fleet(
    sim: SimServer, n: int, auths: AuthBackend | None = None, **kw: Any
) -> tuple[Fleet, list[SimPhone]]:
    fleet = Fleet(auths or MemoryAuths(), socket_options=options(sim), **kw)
    phones = []
    for i in range(n):
        phone = sim.add_phone(f"1555100{i:04d}", f"Bot {i}")
        phones.append(phone)
        await fleet.add(f"bot-{i}")
        await fleet.pair(f"bot-{i}", on_qr=scanner(phone))
    return fleet, phones


async def test_accounts_run_side_by_side_and_events_say_whose(sim: SimServer) -> None:
    fleet, phones = await paired_fleet(sim, 4)
    alice = sim.add_phone("15552220000", "Alice")
    got: list[tuple[str, str]] = []

    @fleet.on("messages.upsert")
    async def echo(event: AccountEvent[MessagesUpsert]) -> None:
        for msg in event.payload.messages:
            if not msg.key.from_me and msg.text:
                got.append((event.account, msg.text))
                await event.sock.send_message(
                    msg.key.remote_jid, {"text": f"{event.account}: {msg.text}"}
                )

    async with fleet:
        for i in range(4):
            await fleet.start(f"bot-{i}")
        await until(lambda: fleet.connected == 4, "all four accounts open")
        assert set(fleet.statuses().values()) == {AccountStatus.OPEN}
        for i, phone in enumerate(phones):
            await alice.send_text(phone.jid, f"hi {i}")
        for i in range(4):
            await wait_received(alice, lambda m, i=i: m.text == f"bot-{i}: hi {i}")
        await settle(sim)
        assert sorted(got) == [(f"bot-{i}", f"hi {i}") for i in range(4)]
        scrape = parse_text(fleet.metrics.render())
        assert scrape["wamd_fleet_connected_accounts"] == 4
        assert scrape["wamd_fleet_messages_in_total"] == 4
        assert scrape["wamd_fleet_messages_out_total"] == 4
        assert scrape["wamd_fleet_logins_total"] == 4
        assert scrape['wamd_fleet_accounts{status="open"}'] == 4
        assert scrape['wamd_fleet_store_seconds_count{op="keys"}'] > 0

        # stop one at run time: its connection is gone when stop returns; the others go on
        await fleet.stop("bot-1")
        assert live(phones[1]) == 0
        assert fleet.account("bot-1").status is AccountStatus.STOPPED
        await alice.send_text(phones[1].jid, "while stopped")
        await alice.send_text(phones[2].jid, "still there?")
        await wait_received(alice, lambda m: m.text == "bot-2: still there?")
        # started again, it gets what waited on the server
        await fleet.start("bot-1")
        await wait_received(alice, lambda m: m.text == "bot-1: while stopped")
        # removed: gone from the fleet, its socket closed
        await fleet.remove("bot-3")
        assert "bot-3" not in fleet and live(phones[3]) == 0
        with pytest.raises(FleetError, match="no account 'bot-3'"):
            fleet.account("bot-3")
    assert all(live(p) == 0 for p in phones)


async def test_logins_are_bounded(sim: SimServer) -> None:
    fleet, _ = await paired_fleet(sim, 6, login_concurrency=2)
    logging_in: set[str] = set()
    most = 0

    def track(event: AccountEvent[ConnectionUpdate]) -> None:
        nonlocal most
        update = event.payload
        if update.connection == "connecting":
            logging_in.add(event.account)
            most = max(most, len(logging_in))
        elif update.connection in ("open", "close"):
            logging_in.discard(event.account)

    fleet.on("connection.update", track)
    async with fleet:
        for i in range(6):
            await fleet.start(f"bot-{i}")
        await until(lambda: fleet.connected == 6, "all six accounts open")
    assert most == 2  # two at a time, never more (and the queue was used)


async def test_a_closed_gate_keeps_an_account_offline(sim: SimServer) -> None:
    fleet, phones = await paired_fleet(sim, 2)
    allowed = {"bot-0": True, "bot-1": False}
    async with fleet:
        for name in allowed:
            await fleet.start(name, gate=lambda name=name: allowed[name])
        await until(lambda: fleet.connected == 1, "bot-0 open")
        await until(lambda: not fleet.account("bot-1").running, "bot-1's supervisor ended")
        assert live(phones[0]) == 1 and live(phones[1]) == 0
        assert fleet.account("bot-1").status is AccountStatus.STOPPED
        # a gate that closes while connected: the next reconnect does not happen
        allowed["bot-0"] = False
        sock = fleet.account("bot-0").sock
        assert sock is not None and sock.conn is not None
        await sock.conn.close()  # the network drops the link
        await until(lambda: not fleet.account("bot-0").running, "bot-0's supervisor ended")
        assert live(phones[0]) == 0


async def test_final_reasons_stop_an_account_only(sim: SimServer) -> None:
    fleet, phones = await paired_fleet(sim, 2)
    finals: list[tuple[str, int]] = []
    fleet.on_final.append(lambda acct, last: finals.append((acct.name, last.status_code)))
    async with fleet:
        await fleet.start("bot-0")
        await fleet.start("bot-1")
        await until(lambda: fleet.connected == 2, "both open")
        device = next(iter(phones[0].companions.values()))
        await phones[0].unlink(device)
        await until(lambda: fleet.account("bot-0").status is AccountStatus.FINAL, "bot-0 final")
        assert finals == [("bot-0", 401)]
        assert fleet.account("bot-1").status is AccountStatus.OPEN


async def test_bad_input_is_a_fleet_error(sim: SimServer) -> None:
    with pytest.raises(FleetError, match="login_concurrency"):
        Fleet(MemoryAuths(), login_concurrency=0)
    with pytest.raises(FleetError, match="unknown socket options: nope"):
        Fleet(MemoryAuths(), socket_options={"nope": 1})
    async with Fleet(MemoryAuths(), socket_options=options(sim)) as fleet:
        for bad in ("", "a b", "x" * 201, "tab\there"):
            with pytest.raises(FleetError):
                await fleet.add(bad)
        with pytest.raises(FleetError, match="unknown event"):
            fleet.on("message.upsert", print)
        await fleet.add("new")
        with pytest.raises(FleetError, match="already"):
            await fleet.add("new")
        with pytest.raises(FleetError, match="not paired"):
            await fleet.start("new")
        assert "keys" not in repr(fleet.account("new")).lower()


async def test_sqlite_accounts_share_one_file_and_survive_a_restart(
    sim: SimServer, tmp_path: Any
) -> None:
    path = tmp_path / "fleet.sqlite"
    fleet, phones = await paired_fleet(sim, 2, SQLiteAuths(path))
    await fleet.close()
    alice = sim.add_phone("15552220000", "Alice")
    async with Fleet(SQLiteAuths(path), socket_options=options(sim)) as again:
        for i in range(2):
            acct = await again.add(f"bot-{i}")
            assert acct.jid is not None and acct.jid.startswith(phones[i].number)
            await again.start(f"bot-{i}")
        await until(lambda: again.connected == 2, "both open from the file")
        got: list[str] = []
        again.on("messages.upsert", lambda e: got.extend(e.account for m in e.payload.messages))
        await alice.send_text(phones[1].jid, "hello")
        await until(lambda: got == ["bot-1"], "bot-1 got it")
        await again.remove("bot-0", forget=True)
    async with Fleet(SQLiteAuths(path), socket_options=options(sim)) as third:
        assert (await third.add("bot-0")).jid is None  # forgotten: fresh credentials
        assert (await third.add("bot-1")).jid is not None


async def test_many_accounts_log_in_over_a_small_shared_pool(
    sim: SimServer, postgres_db: str
) -> None:
    from wamd.fleet import PostgresAuths

    from .helpers import provision

    await provision(sim, postgres_db, 8)
    auths = PostgresAuths(postgres_db, pool_size=2)  # eight accounts, two connections
    async with Fleet(auths, socket_options=options(sim), login_concurrency=8) as fleet:
        for i in range(8):
            await fleet.add(f"acct-{i}")
            await fleet.start(f"acct-{i}")
        await until(lambda: fleet.connected == 8, "all eight open over two connections")


class _SlowSaves(MemoryAuths):
    """A backend whose creds save writes the account back, once let through."""

    def __init__(self) -> None:
        super().__init__()
        self.saving, self.go_on = asyncio.Event(), asyncio.Event()

    async def open(self, account: str) -> AuthStateAndSave:
        opened = await super().open(account)

        async def save_creds(*_update: object) -> None:
            self.saving.set()
            await self.go_on.wait()
            self.states[account] = opened.state  # what a write of the creds row does

        return AuthStateAndSave(opened.state, save_creds)


async def test_a_forgotten_account_is_not_brought_back_by_a_late_creds_save() -> None:
    auths = _SlowSaves()
    async with Fleet(auths) as fleet:
        acct = await fleet.add("bot")
        late = asyncio.ensure_future(acct.save_creds())  # a closed socket's last handler
        await asyncio.wait_for(auths.saving.wait(), 5)
        removing = asyncio.ensure_future(fleet.remove("bot", forget=True))
        await asyncio.sleep(0.05)
        assert not removing.done()  # the forget waits for the save under way
        auths.go_on.set()
        await asyncio.wait_for(asyncio.gather(late, removing), 5)
        assert "bot" not in auths.states
        await acct.save_creds()  # and a save after it writes nothing
        assert "bot" not in auths.states
