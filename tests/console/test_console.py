"""The sim console in a real headless Chromium: link the echo bot (``wamd echo``, a
separate process) by pasting its QR text, chat with it as a contact, react, make a group
with it, read the stanza log; and the page's doors: the token, other origins, binds.

Screenshots of the chat view and the stanza log go to the test's temporary folder;
``WAMD_UPDATE_SCREENSHOTS=1`` also writes the chat view to ``docs/console.png`` (the
README's picture).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wamd.sim import SimServer
from wamd.sim.control import ControlServer

BOT, ALICE = "15550000001", "15550000002"
DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT = 60.0


@pytest.fixture
async def console() -> AsyncIterator[ControlServer]:
    async with (
        SimServer(history_sync=None) as sim,
        ControlServer(sim, console=True) as control,
    ):
        sim.add_phone(BOT, "Bot")
        sim.add_phone(ALICE, "Alice")
        yield control


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (8, 8), (18, 140, 126)).save(path, "PNG")
    return path


async def _echo_bot(control: ControlServer, folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    """``wamd echo`` against the sim, and the QR text it printed."""
    sim = control.sim
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wamd.cli",
        "echo",
        "--sim-url",
        sim.url,
        "--sim-root-key",
        sim.root_public_key.hex(),
        "--auth-dir",
        str(folder),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    async with asyncio.timeout(WAIT):
        while True:
            line = (await proc.stdout.readline()).decode()
            assert line, f"wamd echo ended before it showed a QR code: {seen}"
            seen.append(line)
            if "qr text: " in line:
                return proc, line.split("qr text: ", 1)[1].strip()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_link_the_echo_bot_chat_react_and_make_a_group(
    console: ControlServer, page: Any, tmp_path: Path
) -> None:
    sim = console.sim
    bot, bot_qr = await _echo_bot(console, tmp_path / "bot-auth")
    try:
        assert console.console_url is not None
        response = await page.goto(console.console_url)
        assert response.ok and page.url.endswith("/console")  # the token left the address
        await page.wait_for_selector(f'#phones .phone[data-number="{ALICE}"]')

        # link the bot: paste the QR text it printed, as its account's phone
        await page.select_option("#link-phone", BOT)
        await page.fill("#link-qr", bot_qr)
        await page.click("#link-scan")
        await page.wait_for_selector("#link-result:has-text('linked')")
        device = page.locator(f'#phones .phone[data-number="{BOT}"] .device')
        await device.locator(".dot.on").wait_for()  # logged in after the 515 restart
        assert "device 1" in await device.inner_text()

        # chat with it as Alice
        await page.select_option("#chat-phone", ALICE)
        await page.click(f'#chat-list li[data-chat="{BOT}@s.whatsapp.net"]')
        await page.fill("#composer-text", "hello")
        await page.click("#send")
        mine = page.locator("#messages .msg.mine", has_text="hello")
        echo = page.locator("#messages .msg:not(.mine)", has_text="hello")
        await echo.wait_for()
        assert await echo.locator(".quote").inner_text() == "You\nhello"  # it quotes ours
        await mine.locator(".ticks", has_text="✓✓").wait_for()  # delivered to the bot
        echo_id = await echo.get_attribute("data-id")
        received = [m for m in sim.phones[ALICE].received if m.id == echo_id]
        assert received and received[0].text == "hello"

        # react to the echo
        await echo.hover()
        await echo.locator('.react[data-emoji="👍"]').click()
        await echo.locator(".reactions", has_text="👍").wait_for()
        reaction = next(
            m for m in sim.phones[ALICE].endpoint.history if m.message.HasField("reactionMessage")
        )
        assert reaction.message.reactionMessage.key.ID == echo_id
        # the bot's account reads it (blue ticks) and types (shown as it arrives)
        bot_phone = sim.phones[BOT]
        ours = next(m for m in bot_phone.received if m.text == "hello")
        await bot_phone.read(ours)
        await mine.locator(".ticks.read").wait_for()
        await bot_phone.send_chatstate(sim.phones[ALICE].jid, "composing")
        await page.wait_for_selector("#typing:has-text('Bot is typing')")
        await page.screenshot(path=str(tmp_path / "chat.png"))

        # a picture, shown inline once the phone has it; a poll; a delete
        await page.set_input_files("#attach", str(_png(tmp_path / "dot.png")))
        image = page.locator("#messages .msg.mine img.inline")
        await image.wait_for()
        assert await image.evaluate("img => img.decode().then(() => img.naturalWidth)") == 8
        await page.click("#poll-open")
        await page.fill("#poll-name", "Lunch?")
        await page.fill("#poll-options", "Pizza, Soup")
        await page.click("#poll-send")
        await page.locator("#messages .msg.mine .poll", has_text="Lunch?").wait_for()
        assert await page.locator("#messages .msg.mine .poll .vote").all_inner_texts() == [
            "Pizza",
            "Soup",
        ]
        hello = page.locator(f'#messages .msg[data-id="{await mine.get_attribute("data-id")}"]')
        await hello.hover()
        await hello.locator(".delete").click()
        await hello.locator(".deleted").wait_for()
        assert any(
            m.message.HasField("protocolMessage") for m in bot_phone.received
        )  # the bot's phone got the revoke

        # a group with the bot: it says hello back there too
        await page.click("#chat-side summary")
        await page.fill("#group-subject", "Team")
        await page.check(f'.group-member[value="{BOT}"]')
        await page.click("#group-create")
        await page.wait_for_selector("#messages .system:has-text('created the group')")
        assert await page.inner_text("#chat-title") == "Team"
        await page.fill("#composer-text", "hello")
        await page.click("#send")
        bot_hello = page.locator("#messages .msg:not(.mine)", has_text="hello")
        await bot_hello.wait_for()
        assert await bot_hello.locator(".who").inner_text() == "Bot"
        (group,) = sim.groups.values()
        assert set(group.participants) == {ALICE, BOT}
        await page.screenshot(path=str(tmp_path / "group.png"))
        if os.environ.get("WAMD_UPDATE_SCREENSHOTS") == "1":
            shutil.copy(tmp_path / "chat.png", DOCS / "console.png")

        # the stanza log: the bot's connection, its messages both ways
        await page.click("#tab-stanzas")
        await page.select_option("#log-account", BOT)
        await page.fill("#log-tag", "message")
        rows = page.locator("#log-rows tr.entry")
        await rows.first.wait_for()
        tags = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.tag)"))
        classes = await rows.evaluate_all("rows => rows.map(r => r.className)")
        assert tags == {"message"} and any("out" in c for c in classes)
        assert any(" in" in c for c in classes)  # the bot's echo, read by the sim
        await rows.first.click()  # decoded
        assert "<message" in await page.inner_text("#log-rows tr.xml pre")
        await page.screenshot(path=str(tmp_path / "stanzas.png"))

        # faults: lose the bot's receipts, then no more faults; the clock
        await page.click("#tab-faults")
        await page.select_option("#fault-device", f"{BOT}:1@s.whatsapp.net")
        await page.click("#fault-receipts")
        await page.locator("#rules tr", has_text="receipt").wait_for()
        (rule,) = sim.faults.rules
        assert rule.kind == "drop" and rule.direction == "in" and rule.tags == {"receipt"}
        await page.click("#rule-clear")
        await page.locator("#rules tr").wait_for(state="detached")
        await page.fill("#clock-days", "2")
        await page.click("#clock-move")
        await page.wait_for_selector("#clock:has-text('+2.0 d')")
        assert sim.clock_offset == 2 * 86400
        assert page.errors == []
    finally:
        await _stop(bot)


async def test_add_an_account_link_by_code_run_a_group_unlink_and_watch_the_expiry(
    console: ControlServer, page: Any
) -> None:
    from wamd.testing import new_auth_state, pair_companion, socket_for, wait_received

    sim = console.sim
    carol = "15550000003"
    assert console.console_url is not None
    await page.goto(console.console_url)
    await page.fill("#add-number", carol)
    await page.fill("#add-name", "Carol")
    await page.click("#add-phone")
    card = page.locator(f'#phones .phone[data-number="{carol}"]')
    await card.wait_for()
    assert sim.phones[carol].name == "Carol"

    # a socket asks for a pairing code; Carol's phone types it in the page
    sock = socket_for(sim, new_auth_state())
    opened = asyncio.ensure_future(
        sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=WAIT)
    )
    await sock.connect()
    try:
        code = await sock.request_pairing_code(carol)
        await page.select_option("#link-phone", carol)
        await page.fill("#link-code", f"{code[:4]}-{code[4:]}")
        await page.click("#link-code-enter")
        await page.wait_for_selector("#link-result:has-text('linked')")
        await opened
        await card.locator(".device .dot.on").wait_for()

        # Alice makes a group with Carol and runs it: the notifications show in the chat
        await page.select_option("#chat-phone", ALICE)
        await page.click("#chat-side summary")
        await page.fill("#group-subject", "Team")
        await page.check(f'.group-member[value="{carol}"]')
        await page.click("#group-create")
        panel = page.locator("#group-panel")
        member = panel.locator(f'.member[data-jid="{carol}@s.whatsapp.net"]')
        await member.locator(".promote").click()
        await page.wait_for_selector("#messages .system:has-text('made Carol an admin')")
        await member.locator(".demote").wait_for()
        await page.fill("#subject-input", "Crew")
        await page.click("#subject-set")
        await page.wait_for_selector("#messages .system:has-text('changed the subject to “Crew”')")
        assert await page.inner_text("#chat-title") == "Crew"
        await page.fill("#composer-text", "helo all")
        await page.click("#send")
        typo = page.locator("#messages .msg.mine", has_text="helo all")
        await typo.wait_for()
        typo_id = await typo.get_attribute("data-id")
        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("hello all")))
        await typo.hover()
        await typo.locator(".edit").click()
        fixed = page.locator(f'#messages .msg[data-id="{typo_id}"]')
        await fixed.locator(".meta", has_text="edited").wait_for()
        assert await fixed.locator(".body").inner_text() == "hello all"
        edit = await wait_received(sim.phones[carol], lambda m: m.message.HasField("editedMessage"))
        assert edit.message.editedMessage.message.protocolMessage.key.ID == typo_id
        await panel.locator("#add-member").select_option(BOT)
        await panel.locator("#add-member-go").click()
        await page.wait_for_selector("#messages .system:has-text('added Bot')")
        await member.locator(".remove").click()
        await page.wait_for_selector("#messages .system:has-text('removed Carol')")
        (group,) = sim.groups.values()
        assert group.subject == "Crew" and set(group.participants) == {ALICE, BOT}

        # another companion of Alice's, unlinked from the page
        other = await pair_companion(sim, sim.phones[ALICE])
        alice_card = page.locator(f'#phones .phone[data-number="{ALICE}"]')
        await alice_card.locator(f'.device[data-jid="{other.jid}"] .unlink').click()
        await alice_card.locator(".device").wait_for(state="detached")
        kicked = await other.next("stream:error")
        assert kicked.attrs["code"] == "401"

        # Carol's phone goes offline and the clock moves 15 days: her companion expires
        await card.locator(".toggle-online").click()
        await card.locator(".toggle-online", has_text="go online").wait_for()
        await page.fill("#clock-days", "15")
        await page.click("#clock-move")
        await card.locator(".device").wait_for(state="detached")
        closed = await sock.wait_closed()
        assert closed is not None and closed.status_code == 401
        assert page.errors == []
    finally:
        opened.cancel()
        await sock.end()


async def _evil_site() -> tuple[web.AppRunner, int]:
    """A page on another origin (127.0.0.1, another port: the same site, so the
    console's SameSite cookie goes along) that tries to drive the console."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>evil</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


ATTACK = """async ([base, ws]) => {
  const out = {};
  try {  // a form-like POST needs no preflight: it reaches the server, with the cookie
    await fetch(base + "phones", {method: "POST", mode: "no-cors", credentials: "include",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify({number: "15550009999"})});
    out.post = "sent";
  } catch (e) { out.post = "failed"; }
  try {
    const r = await fetch(base + "phones", {credentials: "include"});
    out.read = r.status;
  } catch (e) { out.read = "blocked"; }
  out.ws = await new Promise((done) => {
    const socket = new WebSocket(ws);
    socket.onopen = () => done("open");
    socket.onerror = () => done("refused");
  });
  return out;
}"""


async def test_the_console_is_refused_without_the_token_and_from_another_origin(
    console: ControlServer, page: Any
) -> None:
    base = console.url
    response = await page.goto(base + "console")
    assert response.status == 401 and "token" in await page.inner_text("body")
    response = await page.goto(base + "console?token=" + "x" * 32)
    assert response.status == 401
    response = await page.goto(base + "console/static/console.js")
    assert response.status == 401  # even the page's files
    assert console.console_url is not None
    response = await page.goto(console.console_url)  # now the browser holds the cookie
    assert response.ok
    await page.wait_for_selector("#link-state:has-text('live')")

    runner, port = await _evil_site()
    try:
        await page.goto(f"http://127.0.0.1:{port}/")
        ws = f"ws://127.0.0.1:{console.port}/console/events"
        result = await page.evaluate(ATTACK, [base, ws])
        assert result == {"post": "sent", "read": "blocked", "ws": "refused"}, result
        assert "15550009999" not in console.sim.phones  # the POST was refused (403)
        # the console's own origin, with the cookie, is served
        await page.goto(console.url + "console")
        await page.wait_for_selector("#link-state:has-text('live')")
        assert page.errors == []
    finally:
        await runner.cleanup()


def test_the_console_needs_a_loopback_bind_unless_allowed() -> None:
    sim = SimServer()
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(ValueError, match="console"):
            ControlServer(sim, host, allow_remote=True, console=True)
        # told twice (the interface and the console): accepted (not bound here)
        ControlServer(sim, host, allow_remote=True, console=True, console_allow_remote=True)
    ControlServer(sim, "127.0.0.1", console=True)
    ControlServer(sim, "::1", console=True)


async def test_wamd_sim_console_refuses_a_remote_bind_and_prints_its_address() -> None:
    async def run(*args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wamd.cli",
            "sim",
            "--port",
            "0",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )

    refused = await run("--console", "--control-host", "0.0.0.0", "--control-allow-remote")
    out, err = await asyncio.wait_for(refused.communicate(), 30)
    assert refused.returncode == 2 and b"console" in err and b"loopback" in err and out == b""

    proc = await run("--console", "--control-port", "0")
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        async with asyncio.timeout(30):
            while (line := (await proc.stdout.readline()).decode().strip()) != "ready":
                assert line, "wamd sim exited early"
                name, _, value = line.partition(": ")
                lines[name] = value
        control, token, page = lines["control"], lines["token"], lines["console"]
        assert page == f"{control}console?token={token}"
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_console_refuses_a_peer_on_another_address(console: ControlServer) -> None:
    """The console answers only this machine's browsers (the peer's address, not the
    Host header, decides)."""
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from wamd.sim.control import HTTPError

    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("192.168.1.20", 50000) if name == "peername" else default
    )
    request = make_mocked_request("GET", "/console", transport=transport)
    with pytest.raises(HTTPError) as refused:
        console._check_console_peer(request)
    assert refused.value.status == 403 and "this machine only" in refused.value.message
    console.console_allow_remote = True
    console._check_console_peer(request)  # told: served
