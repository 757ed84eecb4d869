"""The sim's media host: WhatsApp's upload and download endpoints on loopback (aiohttp).

What it copies from the real service, as the public clients see it (whatsmeow
``upload.go``/``download.go``, Baileys ``messages-media.ts``):

- ``POST /mms/<mms type>/<token>?auth=<auth>&token=<token>``: ``auth`` must be the token
  that ``media_conn`` handed out (else ``401``); the body's SHA-256, in URL-safe base64
  (padded or not), must equal ``token`` (else ``400``); a body over the type's size limit
  is refused with ``413``. The answer is JSON ``{"url", "direct_path", "handle",
  "object_id"}``, the direct path shaped as WhatsApp's are
  (``/v/t62.7118-24/<id>?ccb=11-4&oh=<sig>&oe=<expiry, hex>&_nc_sid=5e03e0``);
- ``GET <direct path>[&hash&mms-type&__wa-mms]`` serves the blob; one that was never
  stored is ``404``, one whose time is up (``media_ttl`` seconds on the sim's clock,
  which tests move with ``clock_offset``) is ``410``. Media retry is tested that way;
- ``DELETE /mms/<type>/<token>?auth&token`` (whatsmeow ``DeleteMedia``) removes a blob;
- ``GET /v/t61.24694-24/<owner>_<picture id>_<image|preview>.jpg?...&oh=..&oe=..``
  serves a profile picture (plain JPEG: pictures are not end-to-end encrypted), as
  WhatsApp's picture CDN does for the URL ``w:profile:picture`` hands out
  (``sign_picture_url``). The URL is signed (``oh``) and expires (``oe``, hex unix time):
  a tampered or expired URL is ``403``; a picture since replaced or removed is ``404``.

It speaks HTTPS with a certificate for 127.0.0.1 from its own CA (``SimTLS``): a client
trusts ``sim.media_ca_pem`` (wamd: ``media_ssl=sim.media_ssl_context()``; node:
``NODE_EXTRA_CA_CERTS``) the way it pins ``root_public_key`` for the chat socket.
``media_tls=False`` serves plain HTTP instead. Blobs are kept in files under a temporary
directory, streamed in and out, so a 100 MB video costs disk, not memory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import hmac
import ipaddress
import logging
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from wamd.sim import rand

if TYPE_CHECKING:
    from wamd.sim.state import SimState

__all__ = ["DEFAULT_MEDIA_LIMITS", "DEFAULT_MEDIA_TTL", "MediaStore", "SimMediaHost", "SimTLS"]

log = logging.getLogger(__name__)

DEFAULT_MEDIA_TTL = 30 * 86400.0  # seconds a blob is served (WhatsApp keeps media about 30 days)
_MB = 1 << 20
# per mms type; the real limits are not public (WhatsApp's help pages name 2 GB for files)
DEFAULT_MEDIA_LIMITS: Mapping[str, int] = {
    "image": 16 * _MB,
    "video": 2048 * _MB,
    "audio": 2048 * _MB,
    "document": 2048 * _MB,
    "md-msg-hist": 64 * _MB,
    "md-app-state": 64 * _MB,
    "thumbnail-link": 16 * _MB,
    "sticker-pack": 64 * _MB,
}
_PATH_PREFIX = "/v/t62.7118-24/"  # WhatsApp's direct paths start like this
PICTURE_PREFIX = "/v/t61.24694-24/"  # and its profile pictures' paths like this
PICTURE_URL_TTL = 14 * 86400  # seconds a picture URL stays valid (oe)
_CHUNK = 256 * 1024


class SimTLS:
    """A CA and a certificate for 127.0.0.1/localhost, made fresh for one sim."""

    def __init__(self, directory: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wamd.sim media CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.DNSName("localhost"),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        self.ca_path = directory / "media-ca.pem"
        self.ca_path.write_bytes(self.ca_pem)
        self._cert_path = directory / "media-cert.pem"
        self._key_path = directory / "media-key.pem"
        self._cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self._key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        os.chmod(self._key_path, 0o600)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._cert_path, self._key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A context that trusts this CA only (hostname checked)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode())


@dataclass
class StoredBlob:
    blob_id: str
    path: Path
    mms_type: str
    size: int
    enc_sha256: bytes
    stored_at: float
    expires_at: float


class MediaStore:
    """The blobs the host holds, on disk, with their expiry on the sim's clock."""

    def __init__(self, directory: Path, clock: Callable[[], float], ttl: float) -> None:
        self.directory = directory
        self.clock = clock
        self.ttl = ttl
        self.blobs: dict[str, StoredBlob] = {}
        self.by_token: dict[tuple[str, bytes], str] = {}
        self.uploads = 0  # how many uploads were taken (tests count re-uploads)

    def add(self, blob_id: str, path: Path, mms_type: str, size: int, digest: bytes) -> StoredBlob:
        now = self.clock()
        stored = StoredBlob(blob_id, path, mms_type, size, digest, now, now + self.ttl)
        self.blobs[blob_id] = stored
        self.by_token[(mms_type, digest)] = blob_id
        self.uploads += 1
        return stored

    def get(self, blob_id: str) -> StoredBlob | None:
        return self.blobs.get(blob_id)

    def expired(self, blob: StoredBlob) -> bool:
        return self.clock() >= blob.expires_at

    def expire(self, blob_id: str | None = None) -> None:
        """Make one blob (or all) expire now, as if their time were up."""
        for stored in self.blobs.values():
            if blob_id is None or stored.blob_id == blob_id:
                stored.expires_at = self.clock()

    def delete(self, blob_id: str) -> bool:
        stored = self.blobs.pop(blob_id, None)
        if stored is None:
            return False
        self.by_token.pop((stored.mms_type, stored.enc_sha256), None)
        with contextlib.suppress(OSError):
            stored.path.unlink()
        return True

    def read(self, blob_id: str) -> bytes:
        """A stored blob's bytes (for the sim's phones and tests; small blobs)."""
        return self.blobs[blob_id].path.read_bytes()


def _token_digest(token: str) -> bytes | None:
    try:
        digest = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 32 else None


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


def _picture_sig(state: SimState, path: str, expires: int) -> str:
    mac = hmac.new(state.media_auth.encode(), f"{path}|{expires:X}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")


def sign_picture_url(state: SimState, owner: str, picture_id: str, kind: str) -> tuple[str, str]:
    """The ``(url, direct_path)`` of a profile picture on the media host: signed, and
    valid for ``PICTURE_URL_TTL`` seconds of the sim's clock."""
    path = f"{PICTURE_PREFIX}{owner}_{picture_id}_{kind}.jpg"
    expires = int(state.clock()) + PICTURE_URL_TTL
    query = f"?stp=dst-jpg_s96x96&ccb=11-4&oh=01_{_picture_sig(state, path, expires)}"
    direct = f"{path}{query}&oe={expires:X}&_nc_sid=5e03e0&_nc_cat=1"
    host = state.media_hosts[0] if state.media_hosts else state.host
    return f"{state.media_scheme}://{host}{direct}", direct


def _picture_of(state: SimState, owner: str, picture_id: str) -> bytes | None:
    """The current picture of a group, a number or a lid user, if its id is ``picture_id``."""
    from wamd.binary import JID
    from wamd.binary.jid import HIDDEN_USER_SERVER

    group = state.groups.get(owner)
    if group is not None:
        picture = group.picture
    else:
        phone = state.phones.get(owner) or state.account_of(JID(owner, HIDDEN_USER_SERVER))
        picture = phone.picture if phone is not None else None
    if picture is None or picture[0] != picture_id:
        return None
    return picture[1]


class SimMediaHost:
    """The HTTP(S) server (see the module docstring); ``start()`` picks a free port."""

    def __init__(
        self,
        state: SimState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        ttl: float = DEFAULT_MEDIA_TTL,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._tmp = Path(tempfile.mkdtemp(prefix="wamd-sim-media-"))
        self.tls = SimTLS(self._tmp) if tls else None
        self.store = MediaStore(self._tmp / "blobs", state.clock, ttl)
        self.store.directory.mkdir()
        self.limits = dict(DEFAULT_MEDIA_LIMITS) | dict(limits or {})
        self._runner: web.AppRunner | None = None
        state.media_scheme = self.scheme
        self.refused: list[tuple[int, str]] = []  # (status, reason) of refused requests
        self._failing: list[int] = []  # statuses the next downloads get (refuse_downloads)
        self.downloads = 0  # GETs served or refused

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def hostname(self) -> str:
        """What ``media_conn`` names: ``127.0.0.1:<port>``."""
        return f"{self.host}:{self.port}"

    def url_for(self, direct_path: str) -> str:
        return f"{self.scheme}://{self.hostname}{direct_path}"

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/mms/{mms}/{token}", self._upload)
        app.router.add_delete("/mms/{mms}/{token}", self._delete)
        app.router.add_get(_PATH_PREFIX + "{blob}", self._download)
        app.router.add_get(PICTURE_PREFIX + "{name}", self._picture)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = self.tls.server_context() if self.tls is not None else None
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        log.info("sim media host on %s://%s", self.scheme, self.hostname)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _refuse(self, status: int, text: str) -> web.Response:
        self.refused.append((status, text))
        log.info("sim media host refused a request: %d %s", status, text)
        return _error(status, text)

    # ------------------------------------------------------------------ handlers

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        mms = request.match_info["mms"]
        token = request.match_info["token"]
        if not hmac.compare_digest(request.query.get("auth", ""), self.state.media_auth):
            return self._refuse(401, "bad or missing auth")
        if mms not in self.limits:
            return self._refuse(400, f"unknown media type {mms}")
        want = _token_digest(token)
        if want is None or request.query.get("token", token) != token:
            return self._refuse(400, "the token is not a SHA-256 in base64")
        limit = self.limits[mms]
        if request.content_length is not None and request.content_length > limit:
            return self._refuse(413, f"{mms} uploads are limited to {limit} bytes")
        blob_id = rand.ref(self.state.rng, 20).replace("/", "_").replace("+", "-")
        path = self.store.directory / blob_id
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("wb") as out:
                async for chunk in request.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise OverflowError
                    digest.update(chunk)
                    out.write(chunk)
        except OverflowError:
            path.unlink(missing_ok=True)
            return self._refuse(413, f"{mms} uploads are limited to {limit} bytes")
        if not hmac.compare_digest(digest.digest(), want):
            path.unlink(missing_ok=True)
            return self._refuse(400, "the body's SHA-256 does not match the token")
        stored = self.store.add(blob_id, path, mms, size, want)
        direct_path = self._direct_path(stored)
        return web.json_response(
            {
                "url": self.url_for(direct_path) + "&mms3=true",
                "direct_path": direct_path,
                "object_id": str(self.state.rng.getrandbits(48)),
            }
        )

    def _direct_path(self, stored: StoredBlob) -> str:
        oh = hashlib.sha256(stored.blob_id.encode() + self.state.media_auth.encode()).digest()
        sig = base64.urlsafe_b64encode(oh[:24]).decode().rstrip("=")
        return (
            f"{_PATH_PREFIX}{stored.blob_id}?ccb=11-4&oh=01_{sig}"
            f"&oe={int(stored.expires_at):X}&_nc_sid=5e03e0"
        )

    def refuse_downloads(self, status: int, count: int = 1) -> None:
        """A fault: the next ``count`` downloads are answered ``status`` (503 is retried
        by clients, 404/410 are not)."""
        self._failing.extend([status] * count)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self.downloads += 1
        if self._failing:
            return self._refuse(self._failing.pop(0), "refused by a fault")
        stored = self.store.get(request.match_info["blob"])
        if stored is None:
            return self._refuse(404, "no such media")
        if self.store.expired(stored):
            return self._refuse(410, "the media has expired")
        return web.FileResponse(stored.path, headers={"Content-Type": "application/octet-stream"})

    async def _picture(self, request: web.Request) -> web.StreamResponse:
        """A profile picture (see the module docstring)."""
        self.downloads += 1
        name = request.match_info["name"]
        parts = name.removesuffix(".jpg").split("_")
        oe, oh = request.query.get("oe", ""), request.query.get("oh", "")
        try:
            expires = int(oe, 16)
        except ValueError:
            return self._refuse(403, "Bad URL hash")
        expected = "01_" + _picture_sig(self.state, request.path, expires)
        if not name.endswith(".jpg") or len(parts) != 3 or not hmac.compare_digest(oh, expected):
            return self._refuse(403, "Bad URL hash")
        if self.state.clock() > expires:
            return self._refuse(403, "URL signature expired")
        data = _picture_of(self.state, parts[0], parts[1])
        if data is None:
            return self._refuse(404, "no such picture")
        return web.Response(body=data, content_type="image/jpeg")

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(request.query.get("auth", ""), self.state.media_auth):
            return self._refuse(401, "bad or missing auth")
        digest = _token_digest(request.match_info["token"])
        blob_id = self.store.by_token.get((request.match_info["mms"], digest or b""))
        if blob_id is None or not self.store.delete(blob_id):
            return self._refuse(404, "no such media")
        return web.json_response({"deleted": True})
