"""Media end to end on a real sim over loopback: phones and the bot, both ways, on every
store; expired media re-requested from the phone; tampered blobs; history blobs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.client.conftest import Inbox, record_sends
from tests.client.stores import every_store, link
from wamd.errors import MediaIntegrityError, MediaRetryError, MediaUnavailable, NotMedia
from wamd.media.crypto import media_retry_decrypt
from wamd.messaging.types import HistorySet, MediaUpdate
from wamd.proto import e2e_pb2, mms_retry_pb2
from wamd.sim import SimServer
from wamd.sim.state import HistorySyncPolicy
from wamd.testing import settle, wait_received

pytestmark = pytest.mark.usefixtures(every_store.__name__)


def png(width: int = 40, height: int = 30) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def webp() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 255, 128)).save(out, "WEBP")
    return out.getvalue()


OGG = b"OggS" + os.urandom(3000)
MP4 = b"\x00\x00\x00\x18ftypmp42" + os.urandom(40_000)
PDF = b"%PDF-1.4\n" + os.urandom(20_000)


async def test_a_phone_sends_each_kind_and_the_bot_downloads_it(
    sim: SimServer, tmp_path: Path
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    image = png()
    sent = {
        await alice.send_image(bot_phone.jid, image, caption="a photo"): ("image", image),
        await alice.send_document(bot_phone.jid, PDF, "invoice.pdf"): ("document", PDF),
        await alice.send_media(bot_phone.jid, "audio", OGG, ptt=True, seconds=3): ("ptt", OGG),
        await alice.send_media(bot_phone.jid, "video", MP4, seconds=2): ("video", MP4),
        await alice.send_media(bot_phone.jid, "sticker", webp()): ("sticker", None),
    }
    for mid, (kind, data) in sent.items():
        got = await inbox.wait(lambda m, mid=mid: m.key.id == mid)
        media = got.media
        assert media is not None and media.kind == kind
        body = await sock.download_media(got)
        assert body is not None and media.file_length == len(body)
        if data is not None:
            assert body == data
        if kind == "image":
            assert media.mimetype == "image/png" and media.caption == "a photo"
            assert (media.width, media.height) == (40, 30)
            assert got.text == "a photo"
        if kind == "document":
            assert media.file_name == "invoice.pdf" and media.mimetype == "application/pdf"
            target = tmp_path / "invoice.pdf"
            assert await sock.download_media(got, to=target) is None
            assert target.read_bytes() == PDF
            assert not (tmp_path / "invoice.pdf.part").exists()
        if kind == "ptt":
            assert media.seconds == 3 and media.mimetype == "audio/ogg; codecs=opus"
            stream = io.BytesIO()
            await sock.download_media(got, to=stream)
            assert stream.getvalue() == OGG
        if kind == "sticker":
            assert media.mimetype == "image/webp" and media.width == 64
    await sock.end()


async def test_the_bot_sends_each_kind_to_a_phone_and_a_group(
    sim: SimServer, tmp_path: Path
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bob = sim.add_phone("15550003333", "Bob")
    group = await alice.create_group("Team", [bot_phone.jid, bob.jid])
    sock = await link(sim, bot_phone)
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)

    async def stream():  # type: ignore[no-untyped-def]
        for i in range(0, len(MP4), 7000):
            yield MP4[i : i + 7000]

    progress: list[tuple[int, int]] = []
    contents = [
        ({"image": png(), "caption": "look"}, "image", "imageMessage"),
        ({"document": path, "mimetype": "application/pdf"}, "document", "documentMessage"),
        (
            {"audio": OGG, "ptt": True, "seconds": 4, "waveform": bytes(range(64))},
            "ptt",
            "audioMessage",
        ),
        ({"video": stream(), "gif_playback": True}, "gif", "videoMessage"),
        ({"sticker": webp()}, "sticker", "stickerMessage"),
    ]
    sends = record_sends(sock)
    for chat in (alice.jid, group.jid):
        for content, mediatype, field in contents:
            if mediatype == "gif":
                content = {"video": stream(), "gif_playback": True}
            message = await sock.send_message(
                chat, content, upload_progress=lambda s, t: progress.append((s, t))
            )
            receiver = alice if chat == alice.jid else bob
            got = await wait_received(receiver, lambda m, i=message.key.id: m.id == i)
            assert got.message.HasField(field)
            await settle(sim, sock)
            data = receiver.received_media[message.key.id]
            assert isinstance(data, bytes)
            original = {
                "image": None,
                "document": PDF,
                "ptt": OGG,
                "gif": MP4,
                "sticker": None,
            }[mediatype]
            if original is not None:
                assert data == original
            stanza = sends.of("message")[-1]
            assert stanza.attrs["type"] == "media"
            mediatypes = _enc_mediatypes(stanza)
            if chat == group.jid:
                assert mediatypes["skmsg"] == {mediatype}
                assert mediatypes.get("pkmsg", set()) <= {None}  # key distributions: none
            else:
                assert {t for types in mediatypes.values() for t in types} == {mediatype}
    assert progress and progress[-1][0] == progress[-1][1]
    image_message = next(m for m in alice.received if m.message.HasField("imageMessage"))
    assert image_message.message.imageMessage.JPEGThumbnail  # Pillow made one
    assert image_message.message.imageMessage.width == 40
    pdf = next(m for m in alice.received if m.message.HasField("documentMessage"))
    assert pdf.message.documentMessage.fileName == "report.pdf"
    await sock.end()


def _enc_mediatypes(stanza):  # type: ignore[no-untyped-def]
    out: dict[str, set[str | None]] = {}
    stack = [stanza]
    while stack:
        node = stack.pop()
        for child in node.get_children():
            if child.tag == "enc":
                out.setdefault(child.attrs["type"], set()).add(child.attrs.get("mediatype"))
            else:
                stack.append(child)
    return out


async def test_replies_and_mentions_with_media(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    mid = await alice.send_text(bot_phone.jid, "send me the file")
    question = await inbox.wait(lambda m: m.key.id == mid)
    reply = await sock.send_message(
        alice.jid,
        {"document": PDF, "file_name": "a.pdf", "mentions": [str(alice.jid)]},
        quoted=question,
    )
    got = await wait_received(alice, lambda m: m.id == reply.key.id)
    context = got.message.documentMessage.contextInfo
    assert context.stanzaID == mid and list(context.mentionedJID) == [str(alice.jid)]
    assert context.quotedMessage.conversation == "send me the file"
    await sock.end()


async def test_expired_media_is_uploaded_again_by_the_phone(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    mid = await alice.send_document(bot_phone.jid, PDF, "old.pdf")
    got = await inbox.wait(lambda m: m.key.id == mid)
    await settle(sim, sock)  # the bot's phone has fetched its copy
    sim.clock_offset = sim.media.store.ttl + 60  # a month later: the blob is gone
    with pytest.raises(MediaUnavailable) as gone:
        await sock.download_media(got, reupload=False)
    assert gone.value.status == 410 and gone.value.expired
    updates: list[MediaUpdate] = []
    sock.ev.on("messages.media-update", updates.extend)
    assert await sock.download_media(got) == PDF  # asked the phone, which uploaded again
    assert bot_phone.endpoint.media.reuploads == [mid]
    # Baileys' messages.media-update: the key and the encrypted answer, for our key only
    (update,) = updates
    assert update.key == got.key and update.error is None
    assert got.media is not None and got.media.media_key is not None
    assert update.ciphertext is not None and update.iv is not None
    answer = mms_retry_pb2.MediaRetryNotification.FromString(
        media_retry_decrypt(got.media.media_key, mid, update.ciphertext, update.iv)
    )
    assert answer.result == mms_retry_pb2.MediaRetryNotification.SUCCESS and answer.directPath
    refreshed = await sock.update_media_message(got)
    assert refreshed.media is not None and refreshed.media.direct_path != got.media.direct_path  # type: ignore[union-attr]
    await sock.end()


async def test_media_the_phone_no_longer_has_fails_typed(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    mid = await alice.send_image(bot_phone.jid, png())
    got = await inbox.wait(lambda m: m.key.id == mid)
    await settle(sim, sock)
    bot_phone.endpoint.media._kept.clear()  # the phone deleted it
    sim.media.store.expire()
    updates: list[MediaUpdate] = []
    sock.ev.on("messages.media-update", updates.extend)
    with pytest.raises(MediaRetryError) as caught:
        await sock.download_media(got)
    assert caught.value.result == "NOT_FOUND"
    assert [(u.key, u.error, u.ciphertext) for u in updates] == [(got.key, "2", None)]
    await sock.end()


async def test_a_tampered_blob_is_a_typed_error_and_nothing_else_breaks(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    mid = await alice.send_document(bot_phone.jid, PDF, "x.pdf")
    got = await inbox.wait(lambda m: m.key.id == mid)
    for stored in sim.media.store.blobs.values():
        raw = bytearray(stored.path.read_bytes())
        raw[-1] ^= 0x55  # the MAC's last byte: the blob's hash no longer matches either
        stored.path.write_bytes(bytes(raw))
    with pytest.raises(MediaIntegrityError) as caught:
        await sock.download_media(got)
    assert caught.value.check == "file_enc_sha256"
    with pytest.raises(NotMedia):
        await sock.download_media(e2e_pb2.Message(conversation="no media here"))
    mid2 = await alice.send_text(bot_phone.jid, "still there?")
    assert (await inbox.wait(lambda m: m.key.id == mid2)).text == "still there?"
    await sock.send_message(alice.jid, {"text": "yes"})
    await wait_received(alice, lambda m: m.text == "yes")
    await sock.end()


async def test_transient_download_errors_are_retried(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    sock.media.http.retry_delay = lambda n: 0.0
    inbox = Inbox(sock)
    mid = await alice.send_media(bot_phone.jid, "audio", OGG)
    got = await inbox.wait(lambda m: m.key.id == mid)
    await settle(sim, sock)
    before = sim.media.downloads
    sim.media.refuse_downloads(503, 2)
    assert await sock.download_media(got) == OGG
    assert sim.media.downloads - before == 3
    await sock.end()


async def test_history_sync_as_a_blob() -> None:
    from wamd.testing import sim_server

    async with sim_server(history_sync=HistorySyncPolicy(blob=True)) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        await bot_phone.send_text(alice.jid, "before the bot linked")
        from wamd.testing import socket_for

        sock = socket_for(sim, await _fresh())
        histories: list[HistorySet] = []
        sock.ev.on("messaging-history.set", histories.append)
        await _link_socket(sim, bot_phone, sock)
        await settle(sim, sock)
        assert [m.text for h in histories for m in h.messages] == ["before the bot linked"]
        assert all(s.mms_type != "md-msg-hist" for s in sim.media.store.blobs.values())  # deleted
        await sock.end()


async def test_a_history_blob_that_fails_is_reported_and_sent_again() -> None:
    from wamd.testing import sim_server, socket_for

    async with sim_server(history_sync=HistorySyncPolicy(blob=True)) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        await bot_phone.send_text(alice.jid, "hello from the past")
        sim.media.refuse_downloads(404, 1)  # the first fetch finds nothing
        sock = socket_for(sim, await _fresh())
        histories: list[HistorySet] = []
        sock.ev.on("messaging-history.set", histories.append)
        await _link_socket(sim, bot_phone, sock)
        await settle(sim, sock, rounds=4)
        assert [m.text for h in histories for m in h.messages] == ["hello from the past"]
        assert len(bot_phone.endpoint.media.reuploads) == 1
        await sock.end()


async def _fresh():  # type: ignore[no-untyped-def]
    from tests.client.stores import fresh_state

    return await fresh_state()


async def _link_socket(sim, phone, sock):  # type: ignore[no-untyped-def]
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    await phone.scan_qr(update.qr)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)


async def test_the_phone_checks_a_media_retry_request(sim: SimServer) -> None:
    from wamd.binary import Node

    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    mid = await alice.send_image(bot_phone.jid, png())
    await inbox.wait(lambda m: m.key.id == mid)
    await settle(sim, sock)
    answers: list[Node] = []
    sock.media.on_retry_notification = answers.append  # type: ignore[method-assign]
    rmr = Node("rmr", {"jid": str(alice.jid), "from_me": "false"})
    forged = Node(
        "encrypt", {}, [Node("enc_p", {}, b"\x00" * 40), Node("enc_iv", {}, b"\x01" * 12)]
    )
    attrs = {"id": mid, "to": str(bot_phone.jid), "type": "server-error"}
    await sock.live_conn().send(Node("receipt", attrs, [forged, rmr]))
    await settle(sim, sock)
    (refused,) = answers
    assert refused.attrs["type"] == "mediaretry" and refused.attrs["id"] == mid
    assert refused.get_child("error").attrs["code"] == "2"  # type: ignore[union-attr]
    assert bot_phone.endpoint.media.reuploads == []
    # without <encrypt> the phone uploads again anyway (Baileys: "the media is returned
    # even without this node")
    await sock.live_conn().send(Node("receipt", attrs, [rmr]))
    await settle(sim, sock)
    assert answers[-1].get_child("encrypt") is not None
    assert bot_phone.endpoint.media.reuploads == [mid]
    await sock.end()
