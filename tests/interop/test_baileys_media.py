"""Media between Baileys (unmodified, from npm) and wamd through the sim's media host.

Baileys uploads over HTTPS to the host ``media_conn`` names (trusting the sim's CA through
``NODE_EXTRA_CA_CERTS``, as it would trust WhatsApp's), wamd downloads with every check;
wamd uploads, Baileys fetches with its ``downloadMediaMessage``.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from tests.client.conftest import Inbox
from tests.interop.conftest import baileys_and_wamd
from wamd.sim import SimServer


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (50, 20), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


async def test_baileys_sends_an_image_and_a_document_to_wamd(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    image, pdf = png(), b"%PDF-1.4\n" + os.urandom(30_000)
    (tmp_path / "a.png").write_bytes(image)
    (tmp_path / "b.pdf").write_bytes(pdf)
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock, wamd_phone = pair.bot, pair.sock, pair.wamd_phone
        inbox = Inbox(sock)
        jid = str(wamd_phone.jid)
        sent = await bot.command("SENDMEDIA", jid, "image", str(tmp_path / "a.png"), "image/png")
        got = await inbox.wait(lambda m: m.key.id == sent, timeout=20)
        assert got.media is not None and got.media.kind == "image"
        assert got.media.caption == "from baileys" and got.media.mimetype == "image/png"
        assert await sock.download_media(got) == image
        sent = await bot.command(
            "SENDMEDIA", jid, "document", str(tmp_path / "b.pdf"), "application/pdf", "b.pdf"
        )
        got = await inbox.wait(lambda m: m.key.id == sent, timeout=20)
        assert got.media is not None and got.media.file_name == "b.pdf"
        assert await sock.download_media(got) == pdf
        assert all(blob.size > 0 for blob in sim.media.store.blobs.values())


async def test_wamd_sends_a_document_and_a_voice_note_that_baileys_downloads(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.7\n" + os.urandom(50_000)
    voice = b"OggS" + os.urandom(9000)
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock, baileys_phone = pair.bot, pair.sock, pair.baileys_phone
        for content, data, kind in (
            ({"document": pdf, "file_name": "invoice.pdf"}, pdf, "documentMessage"),
            ({"audio": voice, "ptt": True, "seconds": 2}, voice, "ptt"),
        ):
            sent = await sock.send_message(baileys_phone.jid, content)
            line = await bot.expect("MEDIA")
            assert line[1:3] == [sent.key.id, kind]
            digest, length = line[3].split(" ")
            assert digest == hashlib.sha256(data).hexdigest() and int(length) == len(data)
