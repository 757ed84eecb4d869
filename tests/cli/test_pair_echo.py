"""``wamd pair`` and ``wamd echo`` as subprocesses against a sim on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.proc import Proc, wamd_command
from wamd.errors import SimError
from wamd.sim import SimPhone, SimServer
from wamd.sim.phone import SimMessage


def sim_args(sim: SimServer) -> tuple[str, ...]:
    return ("--sim-url", sim.url, "--sim-root-key", sim.root_public_key.hex())


def _moved_aside(folder: Path) -> list[Path]:
    found = folder.glob("bot.sqlite.old-*")
    return [p for p in found if not p.name.endswith(("-wal", "-shm"))]


async def echo_of(phone: SimPhone, message_id: str) -> SimMessage:
    while True:
        got = await phone.next_message(timeout=10)
        if got.message.extendedTextMessage.contextInfo.stanzaID == message_id:
            return got


async def test_pair_by_qr_then_echo_then_logged_out(tmp_path: Path) -> None:
    auth = tmp_path / "bot.sqlite"
    async with SimServer() as sim:
        bot = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        wamd = (*wamd_command(),)

        async with Proc(*wamd, "pair", "--auth", str(auth), *sim_args(sim)) as pair:
            await pair.expect("connecting to the sim at ws://127.0.0.1:")
            qr = (await pair.expect("qr text: ")).split("qr text: ", 1)[1]
            # against a sim the line says how to scan there, not on a phone
            scan = await pair.expect("waiting for scan: ")
            assert "this is a sim" in scan and "WhatsApp on your phone" not in scan, scan
            assert (
                'curl -s -H "Authorization: Bearer $TOKEN" -XPOST $CONTROL/phones/NUMBER/scan -d \'{"qr": "'
                + qr
                in scan
            )
            await bot.scan_qr(qr)
            assert await pair.wait() == 0, pair.output
        out = pair.output
        for line in (
            "paired as 15550001111:1@s.whatsapp.net",
            "restart required (515)",
            "online as 15550001111:1@s.whatsapp.net",
            f"done: paired as 15550001111:1@s.whatsapp.net; saved in {auth}",
            f"next: wamd echo --auth {auth}",
        ):
            assert line in out, out
        assert re.search(r"^\d\d:\d\d:\d\d  connecting", out, re.M), out
        assert auth.stat().st_mode & 0o777 == 0o600

        # a second pair only checks the stored login
        async with Proc(*wamd, "pair", "--auth", str(auth), *sim_args(sim)) as check:
            assert await check.wait() == 0, check.output
        assert "is already paired as 15550001111:1@s.whatsapp.net" in check.output
        assert "done: the stored login works" in check.output
        assert "qr text" not in check.output

        # the echo bot with the stored auth state
        async with Proc(*wamd, "echo", "--auth", str(auth), *sim_args(sim)) as echo:
            await echo.expect("online as 15550001111:1@s.whatsapp.net")
            sent = await alice.send_text(bot.jid, "ping from Alice")
            got = await echo_of(alice, sent)
            assert got.text == "ping from Alice"
            await echo.expect('echoed "ping from Alice" to Alice (15550002222@s.whatsapp.net)')
            # the link drops: the bot says so and comes back
            device = bot.companions[1]
            assert device.connection is not None
            await device.connection.close()
            await echo.expect("disconnected: connection closed (428)")
            await echo.expect("reconnecting in ")
            await echo.expect("online as 15550001111:1@s.whatsapp.net")
            # the phone removes the device: the bot stops, says why, exits 1
            await bot.unlink(device)
            await echo.expect("disconnected: logged out (401)")
            await echo.expect("start over with `wamd pair --reset`")
            assert await echo.wait() == 1, echo.output
        assert "not reconnecting: logged out (401)" in echo.output

        # the stored state is marked logged out: pair says so at once, without connecting
        async with Proc(*wamd, "pair", "--auth", str(auth), *sim_args(sim)) as stale:
            assert await stale.wait() == 1, stale.output
        assert f"{auth} was logged out by WhatsApp (401) at " in stale.output
        assert "start over with `wamd pair --reset`" in stale.output
        assert "connecting" not in stale.output
        assert not _moved_aside(tmp_path)  # nothing moved without asking

        # --reset moves it aside (not deleted) and pairs a new device
        argv = (*wamd, "pair", "--reset", "--auth", str(auth), *sim_args(sim))
        async with Proc(*argv) as fresh:
            (moved_line,) = [await fresh.expect("moved the old auth state aside to ")]
            qr = (await fresh.expect("qr text: ")).split("qr text: ", 1)[1]
            await bot.scan_qr(qr)
            assert await fresh.wait() == 0, fresh.output
        (old,) = _moved_aside(tmp_path)
        assert str(old) in moved_line
        assert "logged out" not in fresh.output.split("moved the old")[1]
        assert "done: paired as 15550001111:" in fresh.output
        async with Proc(*wamd, "pair", "--auth", str(old), *sim_args(sim)) as again:
            assert await again.wait() == 1, again.output  # the old one is still marked
        assert "was logged out by WhatsApp (401)" in again.output


async def test_pair_with_a_phone_code(tmp_path: Path) -> None:
    folder = tmp_path / "auth_info"
    async with SimServer() as sim:
        phone = sim.add_phone("15550003333", "Carol")
        argv = (*wamd_command(), "pair", "--auth-dir", str(folder), "--phone", "+1 555 000 3333")
        async with Proc(*argv, *sim_args(sim)) as pair:
            line = await pair.expect("pairing code: ")
            code = line.split("pairing code: ", 1)[1]
            assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code), line
            where = await pair.expect("waiting for the code: ")
            assert "Link with phone number" not in where, where  # a sim: no phone app
            assert f'$CONTROL/phones/15550003333/code -d \'{{"code": "{code}"}}\'' in where
            # the phone gets the code wrong: said at once, and a new code offered
            wrong = ("2" if code[0] != "2" else "3") + code[1:]
            with pytest.raises(SimError, match="pairing code rejected"):
                await phone.link_with_code(wrong)
            await pair.expect(f"the phone rejected the pairing code {code} (mistyped?)")
            line = await pair.expect("a new pairing code: ")
            fresh = line.split("a new pairing code: ", 1)[1]
            assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", fresh) and fresh != code, line
            await phone.link_with_code(fresh)
            assert await pair.wait() == 0, pair.output
        assert "done: paired as 15550003333:1@s.whatsapp.net" in pair.output
        assert "scan the QR code" not in pair.output and "█" not in pair.output
        assert (folder / "creds.json").exists() and folder.stat().st_mode & 0o777 == 0o700

        # the echo bot on that folder; Ctrl-C stops it cleanly
        argv = (*wamd_command(), "echo", "--auth-dir", str(folder))
        async with Proc(*argv, *sim_args(sim)) as echo:
            await echo.expect(f"auth state: {folder} (paired as 15550003333:1@s.whatsapp.net)")
            await echo.expect("online as 15550003333:1@s.whatsapp.net")
            assert await echo.interrupt() == 0, echo.output
        assert echo.lines[-1].endswith("  stopped"), echo.output


async def test_pair_fails_with_a_reason(tmp_path: Path) -> None:
    async with SimServer() as sim:
        argv = (*wamd_command(), "pair", "--auth", str(tmp_path / "x.sqlite"), "--phone")
        async with Proc(*argv, "15559999999", *sim_args(sim)) as pair:
            assert await pair.wait() == 1, pair.output
        assert "could not get a pairing code for 15559999999" in pair.output
        # a number that is no number: refused before connecting (usage error, exit 2)
        for bad, why in (
            ("abc", "digits only"),
            ("+1 555 12", "7 to 15"),
            ("1555000000012345", "7 to 15"),
            ("0555123456", "no leading 0"),
        ):
            async with Proc(*argv, bad, *sim_args(sim)) as pair:
                assert await pair.wait(timeout=20) == 2, pair.output
            assert f"argument --phone: {bad!r}" in pair.output and why in pair.output
            assert "connecting" not in pair.output

    # nothing listens there: the reason names the address
    argv = (*wamd_command(), "pair", "--auth", str(tmp_path / "y.sqlite"))
    key = "00" * 32
    async with Proc(*argv, "--sim-url", "ws://127.0.0.1:9/ws/chat", "--sim-root-key", key) as p:
        assert await p.wait() == 1, p.output
    assert "cannot connect to ws://127.0.0.1:9/ws/chat" in p.output


async def test_usage_errors_exit_2(tmp_path: Path) -> None:
    argv = (*wamd_command(), "echo", "--auth", str(tmp_path / "z.sqlite"))
    async with Proc(
        *argv, "--sim-url", "ws://127.0.0.1:9/ws/chat", env={"WAMD_SIM_ROOT_KEY": ""}
    ) as p:
        assert await p.wait() == 2
    assert "--sim-url needs --sim-root-key" in p.output
    async with Proc(*wamd_command(), "pair", "--sim-root-key", "abc") as p:
        assert await p.wait() == 2
    assert "64 hexadecimal digits" in p.output
    async with Proc(*wamd_command()) as p:
        assert await p.wait() == 2
    assert "demo" in p.output and "pair" in p.output


async def test_verbose_shows_the_protocol_log_and_twice_the_frame_dumps(tmp_path: Path) -> None:
    async with SimServer() as sim:
        outputs: list[str] = []
        for flag in ("-v", "-vv"):
            argv = (*wamd_command(), "pair", "--auth", str(tmp_path / f"{flag}.sqlite"), flag)
            # an unknown number: the server refuses the code request, the command ends
            async with Proc(*argv, "--phone", "15559999999", *sim_args(sim)) as pair:
                assert await pair.wait() == 1, pair.output
            outputs.append(pair.output)
    once, twice = outputs
    assert re.search(r" DEBUG wamd\.", once), once  # wamd's protocol log
    assert "websockets" not in once, once  # not the library's hex dump of every frame
    assert re.search(r" DEBUG wamd\.", twice), twice
    assert re.search(r" DEBUG websockets\.client: > BINARY ", twice), twice
