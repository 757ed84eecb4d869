"""The version lookup against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wamd.client.version import VersionLookupError, fetch_latest_version

PAGES = {
    "/sw.js": b'self.x={\\"client_revision\\":1029030078,\\"other\\":1}',
    "/plain.js": b'{"client_revision": 1031000001}',
    "/none.js": b"self.nothing_here=1",
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_reads_the_revision_escaped_or_plain(server: str) -> None:
    assert await fetch_latest_version(f"{server}/sw.js") == (2, 3000, 1029030078)
    assert await fetch_latest_version(f"{server}/plain.js") == (2, 3000, 1031000001)


async def test_failures_are_typed_and_say_what_happened(server: str) -> None:
    with pytest.raises(VersionLookupError, match="does not name a client_revision"):
        await fetch_latest_version(f"{server}/none.js")
    with pytest.raises(VersionLookupError, match="could not fetch"):
        await fetch_latest_version(f"{server}/missing.js")
    # nothing listens on this loopback port once the server is gone
    probe = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = probe.server_address[1]
    probe.server_close()
    with pytest.raises(VersionLookupError, match="could not fetch"):
        await asyncio.wait_for(fetch_latest_version(f"http://127.0.0.1:{port}/sw.js", 2), 10)
