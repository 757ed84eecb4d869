"""Bad clients: floods, undecodable frames and nonsense stanzas end only their own
connection (with a logged reason), never the server or anybody else's link."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from tests.sim.raw import WAIT, RawCompanion, pair_companion
from wamd.binary import Node
from wamd.errors import RequestError
from wamd.sim import SimServer

PING = Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")])


async def alive(companion: RawCompanion) -> bool:
    answer = await companion.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]))
    return answer.attrs["type"] == "result"


async def closed_by_server(companion: RawCompanion) -> bool:
    assert companion.conn is not None
    await asyncio.wait_for(companion.conn.wait_closed(), WAIT)
    return True


async def test_a_flooding_client_is_disconnected_and_others_keep_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a refill of one stanza per 1000 s: in this test, `burst` stanzas are allowed
    async with SimServer(stanza_limit=(0.001, 30.0)) as sim:
        alice, bob = sim.add_phone("15550001111"), sim.add_phone("15550002222")
        flooder = await pair_companion(sim, alice)
        calm = await pair_companion(sim, bob)
        with caplog.at_level(logging.WARNING, logger="wamd.sim"):
            assert flooder.conn is not None
            for n in range(200):
                try:
                    await flooder.conn.send(Node("iq", {**PING.attrs, "id": f"f{n}"}, PING.content))
                except Exception:
                    break  # the server already hung up
            assert await closed_by_server(flooder)
        assert any(
            "flooding" in r.getMessage() and str(flooder.jid) in r.getMessage()
            for r in caplog.records
        )
        assert await alive(calm)
        # the flooder may come back (a fresh connection has a fresh bucket)
        await flooder.login()
        assert await alive(flooder)


@pytest.mark.parametrize(
    "garbage",
    ["unauthenticated", "not-a-node", "text-message", "truncated-list"],
)
async def test_undecodable_input_closes_only_that_connection(
    garbage: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with SimServer() as sim:
        alice, bob = sim.add_phone("15550001111"), sim.add_phone("15550002222")
        bad = await pair_companion(sim, alice)
        good = await pair_companion(sim, bob)
        conn = bad.conn
        assert conn is not None
        with caplog.at_level(logging.WARNING, logger="wamd"):
            if garbage == "unauthenticated":
                await conn.ws.send(conn._encoder.encode(os.urandom(40)))
            elif garbage == "text-message":
                await conn.ws.send("<iq/>")
            else:
                payload = b"\x00\xff\xff\xff" if garbage == "not-a-node" else b"\x00\xf8\x05\x03"
                async with conn._send_lock:
                    await conn.ws.send(conn._encoder.encode(conn._cipher.encrypt(payload)))
            assert await closed_by_server(bad)
        assert any(
            str(bad.jid) in r.getMessage()
            for r in caplog.records
            if "disconnected" in r.getMessage()
        )
        assert await alive(good)
        # and the sim still routes between the others
        message = Node(
            "message",
            {"id": "R1", "to": str(alice.jid), "type": "text"},
            [
                Node(
                    "participants",
                    {},
                    [
                        Node(
                            "to",
                            {"jid": str(alice.jid)},
                            [Node("enc", {"v": "2", "type": "msg"}, b"x")],
                        )
                    ],
                )
            ],
        )
        ack = await good.send_message(message)
        assert "error" not in ack.attrs


async def test_nonsense_stanzas_are_refused_without_dropping_the_link() -> None:
    async with SimServer() as sim:
        alice = sim.add_phone("15550001111")
        sim.add_phone("15550002222")
        a1 = await pair_companion(sim, alice)
        nonsense = [
            Node("message", {"id": "x1", "to": "15550002222@s.whatsapp.net"}, b"raw bytes"),
            Node("message", {"id": "x2", "to": "1@g.us"}, [Node("participants", {}, b"x")]),
            Node("message", {"to": "15550002222@s.whatsapp.net"}),
            Node("receipt", {"id": "x3", "to": "@@", "type": "read"}),
            Node("receipt", {}),
            Node("ack", {}),
            Node("ack", {"class": "message", "id": "nope", "to": "::"}),
            Node("presence", {"type": "subscribe", "to": "!!"}),
            Node("presence", {"type": "subscribe"}),
            Node("chatstate", {"to": "1@g.us"}, [Node("composing")]),
            Node("chatstate", {"to": "@@"}),
            Node("notification", {"id": "n"}),
            Node("iq", {"type": "get", "xmlns": "w:p"}),  # no id: nothing to answer
            Node("iq", {"type": "result", "id": "stray"}),
            Node("weird-tag", {"x": "y"}, [Node("deeper", {}, b"\x00" * 100)]),
        ]
        for node in nonsense:
            await a1.send(node)
        refused = [
            Node("iq", {"type": "set", "xmlns": "encrypt"}, [Node("skey", {}, b"x")]),
            Node("iq", {"type": "set", "xmlns": "encrypt"}, [Node("list", {}, b"x")]),
            Node(
                "iq",
                {"type": "get", "xmlns": "usync"},
                [
                    Node(
                        "usync",
                        {},
                        [Node("query"), Node("list", {}, [Node("user", {"jid": "@@"})])],
                    )
                ],
            ),
            Node(
                "iq",
                {"type": "set", "xmlns": "w:g2", "to": "g.us"},
                [Node("create", {"subject": "x"}, [Node("participant", {"jid": "::"})])],
            ),
            Node("iq", {"type": "set", "xmlns": "w:g2", "to": "@@"}, [Node("query")]),
        ]
        for node in refused:
            with pytest.raises(RequestError) as err:
                await a1.query(node)
            assert 400 <= err.value.code < 600
        assert await alive(a1)
