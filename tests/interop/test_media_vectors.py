"""Media crypto against Baileys' own code: a blob Baileys encrypts decrypts in wamd (every
check passes), and a blob wamd encrypts decrypts in Baileys, for each media type."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from pathlib import Path

from aiohttp import web

from tests.interop.conftest import baileys_modules
from wamd.media import MediaType, decrypt_media, encrypt_media

SCRIPT = Path(__file__).with_name("media_vectors.js")
# Baileys' media type names (MEDIA_HKDF_KEY_MAPPING) -> wamd's
TYPES = {
    "image": MediaType.IMAGE,
    "video": MediaType.VIDEO,
    "audio": MediaType.AUDIO,
    "document": MediaType.DOCUMENT,
    "sticker": MediaType.STICKER,
    "gif": MediaType.GIF,
    "ptt": MediaType.PTT,
    "ptv": MediaType.PTV,
    "thumbnail-link": MediaType.LINK_THUMBNAIL,
    "md-msg-hist": MediaType.HISTORY,
    "md-app-state": MediaType.APP_STATE,
    "thumbnail-image": MediaType.IMAGE_THUMBNAIL,
    "thumbnail-video": MediaType.VIDEO_THUMBNAIL,
    "thumbnail-document": MediaType.DOCUMENT_THUMBNAIL,
    "payment-bg-image": MediaType.PAYMENT_BACKGROUND,
}


async def run_baileys(modules: Path, job: dict[str, object], tmp: Path) -> dict[str, list]:  # type: ignore[type-arg]
    path = tmp / "job.json"
    path.write_text(json.dumps(job))
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, NODE_PATH=str(modules)),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    result: dict[str, list] = json.loads(out)  # type: ignore[type-arg]
    return result


async def test_baileys_blobs_decrypt_in_wamd_and_wamd_blobs_in_baileys(tmp_path: Path) -> None:
    modules = baileys_modules()
    plain = tmp_path / "plain.bin"
    data = os.urandom(70_001)  # not a whole number of blocks, several stream chunks
    plain.write_bytes(data)
    # wamd's blobs, served over loopback for Baileys' downloader
    blobs: dict[str, bytes] = {}
    keys: dict[str, bytes] = {}
    for name, kind in TYPES.items():
        blob, fields = encrypt_media(data, kind)
        blobs[name] = blob
        keys[name] = fields.media_key

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=blobs[request.match_info["name"]])

    app = web.Application()
    app.router.add_get("/blob/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        result = await run_baileys(
            modules,
            {
                "encrypt": [{"type": name, "plain": str(plain)} for name in TYPES],
                "decrypt": [
                    {
                        "type": name,
                        "mediaKey": base64.b64encode(keys[name]).decode(),
                        "url": f"http://127.0.0.1:{port}/blob/{name}",
                    }
                    for name in TYPES
                ],
            },
            tmp_path,
        )
    finally:
        await runner.cleanup()
    check_baileys_blobs(result["encrypted"], data)
    digest = hashlib.sha256(data).hexdigest()
    assert [(i["type"], i["sha256"], i["length"]) for i in result["decrypted"]] == [
        (name, digest, len(data)) for name in TYPES
    ]


def check_baileys_blobs(encrypted: list[dict[str, object]], data: bytes) -> None:
    """Each blob Baileys wrote decrypts in wamd with every check passing."""
    assert [item["type"] for item in encrypted] == list(TYPES)
    for item in encrypted:
        blob = Path(str(item["enc"])).read_bytes()
        fields = {
            k: base64.b64decode(str(item[k])) for k in ("mediaKey", "fileSha256", "fileEncSha256")
        }
        assert fields["fileEncSha256"] == hashlib.sha256(blob).digest()
        got = decrypt_media(
            blob,
            TYPES[str(item["type"])],
            fields["mediaKey"],
            file_enc_sha256=fields["fileEncSha256"],
            file_sha256=fields["fileSha256"],
            file_length=int(str(item["fileLength"])),
        )
        assert got == data, item["type"]
