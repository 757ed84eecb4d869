"""App-state sync on a socket: keys from the phone, fetching, verifying, storing, writing.

The protocol is in ``wamd.appstate`` (sans-IO); this module runs it over the connection:

- **Keys.** ``APP_STATE_SYNC_KEY_SHARE`` peer messages from our own phone are stored
  (``app-state-sync-key``); the newest becomes ``creds.my_app_state_key_id``, the key
  writes are made with. A patch made with a key we lack asks the phone for it
  (``APP_STATE_SYNC_KEY_REQUEST``), at most once per key per 24 hours (whatsmeow
  ``appstate.go`` requestMissingAppStateKeys), and its collection waits for the key.
- **Fetching** (whatsmeow ``fetchAppState``, Baileys ``resyncAppState``): at login (once
  a key is held), when keys arrive, and on ``<notification type="server_sync">``:
  ``<iq xmlns="w:sync:app:state" type="set"><sync><collection name version
  return_snapshot/>``; a snapshot is asked for when the collection was never synced.
  The answer is applied (snapshot, then patches in order) and looped while
  ``has_more_patches``. Snapshots and external mutation lists are blobs on the media
  hosts; they are fetched through ``download`` (none: such a collection fails, logged).
- **Verifying and storing.** Every MAC and the LTHash are checked (``wamd.appstate.codec``).
  The collection's new version, hash and MAC map are written as one value
  (``AppStateVersions``), so a crash leaves it at the version before the answer or
  after it, never between; events are emitted only after that write. A mismatch in one
  collection is an ``AppStateError``: logged, that collection is fetched again from a
  snapshot (once per sync), the others and the connection carry on. Mutations already
  applied before (a re-sync from a snapshot) are not emitted twice.
- **Writing** (whatsmeow ``sendAppState``): a patch made with the newest key at the
  stored version + 1; on ``409`` the server's newer patches that come with the refusal
  are applied and the write is made once more; on success the collection is fetched,
  which brings our own patch back verified and emits its events (as whatsmeow does).

One sync or write runs at a time per socket (a lock): they share the stored state.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.appstate import COLLECTIONS, CollectionState, Mutation, decode_patch, decode_snapshot
from wamd.appstate import actions as acts
from wamd.appstate.codec import encode_patch, needed_key_ids
from wamd.appstate.keys import MutationKeys, expand_keys
from wamd.binary import Node
from wamd.errors import (
    AppStateConflict,
    AppStateError,
    AppStateKeyMissing,
    ConnectionClosed,
    RequestError,
    RequestTimeout,
    WamdError,
)
from wamd.messaging import stanzas
from wamd.proto import e2e_pb2, server_sync_pb2
from wamd.store.creds import Me
from wamd.store.views import AppStateKey, AppStateKeys, AppStateVersions

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.media import MediaService

__all__ = ["KEY_REQUEST_INTERVAL", "AppStateSync", "Download", "media_download"]

log = logging.getLogger(__name__)

XMLNS: Final = "w:sync:app:state"
KEY_REQUEST_INTERVAL: Final = 24 * 3600.0  # s between two requests for one key (whatsmeow)
MAX_ROUNDS: Final = 64  # fetch rounds per sync: a server that always has more is cut off
MAX_ATTEMPTS: Final = 2  # per collection and sync: the first try, then one from a snapshot

# downloads and decrypts an ExternalBlobReference (media type "md-app-state")
Download = Callable[[server_sync_pb2.ExternalBlobReference], Awaitable[bytes]]


def media_download(media: MediaService) -> Download:
    """Download through the socket's media layer: an ``ExternalBlobReference`` is a
    blob of media type ``md-app-state`` ("WhatsApp App State Keys"), checked against its
    hashes and length before it is decrypted (``wamd.media.transfer.download_blob``)."""
    from wamd.media.transfer import download_blob
    from wamd.media.types import MediaType

    async def download(ref: server_sync_pb2.ExternalBlobReference) -> bytes:
        conn = await media.media_conn()
        return await download_blob(
            media.http,
            conn,
            direct_path=ref.directPath,
            media_key=ref.mediaKey,
            file_enc_sha256=ref.fileEncSHA256 or None,
            file_sha256=ref.fileSHA256 or None,
            file_length=ref.fileSizeBytes if ref.HasField("fileSizeBytes") else None,
            media_type=MediaType.APP_STATE,
        )

    return download


NCT_SALT_INDEX = "nct_salt_sync"  # the app-state index of the cstoken salt (whatsmeow)


@dataclass
class _Answer:
    """One collection of a fetch answer, parsed (blobs not yet downloaded)."""

    name: str
    has_more: bool
    snapshot: server_sync_pb2.ExternalBlobReference | None = None
    patches: list[server_sync_pb2.SyncdPatch] = field(default_factory=list)
    error_code: int | None = None


class AppStateSync:
    def __init__(
        self,
        core: ClientCore,
        send_peer: Callable[[e2e_pb2.Message], Awaitable[Any]],
        download: Download | None = None,
    ) -> None:
        self.core = core
        self.log = core.logger_for(__name__)
        self.send_peer = send_peer
        self.download = download
        self.keys = AppStateKeys(core.auth.keys)
        self.versions = AppStateVersions(core.auth.keys)
        self._lock = asyncio.Lock()
        self._expanded: dict[bytes, MutationKeys] = {}
        self._requested: dict[bytes, float] = {}  # key id -> when we last asked (monotonic)
        self.blocked: set[str] = set()  # collections waiting for a key
        self.failed: dict[str, AppStateError] = {}  # the last error of each collection
        self._running: set[asyncio.Task[Any]] = set()  # background syncs (see idle())
        # the account's NCT salt from its app-state mutation (None: removed); the socket
        # hands it to the privacy tokens (wamd/client/privacy_tokens.py: cstoken)
        self.on_nct_salt: Callable[[bytes | None], None] = lambda salt: None

    def _background(self, names: Sequence[str]) -> None:
        task = self.core.spawn(self.sync_quietly(names))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def idle(self) -> None:
        """Wait until no background sync runs (one may start another: keys, then data)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    # ------------------------------------------------------------------ keys

    async def on_key_share(self, share: e2e_pb2.AppStateSyncKeyShare) -> None:
        """Store shared keys; the newest is the one writes use. Then sync what waited."""
        new = []
        fingerprints: dict[bytes, Any] = {}
        for key in share.keys:
            key_id, data = key.keyID.keyID, key.keyData.keyData
            if not key_id or not data:
                continue
            new.append(AppStateKey(key_id, data, key.keyData.timestamp))
            fp = key.keyData.fingerprint
            fingerprints[key_id] = {
                "rawId": fp.rawID,
                "currentIndex": fp.currentIndex,
                "deviceIndexes": list(fp.deviceIndexes),
            }
        if not new:
            return
        await self.keys.add(new, fingerprints)
        newest = max(new, key=lambda k: k.timestamp)
        current = self.core.auth.creds.my_app_state_key_id
        held = await self.keys.get_many([AppStateKeys.parse_id(current) or b""]) if current else {}
        old = next(iter(held.values()), None)
        if old is None or newest.timestamp >= old.timestamp:
            name = base64.b64encode(newest.key_id).decode()
            self.core.change_creds({"my_app_state_key_id": name})
        self.log.info("got %d app state key(s)", len(new))
        waiting = set(self.blocked)
        for name in COLLECTIONS:
            if (await self.versions.get(name)).version == 0:
                waiting.add(name)
        if waiting:  # not on the message's worker: a sync is a round trip or more
            self._background([n for n in COLLECTIONS if n in waiting])

    async def _load_keys(self, key_ids: Iterable[bytes]) -> dict[bytes, MutationKeys]:
        wanted = set(key_ids)
        missing = [k for k in wanted if k not in self._expanded]
        if missing:
            for key_id, key in (await self.keys.get_many(missing)).items():
                self._expanded[key_id] = expand_keys(key.key_data)
        return {k: self._expanded[k] for k in wanted if k in self._expanded}

    async def _request_keys(self, key_ids: Sequence[bytes]) -> None:
        now = time.monotonic()
        due = [
            k
            for k in key_ids
            if k not in self._requested or now - self._requested[k] >= KEY_REQUEST_INTERVAL
        ]
        if not due:
            return
        for k in due:
            self._requested[k] = now
        message = e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                type=e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST,
                appStateSyncKeyRequest=e2e_pb2.AppStateSyncKeyRequest(
                    keyIDs=[e2e_pb2.AppStateSyncKeyId(keyID=k) for k in due]
                ),
            )
        )
        self.log.info("asking the phone for app state key(s) %s", ", ".join(k.hex() for k in due))
        try:
            await self.send_peer(message)
        except (ConnectionClosed, RequestError, RequestTimeout, WamdError) as exc:
            self.log.warning("could not ask for app state keys: %s", exc)

    # ------------------------------------------------------------------ fetching

    async def has_key(self) -> bool:
        name = self.core.auth.creds.my_app_state_key_id
        key_id = AppStateKeys.parse_id(name) if name else None
        return key_id is not None and bool(await self.keys.get_many([key_id]))

    async def sync(self, names: Sequence[str] = COLLECTIONS) -> None:
        """Bring the collections up to date (each fails or succeeds on its own).

        ``ConnectionClosed``, ``RequestError`` or ``RequestTimeout`` when the fetch
        itself fails; what was applied before that stays applied.
        """
        async with self._lock:
            await self._sync(names)

    async def sync_quietly(self, names: Sequence[str] = COLLECTIONS) -> None:
        """``sync``, logging instead of raising when the connection fails under it
        (background syncs: after login, keys, notifications)."""
        try:
            await self.sync(names)
        except ConnectionClosed as exc:
            self.log.debug("app state sync cut short: %s", exc)
        except (RequestError, RequestTimeout) as exc:
            self.log.warning("app state sync failed: %s", exc)

    async def sync_at_login(self) -> None:
        if await self.has_key():
            self._background(COLLECTIONS)

    async def _sync(self, names: Sequence[str]) -> None:
        pending = {n: 0 for n in names if n in COLLECTIONS}  # name -> failed attempts
        # what was stored before this sync: a re-sync from a snapshot does not emit twice
        before = {n: (await self.versions.get(n)).version for n in pending}
        snapshot_wanted: set[str] = set()
        rounds = 0
        while pending and rounds < MAX_ROUNDS:
            rounds += 1
            states = {n: await self.versions.get(n) for n in pending}
            children = []
            for name, state in states.items():
                fresh = state.version == 0 or name in snapshot_wanted
                attrs = {"name": name, "return_snapshot": "true" if fresh else "false"}
                attrs["version"] = "0" if fresh else str(state.version)
                children.append(Node("collection", attrs))
            answer = await self.core.query(stanzas.iq("set", XMLNS, [Node("sync", {}, children)]))
            try:
                parsed = _parse_answer(answer)
            except AppStateError as exc:
                self.log.warning("unreadable app state answer: %s", exc)
                return
            for name in list(pending):
                got = parsed.get(name)
                fresh = name in snapshot_wanted or states[name].version == 0
                snapshot_wanted.discard(name)
                try:
                    if got is None:
                        raise AppStateError(f"app state {name}: not in the answer", name)
                    if got.error_code is not None:
                        raise AppStateError(
                            f"app state {name}: the server answered {got.error_code}", name
                        )
                    start = CollectionState() if fresh else states[name]
                    state, mutations = await self._apply(name, start, got)
                except AppStateKeyMissing as exc:
                    self.log.warning("%s; waiting for the phone to share it", exc)
                    self.blocked.add(name)
                    self.failed[name] = exc
                    pending.pop(name)
                    await self._request_keys(exc.key_ids)
                    continue
                except AppStateError as exc:
                    pending[name] += 1
                    self.failed[name] = exc
                    if pending[name] >= MAX_ATTEMPTS:
                        self.log.error("app state %s could not be synced: %s", name, exc)
                        pending.pop(name)
                    else:
                        self.log.warning("%s; fetching %s again from a snapshot", exc, name)
                        snapshot_wanted.add(name)
                    continue
                self.blocked.discard(name)
                self.failed.pop(name, None)
                await self.versions.put(name, state)  # one value: all of it or none
                self._emit(mutations, before[name], full_sync=fresh)
                if not got.has_more:
                    pending.pop(name)
        if pending:
            self.log.warning("app state sync stopped after %d rounds: %s", rounds, sorted(pending))

    async def _apply(
        self, name: str, state: CollectionState, got: _Answer
    ) -> tuple[CollectionState, list[Mutation]]:
        snapshot = None
        if got.snapshot is not None:
            raw = await self._download(name, got.snapshot)
            try:
                snapshot = server_sync_pb2.SyncdSnapshot.FromString(raw)
            except ProtobufDecodeError:
                raise AppStateError(f"app state {name}: unreadable snapshot blob", name) from None
        patches = got.patches
        for patch in patches:
            if patch.HasField("externalMutations"):
                raw = await self._download(name, patch.externalMutations)
                try:
                    listed = server_sync_pb2.SyncdMutations.FromString(raw)
                except ProtobufDecodeError:
                    raise AppStateError(
                        f"app state {name}: unreadable mutation blob", name
                    ) from None
                if not listed.mutations:
                    raise AppStateError(f"app state {name}: an empty mutation blob", name)
                del patch.mutations[:]
                patch.mutations.extend(listed.mutations)
        keys = await self._load_keys(needed_key_ids(snapshot, patches))
        mutations: list[Mutation] = []
        if snapshot is not None:
            applied = decode_snapshot(name, snapshot, keys)
            state = applied.state
            mutations += applied.mutations
        for patch in patches:
            if patch.version.version <= state.version:
                continue  # already in the snapshot or applied before
            applied = decode_patch(name, patch, state, keys)
            for warning in applied.warnings:
                self.log.debug("%s", warning)
            state = applied.state
            mutations += applied.mutations
        return state, mutations

    async def _download(self, name: str, ref: server_sync_pb2.ExternalBlobReference) -> bytes:
        if self.download is None:
            raise AppStateError(
                f"app state {name}: an external blob, and no media download is available", name
            )
        try:
            return await self.download(ref)
        except AppStateError:
            raise
        except Exception as exc:
            raise AppStateError(f"app state {name}: the blob download failed: {exc}", name) from exc

    async def on_server_sync(self, node: Node) -> None:
        """``<notification type="server_sync"><collection name version/>``: fetch them
        (in the background: not on the notifications' worker)."""
        names = [c.attrs.get("name", "") for c in node.get_children("collection")]
        names = [n for n in COLLECTIONS if n in names]
        if names and await self.has_key():
            self._background(names)

    # ------------------------------------------------------------------ events

    def _emit(self, mutations: Sequence[Mutation], emitted_up_to: int, full_sync: bool) -> None:
        ev: Any = self.core.ev  # names come from a table (wamd.appstate.actions), not literals
        for mutation in mutations:
            if mutation.patch_version <= emitted_up_to:
                continue
            if mutation.index[:1] == (NCT_SALT_INDEX,):  # whatsmeow appstate.go: the cstoken salt
                if mutation.operation == "remove":
                    self.on_nct_salt(None)
                elif mutation.value.nctSaltSyncAction.salt:
                    self.on_nct_salt(mutation.value.nctSaltSyncAction.salt)
                continue
            for change in acts.events_of(mutation, full_sync):
                if change.push_name is not None:
                    me = self.core.auth.creds.me
                    if me is not None and me.name != change.push_name:
                        self.core.change_creds({"me": Me(me.id, me.lid, change.push_name)})
                    continue
                ev.emit(change.name, change.payload)

    # ------------------------------------------------------------------ writing

    async def write(self, request: acts.PatchRequest) -> None:
        """Send one patch; ``AppStateError`` (or ``AppStateConflict``) when refused."""
        async with self._lock:
            await self._write(request, retry=True)
            await self._sync([request.collection])

    async def _write(self, request: acts.PatchRequest, retry: bool) -> None:
        name = request.collection
        key_name = self.core.auth.creds.my_app_state_key_id
        key_id = AppStateKeys.parse_id(key_name) if key_name else None
        keys = await self._load_keys([key_id]) if key_id else {}
        if key_id is None or key_id not in keys:
            raise AppStateKeyMissing((key_id,) if key_id else (), name)
        state = await self.versions.get(name)
        patch, _ = encode_patch(
            name, state, key_id, keys[key_id], request.mutations, int(time.time() * 1000)
        )
        collection = Node(
            "collection",
            {"name": name, "version": str(state.version), "return_snapshot": "false"},
            [Node("patch", {}, patch.SerializeToString())],
        )
        answer = await self.core.query(stanzas.iq("set", XMLNS, [Node("sync", {}, [collection])]))
        got = _parse_answer(answer).get(name)
        if got is None:
            raise AppStateError(f"app state {name}: the write was not answered", name)
        if got.error_code is None:
            return
        if got.error_code == 409 and retry:
            self.log.info("app state %s changed meanwhile (409): applying and retrying", name)
            new_state, mutations = await self._apply(name, state, got)
            await self.versions.put(name, new_state)
            self._emit(mutations, state.version, full_sync=False)
            await self._write(request, retry=False)
            return
        if got.error_code == 409:
            raise AppStateConflict(f"app state {name}: the write was refused twice (409)", name)
        raise AppStateError(f"app state {name}: the write was refused ({got.error_code})", name)


def _parse_answer(answer: Node) -> dict[str, _Answer]:
    """The ``<sync><collection>`` children of a fetch or write answer."""
    sync = answer.get_child("sync")
    if sync is None:
        raise AppStateError("app state answer without <sync>")
    out: dict[str, _Answer] = {}
    for node in sync.get_children("collection"):
        name = node.attrs.get("name", "")
        got = _Answer(name, node.attrs.get("has_more_patches") == "true")
        if node.attrs.get("type") == "error":
            error = node.get_child("error")
            code = error.attrs.get("code", "") if error is not None else ""
            got.error_code = int(code) if code.isdigit() else 500
        try:
            snapshot = node.get_child("snapshot")
            if snapshot is not None and snapshot.content_bytes():
                ref = server_sync_pb2.ExternalBlobReference.FromString(
                    snapshot.content_bytes() or b""
                )
                got.snapshot = ref
            patches = node.get_child("patches")
            for patch in (patches or node).get_children("patch"):
                raw = patch.content_bytes()
                if raw:
                    got.patches.append(server_sync_pb2.SyncdPatch.FromString(raw))
        except ProtobufDecodeError as exc:
            raise AppStateError(f"app state {name}: unreadable patch ({exc})", name) from None
        out[name] = got
    return out
