"""The control routes issue 21 and the console need: media sent from a file and fetched
back decrypted, edits, deletes, polls and votes, chat actions (app state), a phone's
history and the group list; the message JSON that describes each."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from tests.sim.raw import pair_companion
from tests.sim.test_control import Control, control
from wamd.binary import JID

__all__ = ["control"]  # the fixture, shared with test_control

ALICE, BOB = "15550001111", "15550002222"


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def _phones(control: Control) -> None:
    for number, name in ((ALICE, "Alice"), (BOB, "Bob")):
        await control.ok("POST", "/phones", {"number": number, "name": name}, 201)


async def _next(control: Control, number: str) -> Any:
    return await control.ok("GET", f"/phones/{number}/messages/next?timeout=10")


async def _upload(control: Control, number: str, data: bytes, **query: str) -> tuple[int, Any]:
    head = (
        f"POST /phones/{number}/send-media?{urlencode(query)} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\n{control.auth}Content-Type: application/octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return await control.raw(head.encode() + data)


async def _bytes(control: Control, path: str) -> tuple[int, str, bytes]:
    import asyncio
    import re

    reader, writer = await asyncio.open_connection("127.0.0.1", control.port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{control.auth}Connection: close\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    kind = re.search(rb"(?i)content-type: *([^\r;]+)", head)
    assert length is not None and kind is not None
    body = await asyncio.wait_for(reader.readexactly(int(length.group(1))), 10)
    writer.close()
    return int(head.split()[1]), kind.group(1).decode(), body


async def test_media_from_a_file_and_back_decrypted(control: Control) -> None:
    await _phones(control)
    png = _png()
    status, sent = await _upload(control, ALICE, png, to=BOB, kind="image", caption="a pic")
    assert status == 200 and sent["kind"] == "image" and sent["size"] == len(png), sent
    got = await _next(control, BOB)
    assert got["id"] == sent["id"] and got["kinds"] == ["imageMessage"]
    media = got["media"]
    assert media["kind"] == "image" and media["caption"] == "a pic"
    assert media["mimetype"] == "image/png" and media["size"] == len(png)
    assert (media["width"], media["height"]) == (8, 6)
    assert media["url"] == f"/phones/{BOB}/media/{sent['id']}" and "error" not in media
    got_bytes = await _bytes(control, media["url"])
    assert got_bytes == (200, "image/png", png), got_bytes[2][:300]
    # the sender's own copy, for its chat view
    assert await _bytes(control, f"/phones/{ALICE}/media/{sent['id']}") == (200, "image/png", png)

    pdf = b"%PDF-1.4 not much of a document"
    status, sent = await _upload(control, BOB, pdf, to=ALICE, kind="document", file_name="a.pdf")
    assert status == 200, sent
    got = await _next(control, ALICE)
    assert got["media"]["file_name"] == "a.pdf" and got["media"]["kind"] == "document"
    assert (await _bytes(control, got["media"]["url"]))[2] == pdf

    for query, body, code, words in (
        ({"to": BOB, "kind": "hologram"}, png, 400, "'kind'"),
        ({"to": BOB, "kind": "image", "captoin": "x"}, png, 400, "unknown field 'captoin'"),
        ({"to": BOB, "kind": "image"}, b"", 400, "the file"),
        ({"to": "15559999999", "kind": "image"}, png, 404, "no account"),
        ({"kind": "image"}, png, 400, "'to'"),
        ({"to": BOB, "kind": "audio", "seconds": "ten"}, png, 400, "'seconds'"),
    ):
        status, payload = await _upload(control, ALICE, body, **query)
        assert status == code and words in payload["error"], (query, payload)
    text = await control.ok("POST", f"/phones/{ALICE}/send", {"to": BOB, "text": "plain"})
    for path, code in (
        (f"/phones/{ALICE}/media/{text['id']}", 404),  # no media in it
        (f"/phones/{ALICE}/media/NOSUCHID", 404),
        (f"/phones/19999999999/media/{text['id']}", 404),
    ):
        status, _, body = await _bytes(control, path)
        assert status == code, (path, body)


async def test_edits_deletes_polls_and_votes(control: Control) -> None:
    await _phones(control)
    bob_device = await pair_companion(control.sim, control.sim.phones[BOB])
    await bob_device.upload_prekeys(5)
    hello = await control.ok("POST", f"/phones/{ALICE}/send", {"to": BOB, "text": "helo"})
    assert (await _next(control, BOB))["text"] == "helo"
    assert "edit" not in (await bob_device.next("message")).attrs
    edit = await control.ok("POST", f"/phones/{ALICE}/edit", {"id": hello["id"], "text": "hello"})
    got = await _next(control, BOB)
    assert got["id"] == edit["id"] and got["edit"] == {"target": hello["id"], "text": "hello"}
    # whatsmeow getEditAttribute: an edit's stanza says edit="1", a sender's revoke "7"
    assert (await bob_device.next("message")).attrs["edit"] == "1"
    await control.ok("POST", f"/phones/{ALICE}/revoke", {"id": hello["id"]})
    got = await _next(control, BOB)
    assert got["revoke"] == {"target": hello["id"]}
    assert (await bob_device.next("message")).attrs["edit"] == "7"
    for path, body, code in (
        (f"/phones/{BOB}/edit", {"id": hello["id"], "text": "mine now"}, 404),  # not Bob's
        (f"/phones/{ALICE}/edit", {"id": hello["id"]}, 400),
        (f"/phones/{ALICE}/revoke", {"id": ""}, 400),
    ):
        status, payload = await control.call("POST", path, body)
        assert status == code, (path, payload)

    poll = await control.ok(
        "POST",
        f"/phones/{ALICE}/poll",
        {"to": BOB, "name": "Lunch?", "options": ["Pizza", "Soup"]},
    )
    got = await _next(control, BOB)
    assert got["id"] == poll["id"]
    assert got["poll"] == {"name": "Lunch?", "options": ["Pizza", "Soup"], "selectable": 1}
    await control.ok("POST", f"/phones/{BOB}/vote", {"id": poll["id"], "options": ["Soup"]})
    vote = await _next(control, ALICE)
    assert vote["vote"] == {"target": poll["id"], "options": ["Soup"]}
    for body in (
        {"to": BOB, "name": "x", "options": ["one"]},
        {"to": BOB, "name": "x", "options": ["a", "a"]},
        {"to": BOB, "name": "x", "options": ["a", "b"], "selectable": 3},
    ):
        status, _ = await control.call("POST", f"/phones/{ALICE}/poll", body)
        assert status == 400, body
    status, _ = await control.call("POST", f"/phones/{BOB}/vote", {"id": "nope", "options": []})
    assert status == 404

    history = await control.ok("GET", f"/phones/{ALICE}/history")
    mine = [m for m in history["messages"] if m["from_me"]]
    assert [m["id"] for m in mine][:2] == [hello["id"], edit["id"]]
    assert history["next"] == len(history["messages"])
    assert (await control.ok("GET", f"/phones/{ALICE}/history?after=99"))["messages"] == []


async def test_chat_actions_are_app_state_patches(control: Control) -> None:
    await _phones(control)
    alice = control.sim.phones[ALICE]
    bob_jid = str(JID(BOB, "s.whatsapp.net"))
    done = await control.ok("POST", f"/phones/{ALICE}/chat", {"chat": BOB, "action": "archive"})
    assert done["chat"] == bob_jid and done["version"] >= 1
    setting = alice.chat_setting(("archive", bob_jid))
    assert setting is not None and setting.archiveChatAction.archived is True
    await control.ok("POST", f"/phones/{ALICE}/chat", {"chat": BOB, "action": "unarchive"})
    setting = alice.chat_setting(("archive", bob_jid))
    assert setting is not None and setting.archiveChatAction.archived is False
    await control.ok("POST", f"/phones/{ALICE}/chat", {"chat": BOB, "action": "pin"})
    assert alice.chat_setting(("pin_v1", bob_jid)) is not None
    for body in (
        {"chat": BOB, "action": "explode"},
        {"chat": BOB, "action": "mute", "until_ms": "x"},
    ):
        status, payload = await control.call("POST", f"/phones/{ALICE}/chat", body)
        assert status == 400, payload

    group = await control.ok(
        "POST", f"/phones/{ALICE}/groups", {"subject": "Team", "members": [BOB]}, 201
    )
    listed = await control.ok("GET", "/groups")
    assert listed["groups"] == [
        {
            "jid": group["jid"],
            "subject": "Team",
            "creator": f"{ALICE}@s.whatsapp.net",
            "participants": {
                f"{ALICE}@s.whatsapp.net": "superadmin",
                f"{BOB}@s.whatsapp.net": "member",
            },
        }
    ]
