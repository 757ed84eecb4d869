"""Stanza shapes the sim must send as the real server does (issue 18's findings).

Each test names the reference the shape comes from; each failed on the sim before the fix.
"""

from __future__ import annotations

import asyncio

from tests.sim.raw import WAIT, open_raw, registration
from wamd.binary import Node
from wamd.pairing import make_qr_string, verify_pair_success
from wamd.sim import SimServer
from wamd.store import init_auth_creds

NOW = 1_790_000_000.0  # a frozen sim clock


async def test_pair_success_is_a_set_iq_in_the_md_namespace() -> None:
    # whatsmeow pair.go / Baileys socket.ts: pair-device and pair-success both come as
    # requests from the server; a strict client ignores an <iq type="result">
    async with SimServer(clock=lambda: NOW, history_sync=None, app_state_keys=False) as sim:
        phone = sim.add_phone("15550001111", "Alice")
        creds = init_auth_creds()
        conn = await open_raw(sim, registration(creds), 3, creds.noise_key)
        pair_device = await asyncio.wait_for(conn.receive(), WAIT)
        assert pair_device.attrs["type"] == "set" and pair_device.attrs["xmlns"] == "md"
        await conn.send(
            Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": pair_device.attrs["id"]})
        )
        ref = pair_device.require_child("pair-device").get_children("ref")[0].content_bytes() or b""
        qr = make_qr_string(
            ref, creds.noise_key.public, creds.signed_identity_key.public, creds.adv_secret_key
        )
        scan = asyncio.ensure_future(phone.scan_qr(qr))
        success = await asyncio.wait_for(conn.receive(), WAIT)
        assert success.tag == "iq" and success.get_child("pair-success") is not None
        assert success.attrs["type"] == "set"
        assert success.attrs["xmlns"] == "md"
        assert success.attrs["from"] == "s.whatsapp.net"
        assert success.attrs["t"] == str(int(NOW))  # clients take their clock offset from it
        child = success.require_child("pair-success")
        identity = child.require_child("device-identity").content_bytes() or b""
        result = verify_pair_success(identity, creds.adv_secret_key, creds.signed_identity_key)
        sign = Node(
            "pair-device-sign",
            {},
            [Node("device-identity", {"key-index": str(result.key_index)}, result.reply_identity)],
        )
        answer = Node(
            "iq", {"to": "s.whatsapp.net", "type": "result", "id": success.attrs["id"]}, [sign]
        )
        await conn.send(answer)
        restart = await asyncio.wait_for(conn.receive(), WAIT)
        assert restart.tag == "stream:error" and restart.attrs["code"] == "515"
        device = await asyncio.wait_for(scan, WAIT)
        assert device.jid.device == 1
        await conn.close()
