"""``examples/echo_bot.py`` against a sim: a phone scans its QR code and receives the echo."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.cli.proc import ROOT, Proc
from wamd.sim import SimPhone, SimServer
from wamd.sim.phone import SimMessage

EXAMPLE = ROOT / "examples" / "echo_bot.py"


async def echo_of(phone: SimPhone, message_id: str) -> SimMessage:
    while True:
        got = await phone.next_message(timeout=10)
        if got.message.extendedTextMessage.contextInfo.stanzaID == message_id:
            return got


async def test_echo_bot_pairs_echoes_and_logs_in_again_with_saved_creds(tmp_path: Path) -> None:
    auth = tmp_path / "auth_info"
    async with SimServer() as sim:
        bot = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        # the sim's url and key come from the environment here (the options work too)
        env = {"WAMD_SIM_URL": sim.url, "WAMD_SIM_ROOT_KEY": sim.root_public_key.hex()}
        argv = (sys.executable, str(EXAMPLE), "--auth-dir", str(auth))
        async with Proc(*argv, env=env) as run:
            qr = (await run.expect("qr text: ")).split("qr text: ", 1)[1]
            await bot.scan_qr(qr)
            await run.expect("online as 15550001111:1@s.whatsapp.net")
            sent = await alice.send_text(bot.jid, "echo this, please")
            echo = await echo_of(alice, sent)
            assert echo.text == "echo this, please" and echo.sender.user == "15550001111"
            assert echo.chat == bot.jid  # on the phone, the chat with the bot
            await run.expect('echoed "echo this, please" to 15550002222@s.whatsapp.net')
            assert await run.interrupt() == 0, run.output
        assert (auth / "creds.json").exists()
        assert auth.stat().st_mode & 0o777 == 0o700

        # the saved creds log in again: no QR code this time
        argv = (
            sys.executable,
            str(EXAMPLE),
            "--auth-dir",
            str(auth),
            "--sim-url",
            sim.url,
            "--sim-root-key",
            sim.root_public_key.hex(),
        )
        async with Proc(*argv) as again:
            await again.expect("online as 15550001111:1@s.whatsapp.net")
            group = await alice.create_group("Friends", [bot.jid])
            sent = await alice.send_text(group.jid, "and in a group")
            echo = await echo_of(alice, sent)
            assert echo.text == "and in a group" and echo.chat == group.jid
            assert await again.interrupt() == 0, again.output
        assert "qr text" not in again.output and "scan the QR code" not in again.output


async def test_echo_bot_refuses_a_sim_url_without_its_key(tmp_path: Path) -> None:
    argv = (sys.executable, str(EXAMPLE), "--auth-dir", str(tmp_path / "a"))
    async with Proc(
        *argv, "--sim-url", "ws://127.0.0.1:9/ws/chat", env={"WAMD_SIM_ROOT_KEY": ""}
    ) as run:
        status = await run.wait()
    assert status == 2
    assert "--sim-url needs --sim-root-key" in run.output
    assert not (tmp_path / "a").exists()
