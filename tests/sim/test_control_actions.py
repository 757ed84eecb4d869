"""The control interface does what ``SimPhone`` does: reactions, reads, typing, quoted
replies and mentions, group membership and subject; it refuses unknown fields and a scan
whose companion went away; every answer ends with a newline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.sim.test_control import Control, control
from wamd.binary import Node
from wamd.pairing import make_qr_string
from wamd.store import init_auth_creds
from wamd.testing.raw import SERVER, open_raw, registration

__all__ = ["control"]  # the fixture, shared with test_control

ALICE, BOB, CAROL = "15550001111", "15550002222", "15550003333"


async def _phones(control: Control) -> None:
    for number, name in ((ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")):
        await control.ok("POST", "/phones", {"number": number, "name": name}, 201)


async def _next(control: Control, number: str) -> Any:
    return await control.ok("GET", f"/phones/{number}/messages/next?timeout=10")


async def test_reactions_quotes_mentions_reads_and_typing(control: Control) -> None:
    await _phones(control)
    hello = await control.ok("POST", f"/phones/{ALICE}/send", {"to": BOB, "text": "hello Bob"})
    got = await _next(control, BOB)
    assert got["id"] == hello["id"] and "quoted_id" not in got and "reaction" not in got

    reply = await control.ok(
        "POST",
        f"/phones/{BOB}/send",
        {"to": ALICE, "text": "hi @Carol", "quoted": hello["id"], "mentions": [CAROL]},
    )
    seen = await _next(control, ALICE)
    assert seen["id"] == reply["id"] and seen["text"] == "hi @Carol"
    assert seen["quoted_id"] == hello["id"]
    assert seen["mentions"] == [f"{CAROL}@s.whatsapp.net"]

    reacted = await control.ok("POST", f"/phones/{BOB}/react", {"id": hello["id"], "emoji": "👍"})
    reaction = await _next(control, ALICE)
    assert reaction["id"] == reacted["id"]
    assert reaction["reaction"] == {"target": hello["id"], "emoji": "👍"}

    await control.ok("POST", f"/phones/{BOB}/read", {"id": hello["id"]})
    alice = control.sim.phones[ALICE]
    receipt = await alice.wait_receipt(hello["id"], "read")
    assert receipt.type == "read"

    typing = await control.ok("POST", f"/phones/{BOB}/typing", {"to": ALICE})
    assert typing == {"to": f"{ALICE}@s.whatsapp.net", "state": "composing"}

    for path, body, status, words in (
        (f"/phones/{BOB}/react", {"id": "nope", "emoji": "x"}, 404, "received no message"),
        (f"/phones/{BOB}/send", {"to": ALICE, "text": "x", "quoted": "nope"}, 404, "no message"),
        (f"/phones/{BOB}/send", {"to": ALICE, "text": "x", "mentions": "C"}, 400, "mentions"),
        (f"/phones/{BOB}/typing", {"to": ALICE, "state": "dancing"}, 400, "'state'"),
        (f"/phones/{BOB}/read", {}, 400, "'id'"),
    ):
        got_status, payload = await control.call("POST", path, body)
        assert got_status == status and words in payload["error"], (path, payload)


async def test_group_membership_and_subject(control: Control) -> None:
    await _phones(control)
    group = await control.ok(
        "POST", f"/phones/{ALICE}/groups", {"subject": "Team", "members": [BOB]}, 201
    )
    gid = group["jid"].split("@")[0]
    sim_group = control.sim.groups[gid]
    added = await control.ok("POST", f"/phones/{ALICE}/groups/{gid}/add", {"members": [CAROL]})
    assert added["results"] == {f"{CAROL}@s.whatsapp.net": 0}
    assert CAROL in sim_group.participants
    again = await control.ok("POST", f"/phones/{ALICE}/groups/{gid}/add", {"members": [CAROL]})
    assert again["results"] == {f"{CAROL}@s.whatsapp.net": 409}  # already in
    await control.ok("POST", f"/phones/{ALICE}/groups/{group['jid']}/promote", {"members": [BOB]})
    assert sim_group.participants[BOB] == "admin"
    await control.ok("POST", f"/phones/{ALICE}/groups/{gid}/demote", {"members": [BOB]})
    assert sim_group.participants[BOB] is None
    await control.ok("POST", f"/phones/{ALICE}/groups/{gid}/remove", {"members": [CAROL]})
    assert CAROL not in sim_group.participants
    renamed = await control.ok("POST", f"/phones/{ALICE}/groups/{gid}/subject", {"subject": "Crew"})
    assert renamed["subject"] == "Crew" and sim_group.subject == "Crew"

    status, payload = await control.call(
        "POST", f"/phones/{CAROL}/groups/{gid}/subject", {"subject": "x"}
    )
    assert status == 409 and "not a member" in payload["error"]
    status, payload = await control.call(
        "POST", f"/phones/{ALICE}/groups/999/add", {"members": [BOB]}
    )
    assert status == 404 and "no group" in payload["error"]
    status, payload = await control.call(
        "POST", f"/phones/{ALICE}/groups/{gid}/add", {"members": []}
    )
    assert status == 400


async def test_unknown_fields_are_refused_naming_them(control: Control) -> None:
    await _phones(control)
    status, payload = await control.call(
        "POST", f"/phones/{ALICE}/send", {"to": BOB, "text": "x", "qouted": "typo"}
    )
    assert status == 400 and "unknown field 'qouted'" in payload["error"]
    assert "mentions, quoted, text, to" in payload["error"]
    status, payload = await control.call("POST", f"/phones/{ALICE}/offline", {"now": True})
    assert status == 400 and "takes: no body" in payload["error"]
    assert not control.sim.phones[BOB].received  # nothing was sent


async def test_every_answer_ends_with_a_newline(control: Control) -> None:
    for request in (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{control.auth}\r\n",
        f"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n{control.auth}\r\n",
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # 401
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", control.port)
        writer.write(request.encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        response = await asyncio.wait_for(reader.readexactly(length), 10)
        writer.close()
        assert response.endswith(b"}\n"), response[-40:]


async def test_a_scan_whose_companion_went_away_is_a_409(control: Control) -> None:
    await _phones(control)
    creds = init_auth_creds()
    conn = await open_raw(control.sim, registration(creds), 3, creds.noise_key)
    pair_device = await asyncio.wait_for(conn.receive(), 10)
    await conn.send(Node("iq", {"to": SERVER, "type": "result", "id": pair_device.attrs["id"]}))
    ref = pair_device.require_child("pair-device").get_children("ref")[0]
    qr = make_qr_string(
        ref.content_bytes() or b"",
        creds.noise_key.public,
        creds.signed_identity_key.public,
        creds.adv_secret_key,
    )
    # the scan reaches the companion (pair-success), which goes away instead of answering
    scan = asyncio.ensure_future(control.call("POST", f"/phones/{ALICE}/scan", {"qr": qr}))
    success = await asyncio.wait_for(conn.receive(), 10)
    assert success.get_child("pair-success") is not None
    await conn.close()
    status, payload = await asyncio.wait_for(scan, 40)
    assert status == 409, payload
    assert "gone" in payload["error"], payload
    assert not control.sim.phones[ALICE].companions  # nothing half-linked

    # a QR code whose companion left before the scan: 409 too
    status, payload = await control.call("POST", f"/phones/{ALICE}/scan", {"qr": qr})
    assert status == 409 and "no longer" in payload["error"], payload


def test_wamd_sim_refuses_a_repeated_phone(capsys: pytest.CaptureFixture[str]) -> None:
    from wamd.cli import main

    argv = ["sim", "--port", "0", "--phone", "15550001111:A", "--phone", "+15550001111:B"]
    assert main(argv) == 2
    assert "--phone 15550001111 given more than once" in capsys.readouterr().err
