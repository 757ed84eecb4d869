"""The sim's HTTP/JSON control interface, over real sockets on 127.0.0.1, and ``wamd sim``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.sim.raw import GP2, WAIT, pair_companion, registration
from wamd.cli import main
from wamd.crypto import generate_keypair
from wamd.errors import ProtocolError
from wamd.sim import SimServer
from wamd.sim.control import MAX_BODY, ControlServer, is_loopback
from wamd.store import init_auth_creds
from wamd.transport import connect_client


class Control:
    """Requests to a control interface over a raw socket (any header, any garbage)."""

    def __init__(self, sim: SimServer, control: ControlServer) -> None:
        self.sim = sim
        self.port = control.port
        self.token = control.token
        self.server = control

    @property
    def auth(self) -> str:
        return f"Authorization: Bearer {self.token}\r\n"

    async def raw(self, data: bytes, *, eof: bool = False) -> tuple[int, Any]:
        """Send ``data``, read the answer to the end: the status and the JSON body (the
        text when the answer is not JSON: aiohttp's own for a request it cannot parse).
        With ``eof`` the client closes its side after ``data``: status 0 when the
        server then closes without an answer."""
        line, crlf, rest = data.partition(b"\r\n")
        if crlf and b"\r\nConnection:" not in data:  # one request per connection
            data = line + b"\r\nConnection: close\r\n" + rest
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(data)
        if eof:
            writer.write_eof()  # a short body then ends at once instead of timing out
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        except asyncio.IncompleteReadError as exc:
            writer.close()
            if eof and not exc.partial:
                return 0, None
            raise
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        assert length is not None, head  # answers are read by their length, not to EOF
        payload = await asyncio.wait_for(reader.readexactly(int(length.group(1))), WAIT)
        writer.close()
        head = head[:-4]
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        status = int(lines[0].split()[1])
        if headers.get("content-type") != "application/json":
            return status, payload.decode(errors="replace")
        assert int(headers["content-length"]) == len(payload)
        assert payload.endswith(b"\n")
        return status, json.loads(payload)

    async def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        auth = self.auth if token is None else f"Authorization: Bearer {token}\r\n"
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n"
            f"Content-Length: {len(data)}\r\n"
        )
        status, payload = await self.raw(head.encode() + b"\r\n" + data)
        assert isinstance(payload, dict), payload  # every answer is JSON
        return status, payload

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, payload = await self.call(method, path, body)
        assert got == status, payload
        return payload


@pytest.fixture
async def control() -> AsyncIterator[Control]:
    async with (
        SimServer(history_sync=None, app_state_keys=False) as sim,
        ControlServer(sim) as server,
    ):
        yield Control(sim, server)


async def test_info_and_phones(control: Control) -> None:
    info = await control.ok("GET", "/")
    assert info["url"] == control.sim.url
    assert bytes.fromhex(info["root_public_key"]) == control.sim.root_public_key
    assert info["root_serial"] == 0
    alice = await control.ok("POST", "/phones", {"number": "+15550001111", "name": "Alice"}, 201)
    assert alice["jid"] == "15550001111@s.whatsapp.net" and alice["name"] == "Alice"
    assert alice["lid"].endswith("@lid") and alice["companions"] == []
    assert control.sim.phones["15550001111"].name == "Alice"
    listed = await control.ok("GET", "/phones")
    assert [p["number"] for p in listed["phones"]] == ["15550001111"]
    assert (await control.ok("GET", "/phones/15550001111"))["online"] is True
    assert (await control.ok("POST", "/phones/15550001111/offline"))["online"] is False
    assert (await control.ok("POST", "/phones/15550001111/online"))["online"] is True
    clock = await control.ok("POST", "/clock", {"offset": 86400})
    assert clock["clock_offset"] == 86400 and control.sim.clock_offset == 86400


async def test_bad_requests_get_json_errors_and_never_crash(control: Control) -> None:
    control.sim.add_phone("15550001111")
    cases: list[tuple[str, str, Any, int]] = [
        ("POST", "/phones", {"number": "15550001111"}, 409),  # exists
        ("POST", "/phones", {"number": "abc"}, 400),
        ("POST", "/phones", {"name": 3, "number": "15550002222"}, 400),
        ("POST", "/phones", ["not", "an", "object"], 400),
        ("GET", "/phones/19999999999", None, 404),
        ("POST", "/phones/19999999999/scan", {"qr": "x"}, 404),
        ("POST", "/phones/15550001111/scan", {}, 400),
        ("POST", "/phones/15550001111/scan", {"qr": "not,a,qr"}, 400),
        ("POST", "/phones/15550001111/scan", {"qr": "2@abc,AAAA,BBBB,CCCC"}, 400),
        ("POST", "/phones/15550001111/code", {"code": "ABCDEFGH"}, 409),  # nobody waiting
        ("POST", "/phones/15550001111/unlink", {"device": 3}, 409),
        ("POST", "/phones/15550001111/unlink", {"device": "@@"}, 400),
        ("POST", "/phones/15550001111/unlink", {"device": True}, 400),
        ("POST", "/phones/15550001111/send", {"to": "15550009999", "text": "hi"}, 404),
        ("POST", "/phones/15550001111/send", {"to": "15550001111"}, 400),
        ("POST", "/phones/15550001111/send", {"to": "1@g.us", "text": "hi"}, 404),
        ("POST", "/phones/15550001111/groups", {"subject": "x", "members": "bob"}, 400),
        ("POST", "/phones/15550001111/groups", {"subject": "x", "members": ["1555"]}, 404),
        ("GET", "/phones/15550001111/messages?after=x", None, 400),
        ("GET", "/phones/15550001111/messages/next?timeout=1000", None, 400),
        ("POST", "/clock", {"offset": "soon"}, 400),
        ("POST", "/clock", {"offset": 10**12}, 400),
        ("GET", "/nowhere", None, 404),
        ("DELETE", "/phones", None, 405),
    ]
    for method, path, body, status in cases:
        got, payload = await control.call(method, path, body)
        assert got == status, (method, path, payload)
        assert isinstance(payload["error"], str) and payload["error"]
    auth = b"Host: 127.0.0.1\r\n" + control.auth.encode()
    bad_json = b"POST /phones HTTP/1.1\r\n" + auth + b"Content-Length: 5\r\n\r\n{nope"
    assert (await control.raw(bad_json)) == (400, {"error": "the body is not valid JSON"})
    huge = f"POST /phones HTTP/1.1\r\nHost: 127.0.0.1\r\n{control.auth}Content-Length: {MAX_BODY + 1}\r\n\r\n"
    status, payload = await control.raw(huge.encode())
    assert status == 413 and "over" in payload["error"]
    assert (await control.raw(b"\x00\x01garbage\r\n\r\n"))[0] == 400  # aiohttp's own answer
    # a chunked body is read like any other, and its end must come
    chunked = b"POST /phones HTTP/1.1\r\n" + auth + b"Transfer-Encoding: chunked\r\n\r\n"
    assert (await control.raw(chunked, eof=True))[0] in (0, 400)
    short = b"GET / HTTP/1.1\r\n" + auth + b"Content-Length: 9\r\n\r\n{}"
    assert (await control.raw(short, eof=True))[0] in (0, 400)  # the client left: no answer
    # still serving
    assert (await control.ok("GET", "/"))["url"] == control.sim.url


async def test_pair_by_control_then_message_both_ways(control: Control) -> None:
    sim = control.sim
    await control.ok("POST", "/phones", {"number": "15550001111", "name": "Alice"}, 201)
    await control.ok("POST", "/phones", {"number": "15550002222", "name": "Bob"}, 201)
    bob = sim.phones["15550002222"]
    scanned: list[Any] = []

    async def scan(qr: str) -> None:
        scanned.append(await control.ok("POST", "/phones/15550002222/scan", {"qr": qr}))

    b1 = await pair_companion(sim, bob, scanner=scan)
    assert scanned[0]["jid"] == str(b1.jid)
    listed = (await control.ok("GET", "/phones/15550002222"))["companions"]
    assert len(listed) == 1
    assert {k: listed[0][k] for k in ("jid", "lid", "connected", "device")} == {
        "jid": str(b1.jid),
        "lid": str(b1.lid),
        "connected": True,
        "device": b1.jid.device,
    }
    assert listed[0]["last_seen"] == pytest.approx(sim.clock(), abs=60)
    await b1.upload_prekeys(5)

    # a contact writes to the linked device's account: the companion gets its copy
    sent = await control.ok(
        "POST", "/phones/15550001111/send", {"to": "15550002222", "text": "hello"}
    )
    got = await b1.next("message")
    assert got.attrs["id"] == sent["id"] and got.attrs["from"] == "15550001111@s.whatsapp.net"
    assert got.require_child("enc").attrs["type"] == "pkmsg"

    # phone to phone: Bob's phone decrypts it and the control interface shows it
    reply = await control.ok(
        "POST", "/phones/15550002222/send", {"to": "15550001111", "text": "yo"}
    )
    nxt = await control.ok("GET", "/phones/15550001111/messages/next?timeout=10")
    assert nxt["id"] == reply["id"] and nxt["text"] == "yo" and nxt["index"] == 0
    assert nxt["chat"] == "15550002222@s.whatsapp.net" and nxt["from_me"] is False
    assert nxt["kinds"] == ["conversation"]
    listing = await control.ok("GET", "/phones/15550001111/messages")
    assert [m["id"] for m in listing["messages"]] == [reply["id"]] and listing["next"] == 1
    assert (await control.ok("GET", "/phones/15550001111/messages?after=1"))["messages"] == []
    status, payload = await control.call("GET", "/phones/15550001111/messages/next?timeout=0.05")
    assert status == 408 and "no message" in payload["error"]

    # a group created and written to by a contact
    group = await control.ok(
        "POST", "/phones/15550001111/groups", {"subject": "Team", "members": ["15550002222"]}, 201
    )
    assert group["subject"] == "Team" and "15550002222@s.whatsapp.net" in group["participants"]
    created = await b1.next("notification", where=GP2)
    assert created.attrs["from"] == group["jid"] and created.get_child("create") is not None
    sent = await control.ok(
        "POST", "/phones/15550001111/send", {"to": group["jid"], "text": "hi all"}
    )
    in_group = await b1.next("message")
    assert in_group.attrs["from"] == group["jid"] and in_group.attrs["id"] == sent["id"]
    assert in_group.attrs["participant"] == "15550001111@s.whatsapp.net"
    assert "skmsg" in [e.attrs["type"] for e in in_group.get_children("enc")]
    # /next hands Bob's phone messages out in order: first the 1:1 one, then the group's
    first = await control.ok("GET", "/phones/15550002222/messages/next?timeout=10")
    assert first["text"] == "hello" and first["index"] == 0
    text = await control.ok("GET", "/phones/15550002222/messages/next?timeout=10")
    assert text["text"] == "hi all" and text["chat"] == group["jid"] and text["index"] == 1

    # unlinking from the phone logs the companion out
    await control.ok("POST", "/phones/15550002222/unlink", {"device": str(b1.jid)})
    kicked = await b1.next("stream:error")
    assert kicked.attrs["code"] == "401"
    assert kicked.require_child("conflict").attrs["type"] == "device_removed"
    assert (await control.ok("GET", "/phones/15550002222"))["companions"] == []


def test_control_refuses_non_loopback_addresses() -> None:
    sim = SimServer()
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValueError, match="loopback"):
            ControlServer(sim, host)
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert is_loopback(host)
        ControlServer(sim, host)
    ControlServer(sim, "0.0.0.0", allow_remote=True)  # told explicitly: accepted (not bound)


# ---------------------------------------------------------------------- wamd sim


async def read_banner(proc: asyncio.subprocess.Process) -> dict[str, list[str]]:
    assert proc.stdout is not None
    lines: dict[str, list[str]] = {}
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 30)
        line = raw.decode().strip()
        assert raw, "wamd sim exited before it was ready"
        if line == "ready":
            return lines
        name, _, value = line.partition(": ")
        lines.setdefault(name, []).append(value)


async def test_wamd_sim_subprocess_prints_a_usable_url_and_key() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wamd.cli",
        "sim",
        "--port",
        "0",
        "--control-port",
        "0",
        "--phone",
        "15550001111:Alice",
        "--phone",
        "15550002222",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        banner = await read_banner(proc)
        url = banner["url"][0]
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/ws/chat")
        key = bytes.fromhex(banner["root_public_key"][0])
        serial = int(banner["root_serial"][0])
        assert len(key) == 32 and serial == 0
        assert banner["phone"] == ["15550001111 Alice", "15550002222 15550002222"]
        # the printed key and serial are all a client needs: the handshake verifies
        creds = init_auth_creds()
        conn = await connect_client(
            url,
            noise_key=generate_keypair(),
            client_payload=registration(creds),
            trusted_root=key,
            root_serial=serial,
            origin="http://127.0.0.1",
        )
        first = await asyncio.wait_for(conn.receive(), WAIT)
        assert first.get_child("pair-device") is not None
        await conn.close()
        control_url = banner["control"][0]
        port = int(control_url.rsplit(":", 1)[1].strip("/"))
        token = banner["token"][0]
        assert len(token) >= 16 and "console" not in banner  # no page unless --console

        async def get(headers: str) -> tuple[bytes, bytes]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = f"GET /phones HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n"
            writer.write(request.encode() + b"\r\n")
            head, _, body = (await asyncio.wait_for(reader.read(), WAIT)).partition(b"\r\n\r\n")
            writer.close()
            return head, body

        head, body = await get(f"Authorization: Bearer {token}\r\n")
        assert [p["name"] for p in json.loads(body)["phones"]] == ["Alice", "15550002222"]
        head, body = await get("")
        assert head.startswith(b"HTTP/1.1 401") and b"token" in body
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_wamd_sim_refuses_a_remote_control_address() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wamd.cli",
        "sim",
        "--port",
        "0",
        "--control-port",
        "0",
        "--control-host",
        "0.0.0.0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"loopback" in err and out == b""


def test_cli_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "sim" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sim", "--phone", "12"])


async def test_requests_from_a_web_page_are_refused(control: Control) -> None:
    # issue 22: a page in the user's browser could drive the sim (a POST as text/plain
    # needs no preflight; DNS rebinding puts a foreign name in Host)
    body = json.dumps({"number": "15550003333"}).encode()
    auth = control.auth.strip()

    def post(*headers: str) -> bytes:
        head = f"POST /phones HTTP/1.1\r\nContent-Length: {len(body)}\r\n"
        return (head + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body

    port = control.port
    refused = [
        post("Host: 127.0.0.1", "Origin: https://evil.example"),
        post("Host: 127.0.0.1", "Origin: null"),
        post(f"Host: 127.0.0.1:{port}", f"Origin: http://127.0.0.1:{port + 1}"),
        post("Host: evil.example"),  # DNS rebinding: the browser names the page's host
        post(f"Host: evil.example:{port}", f"Origin: http://evil.example:{port}"),
        post(f"Host: 127.0.0.1:{port + 1}"),
        post("Host: 127.0.0.1", "Sec-Fetch-Site: cross-site"),
    ]
    for request in refused:  # refused even with the token
        for headers in (request, request.replace(b"\r\n", f"\r\n{auth}\r\n".encode(), 1)):
            status, payload = await control.raw(headers)
            assert status == 403, (headers, payload)
    assert "15550003333" not in control.sim.phones
    # curl, scripts and the interface's own origin are served, with the token
    status, _ = await control.raw(
        post(f"Host: 127.0.0.1:{port}", f"Origin: http://127.0.0.1:{port}", auth)
    )
    assert status == 201
    get = f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\n{control.auth}\r\n"
    status, _ = await control.raw(get.encode())
    assert status == 200


async def test_requests_without_the_token_are_refused(control: Control) -> None:
    port = control.port
    for token in ("", "x" * 32, control.token[:-1], control.token + "x"):
        for method, path, body in (
            ("GET", "/", None),
            ("GET", "/phones", None),
            ("POST", "/phones", {"number": "15550003333"}),
            ("GET", "/nowhere", None),  # even a 404 needs the token
            ("GET", "/console", None),  # no console: the token still comes first
        ):
            status, payload = await control.call(method, path, body, token=token)
            assert status == 401, (token, path, payload)
            assert "token" in payload["error"]
    assert "15550003333" not in control.sim.phones
    # no Authorization at all; another scheme; the token in the query of an API route
    for request in (
        f"GET /phones HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        f"GET /phones HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {control.token}\r\n\r\n",
        f"GET /phones?token={control.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        f"GET /phones HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: wamd_sim_1={control.token}\r\n\r\n",
    ):
        status, payload = await control.raw(request.encode())
        assert status == 401, (request, payload)
    # the token as the interface's cookie is accepted (the console page's way)
    cookie = f"Cookie: {control.server.cookie_name}={control.token}"
    status, _ = await control.raw(
        f"GET /phones HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n\r\n".encode()
    )
    assert status == 200
    with pytest.raises(ValueError, match="16 characters"):
        ControlServer(control.sim, token="short")


async def test_faults_through_the_control_interface(control: Control) -> None:
    sim = control.sim
    alice = sim.add_phone("15550001111", "Alice")
    a1 = await pair_companion(sim, alice)
    rule = await control.ok(
        "POST", "/faults", {"kind": "drop", "tags": ["message"], "count": 2}, status=201
    )
    assert rule["kind"] == "drop" and rule["fired"] == 0 and rule["direction"] == "out"
    listed = await control.ok("GET", "/faults")
    assert [r["id"] for r in listed["rules"]] == [rule["id"]]
    for bad in (
        {"kind": "explode"},
        {"kind": "delay", "direction": "in"},
        {"kind": "drop", "probability": 2},
        {"kind": "drop", "tags": "message"},
        {"kind": "drop", "device": "@@"},
        {"kind": "delay", "seconds": -1},
    ):
        status, payload = await control.call("POST", "/faults", bad)
        assert status == 400, (bad, payload)
    await control.ok("POST", "/faults/refuse-logins", {"count": 1})
    await control.ok("POST", "/faults/stream-error", {"device": str(a1.jid), "code": 503})
    error = await a1.next("stream:error")
    assert error.attrs["code"] == "503"
    status, _ = await control.call("POST", "/faults/disconnect", {"device": str(a1.jid)})
    assert status == 409  # no longer connected
    status, _ = await control.call(
        "POST", "/faults/disconnect", {"device": "1555:9@s.whatsapp.net"}
    )
    assert status == 404
    with pytest.raises(ProtocolError, match="'reason': '503'"):
        await a1.login()
    await a1.login()
    await control.ok("POST", "/faults/disconnect", {"device": str(a1.jid)})
    assert a1.conn is not None
    await a1.conn.wait_closed()
    await control.ok("POST", "/faults/clear")
    assert (await control.ok("GET", "/faults"))["rules"] == []
    fired = (await control.ok("GET", "/faults"))["fired"]
    assert [f["fault"] for f in fired] == ["stream:error 503", "refuse login", "disconnect"]


async def test_a_business_account_by_control(control: Control) -> None:
    shop = await control.ok("POST", "/phones", {"number": "15550004444", "business": True}, 201)
    assert shop["business"] is True and control.sim.phones["15550004444"].business
    status, _ = await control.call("POST", "/phones", {"number": "15550005555", "business": 1})
    assert status == 400
