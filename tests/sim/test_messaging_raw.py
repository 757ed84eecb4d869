"""Messaging, usync, prekeys and groups on the sim, driven with raw nodes.

The server does not decrypt, so most ``enc`` payloads here are opaque bytes; what is
asserted is the routing and the shapes whatsmeow (``send.go``, ``message.go``,
``receipt.go``, ``retry.go``, ``user.go``, ``prekeys.go``, ``group.go``) reads.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.sim.raw import GP2, RawCompanion, pair_companion
from wamd.binary import JID, Node
from wamd.errors import RequestError
from wamd.messaging.core import new_message_id, participant_hash
from wamd.sim import SimPhone, SimServer
from wamd.transport import NodeConnection

GROUP = "g.us"


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    # routing tests: no history sync message in the way of the stanzas they follow
    async with SimServer(history_sync=None, app_state_keys=False) as server:
        yield server


def enc(kind: str = "msg", payload: bytes | None = None, **attrs: str) -> Node:
    return Node("enc", {"v": "2", "type": kind, **attrs}, payload or os.urandom(24))


def dm(to: JID | str, targets: dict[JID, Node], **attrs: str) -> Node:
    """A 1:1 message stanza as whatsmeow's sendDM builds it."""
    message_id = attrs.pop("id", new_message_id())
    children = [
        Node("participants", {}, [Node("to", {"jid": str(j)}, [e]) for j, e in targets.items()])
    ]
    if any(e.attrs.get("type") == "pkmsg" for e in targets.values()):
        children.append(Node("device-identity", {}, b"signed-identity"))
    return Node("message", {"id": message_id, "to": str(to), "type": "text", **attrs}, children)


def ids(nodes: list[Node]) -> list[str]:
    return [n.attrs["id"] for n in nodes]


def copies(companion: RawCompanion, message_id: str) -> int:
    """How many ``message`` stanzas with ``message_id`` reached ``companion`` so far."""
    return sum(
        1 for n in companion.received if n.tag == "message" and n.attrs.get("id") == message_id
    )


class World:
    def __init__(self, sim: SimServer) -> None:
        self.sim = sim
        self.alice = sim.add_phone("15550001111", "Alice")
        self.bob = sim.add_phone("15550002222", "Bob")
        self.carol = sim.add_phone("15550003333", "Carol")


@pytest.fixture
def world(sim: SimServer) -> World:
    return World(sim)


async def companions(
    sim: SimServer, phone: SimPhone, count: int, version: int = 3
) -> list[RawCompanion]:
    return [await pair_companion(sim, phone, version=version) for _ in range(count)]


# ---------------------------------------------------------------------- 1:1 routing


@pytest.mark.parametrize("version", [2, 3])
async def test_server_ack_and_per_device_fanout_incl_own_devices(
    sim: SimServer, world: World, version: int
) -> None:
    a1, a2 = await companions(sim, world.alice, 2, version)
    (b1,) = await companions(sim, world.bob, 1, version)
    targets = {
        world.bob.jid: enc("pkmsg"),
        b1.jid: enc("pkmsg"),
        world.alice.jid: enc("msg"),
        a2.jid: enc("msg"),
    }
    everyone = [*targets, a1.jid]
    node = dm(world.bob.jid, targets, phash=participant_hash(everyone))
    ack = await a1.send_message(node)
    assert ack.tag == "ack"
    assert ack.attrs["class"] == "message" and ack.attrs["id"] == node.attrs["id"]
    assert ack.attrs["from"] == str(world.bob.jid) and ack.attrs["t"].isdigit()
    assert "error" not in ack.attrs and "phash" not in ack.attrs

    got = await b1.next("message")
    assert got.attrs["id"] == node.attrs["id"]
    assert got.attrs["from"] == str(a1.jid)  # the sending device, AD form
    assert got.attrs["type"] == "text" and got.attrs["notify"] == "Alice"
    assert got.attrs["sender_lid"] == str(world.alice.lid)  # user form, no device
    assert got.attrs["t"].isdigit() and "recipient" not in got.attrs
    assert [c.tag for c in got.get_children()] == ["enc", "device-identity"]
    assert got.require_child("enc").content == targets[b1.jid].content

    own = await a2.next("message")
    assert own.attrs["from"] == str(a1.jid)
    assert own.attrs["recipient"] == str(world.bob.jid)
    assert own.attrs["peer_recipient_lid"] == str(world.bob.lid)
    assert "sender_lid" not in own.attrs
    assert [c.tag for c in own.get_children()] == ["enc"]  # a msg needs no identity
    assert own.require_child("enc").content == targets[a2.jid].content

    # the phones got theirs too (they cannot decrypt opaque bytes: they ask for a retry)
    retry = await a1.next("receipt", lambda n: n.attrs.get("type") == "retry")
    assert retry.attrs["id"] == node.attrs["id"]
    assert retry.attrs["from"] in (str(world.bob.jid), str(world.alice.jid))
    # the sender never gets its own copy
    await sim.settle()  # all the sim was to deliver is delivered
    assert copies(a1, node.attrs["id"]) == 0


async def test_lid_addressed_message_carries_sender_pn(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    lid_target = b1.lid
    ack = await a1.send_message(dm(world.bob.lid, {lid_target: enc()}))
    assert ack.attrs["from"] == str(world.bob.lid) and "error" not in ack.attrs
    got = await b1.next("message")
    assert got.attrs["from"] == str(a1.lid)
    assert got.attrs["sender_pn"] == str(world.alice.jid)


async def test_bad_messages_are_refused_in_the_ack(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    unknown = await a1.send_message(dm("19990000000@s.whatsapp.net", {}))
    assert unknown.attrs["error"] == "404"
    bad_to = await a1.send_message(Node("message", {"id": "X1", "to": "not a jid@@"}))
    assert bad_to.attrs["error"] == "400"
    newsletter = await a1.send_message(Node("message", {"id": "X2", "to": "1@newsletter"}))
    assert newsletter.attrs["error"] == "400"
    # the connection is still fine
    ping = await a1.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]))
    assert ping.attrs["type"] == "result"


async def test_phash_mismatch_is_answered_and_absent_phash_accepted(
    sim: SimServer, world: World
) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    devices = [world.bob.jid, b1.jid, world.alice.jid]
    server_hash = participant_hash([*devices, a1.jid])  # whatsmeow's form (own device in)
    # a stale list (b1 missing) gets the server's hash back, the message still goes out
    stale = participant_hash([world.bob.jid, world.alice.jid, a1.jid])
    ack = await a1.send_message(dm(world.bob.jid, {b1.jid: enc()}, phash=stale))
    assert ack.attrs["phash"] == server_hash and "error" not in ack.attrs
    await b1.next("message")
    # whatsmeow's and Baileys' (own device left out) hashes of the right list both match
    for good in (server_hash, participant_hash(devices)):
        ack = await a1.send_message(dm(world.bob.jid, {b1.jid: enc()}, phash=good))
        assert "phash" not in ack.attrs
    ack = await a1.send_message(dm(world.bob.jid, {b1.jid: enc()}))  # no phash at all
    assert "phash" not in ack.attrs and "error" not in ack.attrs


# ---------------------------------------------------------------------- offline queue


async def test_a_message_routed_during_the_backlog_waits_behind_it(
    sim: SimServer, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat's new message never overtakes its older ones still in the offline backlog."""
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    await b1.close()
    backlog = [dm(world.bob.jid, {b1.jid: enc()}) for _ in range(4)]
    for node in backlog:
        assert "error" not in (await a1.send_message(node)).attrs
    late = dm(world.bob.jid, {b1.jid: enc()})
    real_send = NodeConnection.send
    replayed = 0

    async def send(conn: NodeConnection, node: Node) -> None:
        nonlocal replayed
        if node.attrs.get("offline") == "1":
            replayed += 1
            if replayed == 2:  # Alice writes again while the sim is half-way through
                assert "error" not in (await a1.send_message(late)).attrs
        await real_send(conn, node)

    monkeypatch.setattr(NodeConnection, "send", send)
    login = await b1.login()
    assert ids(login.offline) == ids(backlog)  # all of the backlog, nothing in between
    got = await b1.next("message")
    assert got.attrs["id"] == late.attrs["id"] and "offline" not in got.attrs


async def test_offline_queue_kept_until_acked_and_redelivered(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    await b1.close()
    first = dm(world.bob.jid, {b1.jid: enc()})
    second = dm(world.bob.jid, {b1.jid: enc()})
    for node in (first, second):
        assert "error" not in (await a1.send_message(node)).attrs

    login = await b1.login()
    assert ids(login.offline) == [first.attrs["id"], second.attrs["id"]]
    assert all(n.attrs["offline"] == "1" and n.tag == "message" for n in login.offline)
    assert login.ib.attrs["from"] == "s.whatsapp.net"
    assert login.ib.require_child("offline").attrs["count"] == "2"

    # an ack (whatsmeow sendAck) settles the first; the second stays queued
    await b1.ack(login.offline[0])
    await b1.close()
    login = await b1.login()
    assert ids(login.offline) == [second.attrs["id"]]
    assert login.ib.require_child("offline").attrs["count"] == "1"

    # a delivery receipt settles it as well
    receipt_ack = await b1.receipt(login.offline[0])
    assert receipt_ack.attrs["class"] == "receipt"
    await b1.close()
    login = await b1.login()
    assert login.offline == [] and login.ib.require_child("offline").attrs["count"] == "0"


async def test_live_message_unacked_is_redelivered_after_reconnect(
    sim: SimServer, world: World
) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    node = dm(world.bob.jid, {b1.jid: enc()})
    await a1.send_message(node)
    live = await b1.next("message")
    assert "offline" not in live.attrs
    await b1.close()  # gone before acknowledging
    login = await b1.login()
    assert ids(login.offline) == [node.attrs["id"]]


# ---------------------------------------------------------------------- receipts


async def test_delivery_and_read_receipts_reach_the_sender(sim: SimServer, world: World) -> None:
    a1, a2 = await companions(sim, world.alice, 2)
    (b1,) = await companions(sim, world.bob, 1)
    node = dm(world.bob.jid, {b1.jid: enc(), a2.jid: enc()})
    await a1.send_message(node)
    got = await b1.next("message")
    await a2.next("message")

    ack = await b1.receipt(got)
    assert ack.attrs == {"class": "receipt", "id": node.attrs["id"], "from": str(a1.jid)}
    delivered = await a1.next("receipt", lambda n: n.attrs.get("from") == str(b1.jid))
    assert delivered.attrs["id"] == node.attrs["id"] and "type" not in delivered.attrs
    assert delivered.attrs["t"].isdigit()

    # read: whatsmeow MarkRead addresses the chat (the user), every sender device hears it
    read = Node("receipt", {"id": node.attrs["id"], "to": str(world.alice.jid), "type": "read"})
    assert b1.conn is not None
    read_ack = await b1.conn.request(read, timeout=10)
    assert read_ack.attrs["type"] == "read"
    for device in (a1, a2):
        seen = await device.next("receipt", lambda n: n.attrs.get("type") == "read")
        assert seen.attrs["from"] == str(b1.jid) and seen.attrs["id"] == node.attrs["id"]
        await device.ack(seen)
    assert any(r.type == "read" for r in world.alice.receipts)


async def test_retry_receipt_passes_through_and_resend_reaches_one_device(
    sim: SimServer, world: World
) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    b1, b2 = await companions(sim, world.bob, 2)
    node = dm(world.bob.jid, {b1.jid: enc("pkmsg"), b2.jid: enc("pkmsg")})
    await a1.send_message(node)
    got = await b1.next("message")
    await b2.next("message")
    retry_children = [
        Node("retry", {"count": "1", "id": node.attrs["id"], "t": got.attrs["t"], "v": "1"}),
        Node("registration", {}, (1234).to_bytes(4, "big")),
    ]
    await b1.receipt(got, "retry", retry_children)
    retry = await a1.next("receipt", lambda n: n.attrs.get("from") == str(b1.jid))
    assert retry.attrs["type"] == "retry" and retry.attrs["id"] == node.attrs["id"]
    assert [c.tag for c in retry.get_children()] == ["retry", "registration"]
    assert retry.require_child("registration").content == (1234).to_bytes(4, "big")

    # whatsmeow retry.go: <message to=RETRYING_DEVICE id type t device_fanout=false><enc count>
    resend = Node(
        "message",
        {"to": retry.attrs["from"], "id": node.attrs["id"], "type": "text", "t": "1"},
        [enc("msg", count="1"), Node("device-identity", {}, b"identity")],
    )
    ack = await a1.send_message(resend)
    assert "error" not in ack.attrs
    again = await b1.next("message")
    assert again.attrs["id"] == node.attrs["id"] and again.attrs["from"] == str(a1.jid)
    assert again.require_child("enc").attrs["count"] == "1"
    assert again.attrs["sender_lid"] == str(world.alice.lid)
    await sim.settle()
    assert copies(b2, node.attrs["id"]) == 1  # the first delivery only, not the resend


# ---------------------------------------------------------------------- groups


async def make_group(a1: RawCompanion, subject: str, members: list[JID]) -> Node:
    create = Node(
        "create",
        {"subject": subject, "key": new_message_id()},
        [Node("participant", {"jid": str(m)}) for m in members]
        + [Node("member_add_mode", {}, b"all_member_add")],
    )
    answer = await a1.query(Node("iq", {"type": "set", "xmlns": "w:g2", "to": GROUP}, [create]))
    return answer.require_child("group")


async def test_group_message_fans_out_skmsg_and_pairwise_copies(
    sim: SimServer, world: World
) -> None:
    a1, a2 = await companions(sim, world.alice, 2)
    (b1,) = await companions(sim, world.bob, 1)
    group = await make_group(a1, "Team", [world.bob.jid])
    gjid = f"{group.attrs['id']}@g.us"
    skmsg = enc("skmsg")
    message = Node(
        "message",
        {"id": new_message_id(), "to": gjid, "type": "text"},
        [
            Node("participants", {}, [Node("to", {"jid": str(b1.jid)}, [enc("pkmsg")])]),
            skmsg,
            Node("device-identity", {}, b"identity"),
        ],
    )
    ack = await a1.send_message(message)
    assert ack.attrs["from"] == gjid and "error" not in ack.attrs
    got = await b1.next("message")
    assert got.attrs["from"] == gjid and got.attrs["participant"] == str(a1.jid)
    assert got.attrs["participant_lid"] == str(world.alice.lid)
    assert [c.attrs.get("type", c.tag) for c in got.get_children()] == [
        "pkmsg",
        "skmsg",
        "device-identity",
    ]
    own = await a2.next("message")  # the sender's other device: the sender key copy only
    assert own.attrs["from"] == gjid and own.attrs["participant"] == str(a1.jid)
    assert [c.attrs["type"] for c in own.get_children()] == ["skmsg"]
    assert own.require_child("enc").content == skmsg.content

    # a member asks for a retry: it reaches the sender as from=GROUP participant=MEMBER
    await b1.receipt(got, "retry", [Node("retry", {"count": "1", "id": got.attrs["id"]})])
    retry = await a1.next("receipt", lambda n: n.attrs.get("participant") == str(b1.jid))
    assert retry.attrs["from"] == gjid and retry.attrs["type"] == "retry"
    resend = Node(
        "message",
        {"to": gjid, "participant": str(b1.jid), "id": got.attrs["id"], "type": "text"},
        [enc("msg", count="1")],
    )
    assert "error" not in (await a1.send_message(resend)).attrs
    again = await b1.next("message")
    assert again.attrs["from"] == gjid and again.attrs["participant"] == str(a1.jid)
    assert [c.attrs["type"] for c in again.get_children()] == ["msg"]
    await sim.settle()
    assert copies(a2, got.attrs["id"]) == 1  # its sender key copy only, not the resend


async def test_group_message_errors(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (c1,) = await companions(sim, world.carol, 1)
    group = await make_group(a1, "Private", [world.bob.jid])
    gjid = f"{group.attrs['id']}@g.us"
    outsider = Node("message", {"id": "G1", "to": gjid, "type": "text"}, [enc("skmsg")])
    assert (await c1.send_message(outsider)).attrs["error"] == "403"
    missing = Node("message", {"id": "G2", "to": "120363999@g.us", "type": "text"}, [enc("skmsg")])
    assert (await a1.send_message(missing)).attrs["error"] == "404"


async def test_group_iqs_and_w_gp2_notifications(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    (c1,) = await companions(sim, world.carol, 1)
    group = await make_group(a1, "Team", [world.bob.jid])
    gid = group.attrs["id"]
    gjid = f"{gid}@g.us"
    assert gid.startswith("120363")
    assert group.attrs["subject"] == "Team" and group.attrs["creator"] == str(world.alice.jid)
    assert group.attrs["size"] == "2" and group.attrs["creation"].isdigit()
    roles = {p.attrs["jid"]: p.attrs.get("type") for p in group.get_children("participant")}
    assert roles == {str(world.alice.jid): "superadmin", str(world.bob.jid): None}

    created = await b1.next("notification", where=GP2)
    assert created.attrs["type"] == "w:gp2" and created.attrs["from"] == gjid
    assert created.attrs["participant"] == str(world.alice.jid)
    assert created.require_child("create").require_child("group").attrs["id"] == gid
    await b1.ack(created)

    def gp2(tag: str) -> Node:
        return Node("iq", {"type": "set", "xmlns": "w:g2", "to": gjid}, [Node(tag)])

    def change(tag: str, *members: JID) -> Node:
        return Node(
            "iq",
            {"type": "set", "xmlns": "w:g2", "to": gjid},
            [Node(tag, {}, [Node("participant", {"jid": str(m)}) for m in members])],
        )

    query = Node(
        "iq",
        {"type": "get", "xmlns": "w:g2", "to": gjid},
        [Node("query", {"request": "interactive"})],
    )
    info = (await b1.query(query)).require_child("group")
    assert info.attrs["id"] == gid and len(info.get_children("participant")) == 2
    with pytest.raises(RequestError) as err:
        await c1.query(query)  # not a member
    assert err.value.code == 403

    added = await a1.query(change("add", world.carol.jid, world.bob.jid))
    results = {p.attrs["jid"]: p.attrs.get("error") for p in added.require_child("add")}
    assert results == {str(world.carol.jid): None, str(world.bob.jid): "409"}
    for device in (b1, c1):
        note = await device.next("notification", where=GP2)
        listed = note.require_child("add").get_children("participant")
        assert [p.attrs["jid"] for p in listed] == [str(world.carol.jid)]
        assert listed[0].attrs["lid"] == str(world.carol.lid)

    subject = Node(
        "iq", {"type": "set", "xmlns": "w:g2", "to": gjid}, [Node("subject", {}, b"Renamed")]
    )
    await a1.query(gp2("locked"))  # only admins edit the info of a locked group
    for device in (b1, c1):
        assert (await device.next("notification", where=GP2)).get_child("locked") is not None
    with pytest.raises(RequestError) as err:
        await b1.query(subject)
    assert err.value.code == 401
    await a1.query(change("promote", world.bob.jid))
    promoted = await c1.next("notification", where=GP2)
    assert promoted.require_child("promote").get_children()[0].attrs["jid"] == str(world.bob.jid)
    await b1.query(subject)
    renamed = await c1.next("notification", where=GP2)
    attrs = renamed.require_child("subject").attrs
    assert attrs["subject"] == "Renamed" and attrs["s_o"] == str(world.bob.jid)
    assert renamed.attrs["participant"] == str(world.bob.jid)
    await a1.query(change("demote", world.bob.jid))
    assert (await c1.next("notification", where=GP2)).get_child("demote") is not None

    await a1.query(change("remove", world.carol.jid))
    removed = await c1.next("notification", where=GP2)  # the removed member hears it too
    assert removed.require_child("remove").get_children()[0].attrs["jid"] == str(world.carol.jid)
    with pytest.raises(RequestError) as err:
        await c1.query(query)
    assert err.value.code == 403
    assert world.bob.number in sim.groups[gid].participants

    unknown = Node("iq", {"type": "get", "xmlns": "w:g2", "to": "120363000@g.us"}, [Node("query")])
    with pytest.raises(RequestError) as err:
        await a1.query(unknown)
    assert err.value.code == 404
    with pytest.raises(RequestError) as err:
        await a1.query(Node("iq", {"type": "set", "xmlns": "w:g2", "to": GROUP}, [Node("create")]))
    assert err.value.code == 400
    with pytest.raises(RequestError) as err:
        await a1.query(gp2("frobnicate"))
    assert err.value.code == 501


# ---------------------------------------------------------------------- usync


def usync(users: list[Node], protocols: list[Node], **attrs: str) -> Node:
    body = Node(
        "usync",
        {"sid": "1", "mode": "query", "last": "true", "index": "0", "context": "message", **attrs},
        [Node("query", {}, protocols), Node("list", {}, users)],
    )
    return Node("iq", {"type": "get", "xmlns": "usync"}, [body])


@pytest.mark.parametrize("version", [2, 3])
async def test_usync_device_list_lid_and_contact(
    sim: SimServer, world: World, version: int
) -> None:
    (a1,) = await companions(sim, world.alice, 1, version)
    b1, b2 = await companions(sim, world.bob, 2, version)
    await world.bob.unlink(b2.device)
    answer = await a1.query(
        usync(
            [Node("user", {"jid": str(world.bob.jid)}), Node("user", {"jid": str(a1.jid)})],
            [Node("devices", {"version": "2"}), Node("lid")],
        )
    )
    body = answer.require_child("usync")
    assert body.attrs["sid"] == "1" and body.get_child("result") is not None
    users = {u.attrs["jid"]: u for u in body.require_child("list").get_children("user")}
    # the asked-for JID comes back as the user (device dropped)
    assert set(users) == {str(world.bob.jid), str(world.alice.jid)}
    bob = users[str(world.bob.jid)]
    devices = bob.require_child("devices")
    listed = devices.require_child("device-list").get_children("device")
    assert [d.attrs["id"] for d in listed] == ["0", str(b1.jid.device)]  # unlinked b2 gone
    assert "key-index" not in listed[0].attrs and listed[1].attrs["key-index"].isdigit()
    assert devices.require_child("key-index-list").attrs["ts"].isdigit()
    assert bob.require_child("lid").attrs["val"] == str(world.bob.lid)
    own = users[str(world.alice.jid)].require_child("devices").require_child("device-list")
    assert [d.attrs["id"] for d in own.get_children()] == ["0", str(a1.jid.device)]

    contacts = await a1.query(
        usync(
            [
                Node("user", {}, [Node("contact", {}, b"+15550002222@c.us")]),
                Node("user", {}, [Node("contact", {}, b"+19990000000@c.us")]),
            ],
            [Node("contact", {"addressing_mode": "lid"})],
            mode="query",
            context="interactive",
        )
    )
    found = contacts.require_child("usync").require_child("list").get_children("user")
    assert found[0].attrs == {"jid": str(world.bob.lid), "pn_jid": str(world.bob.jid)}
    assert found[0].require_child("contact").attrs["type"] == "in"
    assert found[0].require_child("contact").content_bytes() == b"+15550002222@c.us"
    assert found[1].require_child("contact").attrs["type"] == "out"

    with pytest.raises(RequestError) as err:
        await a1.query(Node("iq", {"type": "get", "xmlns": "usync"}, [Node("usync")]))
    assert err.value.code == 400


# ---------------------------------------------------------------------- prekeys


def fetch(*jids: JID | str) -> Node:
    users = [Node("user", {"jid": str(j), "reason": "identity"}) for j in jids]
    return Node("iq", {"type": "get", "xmlns": "encrypt"}, [Node("key", {}, users)])


async def test_prekey_bundle_fetch_uses_up_one_time_keys(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)
    keys = await b1.upload_prekeys(2, start=7)
    count = await b1.query(Node("iq", {"type": "get", "xmlns": "encrypt"}, [Node("count")]))
    assert count.require_child("count").attrs["value"] == "2"

    seen: list[bytes | None] = []
    for _ in range(3):
        answer = await a1.query(fetch(b1.jid))
        (user,) = answer.require_child("list").get_children("user")
        assert user.attrs["jid"] == str(b1.jid)
        assert user.require_child("registration").content == b1.creds.registration_id.to_bytes(
            4, "big"
        )
        assert user.require_child("type").content == b"\x05"
        assert user.require_child("identity").content == b1.creds.signed_identity_key.public
        skey = user.require_child("skey")
        spk = b1.creds.signed_pre_key
        assert skey.require_child("id").content == spk.key_id.to_bytes(3, "big")
        assert skey.require_child("value").content == spk.key_pair.public
        assert skey.require_child("signature").content == spk.signature
        key = user.get_child("key")
        seen.append(key.require_child("value").content_bytes() if key is not None else None)
        if key is not None:
            assert len(key.require_child("id").content_bytes() or b"") == 3
    # each one-time key once, lowest id first; then the bundle comes without one
    assert seen == [keys[0][1].public, keys[1][1].public, None]
    count = await b1.query(Node("iq", {"type": "get", "xmlns": "encrypt"}, [Node("count")]))
    assert count.require_child("count").attrs["value"] == "0"

    answer = await a1.query(fetch(JID(world.bob.number, "s.whatsapp.net", 77), "garbage@@"))
    for user in answer.require_child("list").get_children("user"):
        error = user.require_child("error")
        assert error.attrs == {"code": "404", "text": "item-not-found"}


async def test_bad_prekey_upload_is_refused(sim: SimServer, world: World) -> None:
    (b1,) = await companions(sim, world.bob, 1)
    bad = Node(
        "iq",
        {"type": "set", "xmlns": "encrypt"},
        [
            Node(
                "list",
                {},
                [Node("key", {}, [Node("id", {}, b"\x00\x00\x01"), Node("value", {}, b"short")])],
            )
        ],
    )
    with pytest.raises(RequestError) as err:
        await b1.query(bad)
    assert err.value.code == 400
    count = await b1.query(Node("iq", {"type": "get", "xmlns": "encrypt"}, [Node("count")]))
    assert count.require_child("count").attrs["value"] == "0"


# ---------------------------------------------------------------------- other iqs


@pytest.mark.parametrize("version", [2, 3])
async def test_unknown_iqs_get_error_answers(sim: SimServer, world: World, version: int) -> None:
    (a1,) = await companions(sim, world.alice, 1, version)
    for xmlns, child in [("bogus", "thing"), ("encrypt", "frobnicate"), ("md", "thing")]:
        with pytest.raises(RequestError) as err:
            await a1.query(Node("iq", {"type": "get", "xmlns": xmlns}, [Node(child)]))
        assert err.value.code == 501
    with pytest.raises(RequestError) as err:
        await a1.query(Node("iq", {"type": "set", "xmlns": "w:g2", "to": GROUP}))
    assert err.value.code == 400
    ping = await a1.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]))
    assert ping.attrs["type"] == "result" and ping.attrs["from"] == "s.whatsapp.net"


# ---------------------------------------------------------------------- signed prekey rotation


async def test_signed_prekey_rotation_is_served_by_the_next_fetch(
    sim: SimServer, world: World
) -> None:
    from wamd.crypto import SignedKeyPair, generate_keypair
    from wamd.signal.prekeys import signed_prekey_node

    (a1,) = await companions(sim, world.alice, 1)
    (b1,) = await companions(sim, world.bob, 1)

    async def served_skey() -> tuple[bytes | None, bytes | None]:
        user = (await a1.query(fetch(b1.jid))).require_child("list").require_child("user")
        skey = user.require_child("skey")
        return skey.require_child("id").content_bytes(), skey.require_child("value").content_bytes()

    identity = b1.creds.signed_identity_key
    # Baileys rotateSignedPreKey: <iq xmlns=encrypt type=set><rotate><skey/></rotate></iq>
    second = SignedKeyPair.generate(identity, 2)
    rotate = Node("rotate", {}, [signed_prekey_node(second)])
    await b1.query(Node("iq", {"type": "set", "xmlns": "encrypt"}, [rotate]))
    assert await served_skey() == ((2).to_bytes(3, "big"), second.key_pair.public)

    # whatsmeow's upload shape carries the skey beside the list: it replaces it as well
    third = SignedKeyPair.generate(identity, 3)
    b1.creds.signed_pre_key = third
    await b1.upload_prekeys(1, start=40)
    assert await served_skey() == ((3).to_bytes(3, "big"), third.key_pair.public)

    # a key signed by some other identity is refused and changes nothing
    forged = SignedKeyPair.generate(generate_keypair(), 4)
    bad = Node("iq", {"type": "set", "xmlns": "encrypt"}, [signed_prekey_node(forged)])
    with pytest.raises(RequestError) as err:
        await b1.query(bad)
    assert err.value.code == 400
    assert await served_skey() == ((3).to_bytes(3, "big"), third.key_pair.public)

    # an upload naming another identity is refused too
    other = Node(
        "iq",
        {"type": "set", "xmlns": "encrypt"},
        [
            Node("identity", {}, generate_keypair().public),
            Node("list", {}, []),
            signed_prekey_node(third),
        ],
    )
    with pytest.raises(RequestError) as err:
        await b1.query(other)
    assert err.value.code == 400

    digest = await b1.query(Node("iq", {"type": "get", "xmlns": "encrypt"}, [Node("digest")]))
    held = digest.require_child("digest")
    assert held.require_child("identity").content == identity.public
    assert held.require_child("skey").require_child("id").content == (3).to_bytes(3, "big")


async def test_device_list_changes_are_notified(sim: SimServer, world: World) -> None:
    (a1,) = await companions(sim, world.alice, 1)
    b1 = await pair_companion(sim, world.bob)
    note = await a1.next("notification", where=lambda n: n.attrs.get("type") == "devices")
    assert note.attrs["from"] == str(world.bob.jid)
    added = note.require_child("add")
    assert added.require_child("device").attrs["jid"] == str(b1.jid)
    assert added.require_child("device").attrs["lid"] == str(b1.lid)
    assert added.attrs["device_hash"] == participant_hash([d.jid for d in world.bob.devices()])
    await a1.ack(note)
    await world.bob.unlink(b1.jid)
    gone = await a1.next("notification", where=lambda n: n.attrs.get("type") == "devices")
    removed = gone.require_child("remove")
    assert removed.require_child("device").attrs["jid"] == str(b1.jid)
    assert removed.attrs["device_hash"] == participant_hash([world.bob.jid])
