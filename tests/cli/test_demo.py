"""``wamd demo`` as a user runs it: a subprocess, its transcript and its exit status."""

from __future__ import annotations

import re

from tests.cli.proc import Proc, wamd_command

TIMED = re.compile(r"^\s*\d+\.\d{3}s  (\S+)\s+(.*)$")


async def test_demo_passes_with_a_readable_timed_transcript() -> None:
    async with Proc(*wamd_command(), "demo") as demo:
        status = await demo.wait(timeout=120)  # a bound against a hang, not a speed check
    out = demo.output
    assert status == 0, out
    # every event line carries the time since start and who acted
    timed = [TIMED.match(line) for line in demo.lines]
    events = [(m.group(1), m.group(2)) for m in timed if m]
    assert len(events) >= 30, out
    times = [float(line.split("s", 1)[0]) for line in demo.lines if TIMED.match(line)]
    assert times == sorted(times)
    said = {actor: [text for a, text in events if a == actor] for actor, _ in events}
    # loopback only
    assert any(t.startswith("listening on ws://127.0.0.1:") for t in said["sim"]), out
    assert all("127.0.0.1" in url for url in re.findall(r"wss?://[^/\s]+", out))
    # pairing by QR: the QR is printed, the phone scans it, the bot logs in
    assert "█" in out or "#" in out
    assert "Echo Bot's phone scans the QR code" in said["phone"]
    assert "paired as 15550001111:1@s.whatsapp.net" in said["bot"]
    # the push name follows once the account's app state has told it (timing: either form)
    online = re.compile(r"online as 15550001111:1@s\.whatsapp\.net( \(Echo Bot\))?$")
    assert any(online.match(t) for t in said["bot"]), out
    # echoes in 1:1 chats and in the group, each quoting the original
    for actor, text in (
        ("Alice", "Hi! Is this the echo bot?"),
        ("Bob", "¿Hablas español? 👋"),
        ("Carol", "Hello everyone, what are we reading?"),
        ("Bob", "Are you still there?"),
    ):
        assert (
            f'to Echo Bot: "{text}"' in said[actor]
            or f'to Book club: "{text}"' in said[actor]
            or f'to Echo Bot, while it is away: "{text}"' in said[actor]
        ), out
        assert any(t.startswith(f'from Echo Bot: "{text}" (quoting,') for t in said[actor]), out
    # what is not echoed, and the reconnect
    assert "gets a message from its own account: not echoed (our own message)" in said["bot"]
    assert "gets a message from Alice: not echoed (no text)" in said["bot"]
    assert any(
        re.match(r"connection closed \(428\); reconnecting in \d+\.\d s", t) for t in said["bot"]
    )
    assert sum(1 for t in said["bot"] if t.startswith("online as")) == 2
    failed = [t for t in said["check"] if not t.startswith("ok: ")]
    assert not failed and len(said["check"]) == 9
    assert re.search(r"^demo passed: 9 checks in \d+\.\d\d s", out, re.M), out


async def test_demo_fails_with_a_reason_and_status_1_when_out_of_time() -> None:
    async with Proc(*wamd_command(), "demo", "--timeout", "0.05") as demo:
        status = await demo.wait(timeout=30)
    assert status == 1, demo.output
    assert re.search(r"^demo FAILED: .+", demo.output, re.M), demo.output
    assert "demo passed" not in demo.output
