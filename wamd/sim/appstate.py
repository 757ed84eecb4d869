"""The server's app-state store: per account, five collections of versioned patches.

What the real server keeps for an account (as whatsmeow and Baileys see it from the
client side): for each collection a version number and the list of patches that led
there, each numbered by the server (``SyncdPatch.version``, which the writer leaves
out). A fetch (``<collection name version return_snapshot>``) is answered with the
patches newer than ``version``, at most ``page`` per answer with
``has_more_patches="true"`` when more wait. A write (``<collection name version><patch>``)
is refused with ``409`` and the newer patches when ``version`` is not the current one,
taken otherwise (``version + 1``), and every *other* device of the account gets
``<notification type="server_sync"><collection name version/>``.

Where the sim goes beyond what the real server can do: it holds the account's app-state
key (its phones made it), so it checks every MAC of a companion's patch against the
collection's current LTHash and refuses a bad one with ``400`` (a real server cannot see
inside; the phone would later report a fatal exception). The phone's own changes
(``SimPhone.save_contact``, ``archive_chat`` ...) are real patches made with that key.

Snapshots and big patches are external blobs on the media hosts, as on the real service
(whatsmeow ``appstate/decode.go``, Baileys ``extractSyncdPatches``): a fetch that asks for
a snapshot (``return_snapshot="true"``) of a collection with a version gets
``<snapshot>`` holding an ``ExternalBlobReference`` to the encrypted ``SyncdSnapshot``
(media type ``md-app-state``) on the sim's media host; a patch of more than
``external_at`` mutations is served with ``externalMutations`` pointing at its
``SyncdMutations``. ``snapshots = False`` answers a snapshot request with the whole
patch history from version 0 instead, which both references accept (Baileys downloads
blobs from WhatsApp's own hosts only, so its interop tests run that way). ``tamper(name)`` corrupts the next answer for a collection (one flipped
byte in a value MAC) without touching what is stored, so a client's re-fetch gets good
data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.appstate import COLLECTIONS, CollectionState, decode_patch, expand_keys
from wamd.appstate import actions as acts
from wamd.appstate.codec import decode_record, encode_patch, encode_snapshot, index_json
from wamd.appstate.keys import MutationKeys
from wamd.appstate.macs import index_mac
from wamd.binary import Node
from wamd.errors import AppStateError
from wamd.media.crypto import encrypt_media
from wamd.media.types import MediaType
from wamd.proto import server_sync_pb2, sync_action_pb2

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.state import SimDevice

__all__ = ["PAGE", "AccountAppState", "SimCollection"]

log = logging.getLogger(__name__)

PAGE: Final = 100  # patches per fetch answer before has_more_patches (the real limit is not public)
EXTERNAL_AT: Final = 50  # a patch with more mutations is served as an external blob


@dataclass
class SimCollection:
    name: str
    state: CollectionState = field(default_factory=CollectionState)
    patches: list[server_sync_pb2.SyncdPatch] = field(default_factory=list)
    records: dict[bytes, server_sync_pb2.SyncdRecord] = field(default_factory=dict)
    tampered: int = 0  # answers still to corrupt (tests)
    blobs: dict[tuple[str, int], bytes] = field(default_factory=dict)  # uploaded refs

    @property
    def version(self) -> int:
        return self.state.version


class AccountAppState:
    """One account's collections, read and written by its phone and its companions."""

    def __init__(self, phone: SimPhone) -> None:
        self.phone = phone
        self.collections: dict[str, SimCollection] = {n: SimCollection(n) for n in COLLECTIONS}
        self.page = PAGE
        self.snapshots = True  # False: a snapshot request gets the patches from v0
        self.external_at = EXTERNAL_AT

    # ------------------------------------------------------------------ the key

    def key(self) -> tuple[bytes, MutationKeys]:
        """The account's app-state key (made on first use; the phone shares it)."""
        endpoint = self.phone.endpoint
        if endpoint.app_state_key is None:
            now_ms = int(self.phone.state.clock() * 1000)
            rng = self.phone.state.rng
            endpoint.app_state_key = (rng.randbytes(6), rng.randbytes(32), now_ms)
        key_id, key_data, _ = endpoint.app_state_key
        return key_id, expand_keys(key_data)

    # ------------------------------------------------------------------ changes

    def _take(self, name: str, patch: server_sync_pb2.SyncdPatch) -> int:
        """Check ``patch`` against the collection and store it as the next version."""
        collection = self.collections[name]
        key_id, keys = self.key()
        numbered = server_sync_pb2.SyncdPatch()
        numbered.CopyFrom(patch)
        numbered.version.version = collection.version + 1
        applied = decode_patch(name, numbered, collection.state, {key_id: keys})
        for wire in numbered.mutations:
            imac = wire.record.index.blob
            if wire.operation == server_sync_pb2.SyncdMutation.SET:
                collection.records[imac] = wire.record
            else:
                collection.records.pop(imac, None)
        collection.state = applied.state
        collection.patches.append(numbered)
        return collection.version

    async def phone_write(self, request: acts.PatchRequest) -> int:
        """The phone changes something: a real patch, stored, and every companion told."""
        name = request.collection
        key_id, keys = self.key()
        collection = self.collections[name]
        now_ms = int(self.phone.state.clock() * 1000)
        rng = self.phone.state.rng
        patch, _ = encode_patch(
            name, collection.state, key_id, keys, request.mutations, now_ms, rng.randbytes
        )
        version = self._take(name, patch)
        await self.notify(name, skip=None)
        return version

    async def notify(self, name: str, skip: SimDevice | None) -> None:
        """``server_sync`` to every linked companion but ``skip`` (whatsmeow notification.go
        handleAppStateNotification, Baileys ``server_sync``)."""
        version = self.collections[name].version
        state = self.phone.state
        for device in list(self.phone.companions.values()):
            if device is skip or device.unlinked:
                continue
            stanza = state.notification(
                "s.whatsapp.net",
                "server_sync",
                [Node("collection", {"name": name, "version": str(version)})],
            )
            await self.phone.server.router.deliver(device, stanza)

    def tamper(self, name: str, count: int = 1) -> None:
        """Corrupt the next ``count`` answers for ``name`` (not what is stored)."""
        self.collections[name].tampered += count

    # ------------------------------------------------------------------ reading (tests)

    def value(self, index: Sequence[str]) -> sync_action_pb2.SyncActionValue | None:
        """The current value at ``index`` (``("archive", jid)``), as the phone sees it."""
        key_id, keys = self.key()
        wanted = index_mac(keys.index, index_json(index))
        for collection in self.collections.values():
            record = collection.records.get(wanted)
            if record is not None:
                mutation = decode_record(collection.name, 0, "set", record, {key_id: keys}, 1)
                return mutation.value
        return None

    # ------------------------------------------------------------------ the iq

    async def answer(self, device: SimDevice, sync: Node) -> Node:
        """``<sync>`` of a ``w:sync:app:state`` set: fetches and writes, per collection."""
        out = []
        written: list[str] = []
        for child in sync.get_children("collection"):
            name = child.attrs.get("name", "")
            if name not in self.collections:
                out.append(_error(name, 400, "bad-request"))
                continue
            raw_version = child.attrs.get("version", "0") or "0"
            if not raw_version.isdigit():
                out.append(_error(name, 400, "bad-request"))
                continue
            version = int(raw_version)
            patch_node = child.get_child("patch")
            if patch_node is None:
                snapshot = child.attrs.get("return_snapshot") == "true"
                out.append(await self._fetch(name, version, snapshot))
                continue
            answer = self._write(device, name, version, patch_node)
            if answer.attrs.get("type") != "error":
                written.append(name)
            out.append(answer)
        for name in written:
            await self.notify(name, skip=device)
        return Node("sync", {}, out)

    async def _upload(self, data: bytes) -> server_sync_pb2.ExternalBlobReference:
        endpoint = self.phone.endpoint
        blob, fields = encrypt_media(data, MediaType.APP_STATE, endpoint.rng.randbytes(32))
        _, direct_path = await endpoint.media.upload_blob(blob, fields, MediaType.APP_STATE)
        return server_sync_pb2.ExternalBlobReference(
            mediaKey=fields.media_key,
            directPath=direct_path,
            fileSizeBytes=fields.file_length,
            fileSHA256=fields.file_sha256,
            fileEncSHA256=fields.file_enc_sha256,
        )

    async def _snapshot_ref(self, collection: SimCollection) -> bytes:
        cached = collection.blobs.get(("snapshot", collection.version))
        if cached is None:
            key_id, keys = self.key()
            snapshot = encode_snapshot(
                collection.name,
                collection.version,
                list(collection.records.values()),
                key_id,
                keys,
            )
            ref = await self._upload(snapshot.SerializeToString())
            cached = collection.blobs[("snapshot", collection.version)] = ref.SerializeToString()
        return cached

    async def _served(self, collection: SimCollection, patch: server_sync_pb2.SyncdPatch) -> bytes:
        if len(patch.mutations) <= self.external_at:
            return patch.SerializeToString()
        version = patch.version.version
        cached = collection.blobs.get(("patch", version))
        if cached is None:
            listed = server_sync_pb2.SyncdMutations(mutations=patch.mutations)
            outer = server_sync_pb2.SyncdPatch()
            outer.CopyFrom(patch)
            del outer.mutations[:]
            outer.externalMutations.CopyFrom(await self._upload(listed.SerializeToString()))
            cached = collection.blobs[("patch", version)] = outer.SerializeToString()
        return cached

    async def _fetch(self, name: str, version: int, snapshot: bool = False) -> Node:
        collection = self.collections[name]
        if snapshot and self.snapshots and collection.version > 0:
            attrs = {"name": name, "version": str(collection.version)}
            return Node(
                "collection", attrs, [Node("snapshot", {}, await self._snapshot_ref(collection))]
            )
        newer = [p for p in collection.patches if p.version.version > version]
        page, more = newer[: self.page], len(newer) > self.page
        attrs = {"name": name, "version": str(page[-1].version.version if page else version)}
        if more:
            attrs["has_more_patches"] = "true"
        if not page:
            return Node("collection", attrs)
        served = [await self._served(collection, p) for p in page]
        if collection.tampered:
            collection.tampered -= 1
            served[0] = _corrupted(page[0])
        return Node(
            "collection", attrs, [Node("patches", {}, [Node("patch", {}, raw) for raw in served])]
        )

    def _write(self, device: SimDevice, name: str, version: int, patch_node: Node) -> Node:
        collection = self.collections[name]
        raw = patch_node.content_bytes()
        try:
            patch = server_sync_pb2.SyncdPatch.FromString(raw or b"")
        except ProtobufDecodeError:
            return _error(name, 400, "bad-request")
        if not patch.mutations:
            return _error(name, 400, "bad-request")
        if version != collection.version:
            # a stale writer: refused with what it missed, to apply before trying again
            newer = [p for p in collection.patches if p.version.version > version]
            node = _error(name, 409, "conflict")
            node.attrs["version"] = str(collection.version)
            children = list(node.get_children())
            children.append(
                Node("patches", {}, [Node("patch", {}, p.SerializeToString()) for p in newer])
            )
            return Node(node.tag, node.attrs, children)
        try:
            new_version = self._take(name, patch)
        except AppStateError as exc:
            log.info("refused an app state patch from %s: %s", device.jid, exc)
            return _error(name, 400, "bad-request")
        return Node("collection", {"name": name, "version": str(new_version)})


def _error(name: str, code: int, text: str) -> Node:
    return Node(
        "collection",
        {"name": name, "type": "error"},
        [Node("error", {"code": str(code), "text": text})],
    )


def _corrupted(patch: server_sync_pb2.SyncdPatch) -> bytes:
    copy = server_sync_pb2.SyncdPatch()
    copy.CopyFrom(patch)
    if copy.mutations:
        blob = bytearray(copy.mutations[0].record.value.blob)
        blob[-1] ^= 0x01
        copy.mutations[0].record.value.blob = bytes(blob)
    else:
        copy.patchMAC = bytes(32)
    return copy.SerializeToString()
