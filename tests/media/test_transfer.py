"""Uploads and downloads against the sim's media host over real loopback HTTPS."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from wamd.errors import MediaDownloadError, MediaIntegrityError, MediaUnavailable, MediaUploadError
from wamd.media import MediaType, encrypt_media
from wamd.media.transfer import MediaClient, MediaConn, MediaHost, download_blob, upload_token
from wamd.sim import SimServer


def conn_for(sim: SimServer, *extra_hosts: str, auth: str | None = None) -> MediaConn:
    hosts = (*(MediaHost(h) for h in extra_hosts), MediaHost(sim.media.hostname))
    return MediaConn(auth or sim.media_auth, 300, 21600, 12, hosts)


def body_of(blob: bytes, step: int = 1000) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(blob), step):
            yield blob[i : i + step]

    return chunks()


async def upload(client: MediaClient, conn: MediaConn, blob: bytes, kind: MediaType) -> str:
    async def media_conn(force: bool) -> MediaConn:
        return conn

    result = await client.upload(
        media_conn, lambda: body_of(blob), len(blob), hashlib.sha256(blob).digest(), kind
    )
    assert result.url.startswith("https://127.0.0.1:")
    return result.direct_path


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(media_limits={"image": 50_000}) as server:
        yield server


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[MediaClient]:
    media = MediaClient(ssl=sim.media_ssl_context(), retry_delay=lambda n: 0.0)
    yield media
    await media.close()


@pytest.mark.parametrize("kind", [MediaType.DOCUMENT, MediaType.APP_STATE, MediaType.HISTORY])
async def test_upload_then_download_blob(
    sim: SimServer, client: MediaClient, kind: MediaType
) -> None:
    data = os.urandom(300_001)
    blob, fields = encrypt_media(data, kind)
    conn = conn_for(sim)
    path = await upload(client, conn, blob, kind)
    assert path.startswith("/v/t62.7118-24/") and "&oe=" in path
    stored = next(iter(sim.media.store.blobs.values()))
    assert stored.mms_type == kind.mms_type and stored.size == len(blob)
    got = await download_blob(
        client,
        conn,
        direct_path=path,
        media_key=fields.media_key,
        file_enc_sha256=fields.file_enc_sha256,
        file_sha256=fields.file_sha256,
        file_length=fields.file_length,
        media_type=kind.name.lower(),
    )
    assert got == data


async def test_the_host_checks_auth_hash_and_size(sim: SimServer, client: MediaClient) -> None:
    blob, _ = encrypt_media(b"x" * 1000, MediaType.IMAGE)
    with pytest.raises(MediaUploadError) as caught:
        await upload(client, conn_for(sim, auth="wrong"), blob, MediaType.IMAGE)
    assert caught.value.status == 401

    async def media_conn(force: bool) -> MediaConn:
        return conn_for(sim)

    digest = hashlib.sha256(b"something else").digest()
    with pytest.raises(MediaUploadError) as caught:
        await client.upload(media_conn, lambda: body_of(blob), len(blob), digest, MediaType.IMAGE)
    assert caught.value.status == 400
    big, _ = encrypt_media(os.urandom(60_000), MediaType.IMAGE)
    with pytest.raises(MediaUploadError) as caught:
        await upload(client, conn_for(sim), big, MediaType.IMAGE)
    assert caught.value.status == 413
    assert sim.media.store.blobs == {}  # nothing refused was kept
    assert [status for status, _ in sim.media.refused] == [401, 400, 413]


async def test_failed_upload_refreshes_media_conn_and_moves_on(
    sim: SimServer, client: MediaClient
) -> None:
    blob, _ = encrypt_media(b"y" * 500, MediaType.IMAGE)
    asked: list[bool] = []

    async def media_conn(force: bool) -> MediaConn:
        asked.append(force)
        # the first answer's auth is stale; a forced refetch gets the good one
        return conn_for(sim) if force else conn_for(sim, "127.0.0.1:1", auth="stale")

    result = await client.upload(
        media_conn, lambda: body_of(blob), len(blob), hashlib.sha256(blob).digest(), MediaType.IMAGE
    )
    assert result.direct_path.startswith("/v/")
    assert asked == [False, True]


async def test_every_host_failing_is_a_typed_error_after_a_fresh_media_conn_each_time() -> None:
    blob, _ = encrypt_media(b"w" * 700, MediaType.DOCUMENT)
    hits: list[tuple[str, str]] = []

    def failing(status: int):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.StreamResponse:
            await request.read()
            hits.append((request.host, request.query["auth"]))
            return web.Response(status=status, text="try later")

        return handler

    runners = []
    for status in (500, 503):
        app = web.Application()
        app.router.add_post("/mms/{mms}/{token}", failing(status))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
    ports = [r.addresses[0][1] for r in runners]
    hosts = (*(MediaHost(f"127.0.0.1:{p}") for p in ports), MediaHost("127.0.0.1:1"))
    asked: list[bool] = []

    async def media_conn(force: bool) -> MediaConn:
        asked.append(force)
        return MediaConn(f"auth{len(asked)}", 300, 0, 0, hosts)

    client = MediaClient(scheme="http")
    try:
        with pytest.raises(MediaUploadError) as caught:
            await client.upload(
                media_conn,
                lambda: body_of(blob),
                len(blob),
                hashlib.sha256(blob).digest(),
                MediaType.DOCUMENT,
            )
    finally:
        await client.close()
        for runner in runners:
            await runner.cleanup()
    # each host once, in order, each attempt after the first with a freshly fetched auth
    assert hits == [(f"127.0.0.1:{ports[0]}", "auth1"), (f"127.0.0.1:{ports[1]}", "auth2")]
    assert asked == [False, True, True, True]  # refetched after every failed attempt
    assert "127.0.0.1:1" in str(caught.value)  # the last host's failure: nothing listens
    assert caught.value.status is None


async def test_a_send_whose_upload_fails_everywhere_raises_and_sends_nothing(
    sim: SimServer,
) -> None:
    from tests.client.stores import link
    from wamd.testing import record_sends

    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    sent = record_sends(sock)
    sim.state.media_hosts = ["127.0.0.1:1", "127.0.0.1:2"]  # media_conn names dead hosts
    with pytest.raises(MediaUploadError, match=r"uploading to 127\.0\.0\.1:2 failed"):
        await sock.send_message(alice.jid, {"document": b"%PDF-1.4 nothing", "file_name": "a"})
    queries = [n for n in sent if n.tag == "iq" and n.attrs.get("xmlns") == "w:m"]
    assert len(queries) == 3  # the first fetch, then one after each failed host
    assert sent.of("message") == []  # no message points at media that is nowhere
    sim.state.media_hosts = [sim.media.hostname]  # the hosts are back: the next send works
    message = await sock.send_message(alice.jid, {"document": b"%PDF-1.4 ok", "file_name": "b"})
    assert message.media is not None and message.media.file_name == "b"
    await sock.end()


async def test_expired_unknown_and_tampered_blobs(sim: SimServer, client: MediaClient) -> None:
    data = os.urandom(5000)
    blob, fields = encrypt_media(data, MediaType.DOCUMENT)
    conn = conn_for(sim)
    path = await upload(client, conn, blob, MediaType.DOCUMENT)
    args = {
        "media_key": fields.media_key,
        "file_enc_sha256": fields.file_enc_sha256,
        "file_sha256": fields.file_sha256,
        "file_length": fields.file_length,
        "media_type": MediaType.DOCUMENT,
    }
    with pytest.raises(MediaUnavailable) as caught:
        await download_blob(client, conn, direct_path="/v/t62.7118-24/nothing?x=1", **args)  # type: ignore[arg-type]
    assert caught.value.status == 404 and caught.value.expired
    stored = next(iter(sim.media.store.blobs.values()))
    raw = bytearray(stored.path.read_bytes())
    raw[100] ^= 1
    stored.path.write_bytes(bytes(raw))
    with pytest.raises(MediaIntegrityError) as integrity:
        await download_blob(client, conn, direct_path=path, **args)  # type: ignore[arg-type]
    assert integrity.value.check == "file_enc_sha256"
    sim.clock_offset = sim.media.store.ttl + 1  # its time is up
    with pytest.raises(MediaUnavailable) as caught:
        await download_blob(client, conn, direct_path=path, **args)  # type: ignore[arg-type]
    assert caught.value.status == 410


async def test_tls_is_verified(sim: SimServer) -> None:
    _, fields = encrypt_media(b"z" * 10, MediaType.IMAGE)
    untrusting = MediaClient(retry_delay=lambda n: 0.0)  # the system's roots only
    try:
        with pytest.raises(MediaDownloadError, match=r"(?i)certificate"):
            await download_blob(
                untrusting,
                conn_for(sim),
                direct_path="/v/t62.7118-24/x?a=b",
                media_key=fields.media_key,
                file_enc_sha256=fields.file_enc_sha256,
                file_sha256=fields.file_sha256,
                file_length=10,
                media_type="image",
            )
    finally:
        await untrusting.close()


async def test_retries_transient_errors_then_moves_to_the_next_host() -> None:
    data = b"retry me" * 100
    blob, fields = encrypt_media(data, MediaType.AUDIO)
    hits: list[str] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        hits.append(request.path_qs)
        if sum(h != "broken" for h in hits) <= 2:
            return web.Response(status=503)
        return web.Response(body=blob)

    async def broken(request: web.Request) -> web.StreamResponse:
        hits.append("broken")
        return web.Response(status=500)

    apps = []
    hosts = []
    for handler in (broken, flaky):
        app = web.Application()
        app.router.add_get("/v/{name}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        apps.append(runner)
        hosts.append(MediaHost(f"127.0.0.1:{runner.addresses[0][1]}"))
    delays: list[int] = []
    client = MediaClient(scheme="http", retry_delay=lambda n: delays.append(n) or 0.0)
    try:
        got = await download_blob(
            client,
            MediaConn("a", 300, 0, 0, tuple(hosts)),
            direct_path="/v/blob?ccb=1",
            media_key=fields.media_key,
            file_enc_sha256=fields.file_enc_sha256,
            file_sha256=fields.file_sha256,
            file_length=len(data),
            media_type="audio",
        )
    finally:
        await client.close()
        for runner in apps:
            await runner.cleanup()
    assert got == data
    assert hits.count("broken") == 5  # five tries on the first host
    token = upload_token(fields.file_enc_sha256)
    assert hits[-1] == f"/v/blob?ccb=1&hash={token}&mms-type=audio&__wa-mms="
    assert delays == [1, 2, 3, 4, 1, 2]


def test_media_conn_answer_is_parsed_and_checked() -> None:
    from wamd.binary import Node
    from wamd.errors import ProtocolError

    node = Node(
        "iq",
        {"type": "result"},
        [
            Node(
                "media_conn",
                {"auth": "tok", "ttl": "300", "auth_ttl": "21600", "max_buckets": "12"},
                [Node("host", {"hostname": "mmg.whatsapp.net"}), Node("other")],
            )
        ],
    )
    conn = MediaConn.parse(node, now=100.0)
    assert conn.hosts == (MediaHost("mmg.whatsapp.net"),) and conn.ttl == 300
    assert not conn.expired(399.0) and conn.expired(400.0)
    assert "tok" not in repr(conn)
    for bad in (
        Node("iq", {}, []),
        Node("iq", {}, [Node("media_conn", {"ttl": "1"})]),
        Node("iq", {}, [Node("media_conn", {"auth": "a", "ttl": "x"})]),
        Node("iq", {}, [Node("media_conn", {"auth": "a", "ttl": "1"})]),
    ):
        with pytest.raises(ProtocolError):
            MediaConn.parse(bad)


async def test_a_sim_without_tls_is_spoken_to_in_plain_http_on_loopback_only() -> None:
    from tests.client.conftest import Inbox
    from tests.client.stores import link
    from wamd.testing import settle, wait_received

    async with SimServer(media_tls=False) as plain:
        assert plain.media.scheme == "http" and plain.media_ssl_context() is None
        bot_phone = plain.add_phone("15550001111", "Bot")
        alice = plain.add_phone("15550002222", "Alice")
        sock = await link(plain, bot_phone)  # wamd.testing passes media_scheme="http"
        assert sock.options.media_scheme == "http"
        data = os.urandom(20_000)
        inbox = Inbox(sock)
        mid = await alice.send_document(bot_phone.jid, data, "in.bin")
        message = await inbox.wait(lambda m: m.key.id == mid)
        assert await sock.download_media(message) == data
        sent = await sock.send_message(alice.jid, {"document": data, "file_name": "out.bin"})
        assert sent.media is not None and (sent.media.url or "").startswith("http://127.0.0.1:")
        await wait_received(alice, lambda m: m.id == sent.key.id)
        await settle(plain, sock)
        assert alice.received_media[sent.key.id] == data
        await sock.end()
    # anywhere but loopback, plain http is refused before a byte goes out
    remote = MediaConn("secret-auth", 300, 0, 0, (MediaHost("media.example.com"),))
    client = MediaClient(scheme="http")
    try:
        with pytest.raises(MediaUploadError, match="only loopback"):
            await upload(client, remote, b"x" * 32, MediaType.IMAGE)
        with pytest.raises(MediaDownloadError, match="only loopback"):
            await download_blob(
                client,
                remote,
                direct_path="/v/t62.7118-24/x",
                media_key=os.urandom(32),
                file_enc_sha256=None,
                file_sha256=None,
                file_length=None,
                media_type="image",
            )
        with pytest.raises(MediaDownloadError, match="not a media URL"):
            await client.fetch_bytes("http://pps.example.com/v/x.jpg", 100)
    finally:
        await client.close()
