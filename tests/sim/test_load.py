"""A small version of bench/sim_load.py, and provisioned companions."""

from __future__ import annotations

import asyncio

import pytest

from wamd.binary import Node
from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.noise.payload import login_payload
from wamd.pairing import verify_device_signature
from wamd.sim import MAX_COMPANIONS, SimError, SimServer
from wamd.sim.load import run_load
from wamd.transport import connect_client


async def test_twenty_devices_five_hundred_messages_none_lost_or_duplicated() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        result = await run_load(sim, devices=20, messages=500, deadline=120)
    assert result.errors == []
    assert result.connections == 20
    assert (result.delivered, result.missing, result.duplicates) == (500, 0, 0)
    assert result.acked == 500 and result.receipts == 500 and result.outbox_left == 0
    assert result.ok


async def test_provisioned_companion_logs_in_like_a_paired_one() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        phone = sim.add_phone("15550001111", "Alice")
        identity = generate_keypair()
        spk = SignedKeyPair.generate(identity, 7)
        made = sim.provision_companion(
            phone, identity, registration_id=4321, signed_prekey=spk, prekeys=[(1, b"\x01" * 32)]
        )
        device = made.device
        assert device.jid.user == phone.number and device.jid.device >= 1
        assert device.lid.user == phone.lid_user and device.lid.device == device.jid.device
        assert made.account_signature_key == phone.account_key.public
        # the stored identity carries valid account and device signatures
        details = verify_device_signature(made.account, identity.public, phone.account_key.public)
        assert details.keyIndex == device.key_index
        conn = await connect_client(
            sim.url,
            noise_key=generate_keypair(),
            client_payload=login_payload(phone.number, device.jid.device),
            trusted_root=sim.root_public_key,
            origin="http://127.0.0.1",
        )
        success = await asyncio.wait_for(conn.receive(), 10)
        assert success.tag == "success" and success.attrs["lid"] == str(device.lid)
        conn.start()
        bundle = await conn.query(
            Node(
                "iq",
                {"type": "get", "xmlns": "encrypt"},
                [Node("key", {}, [Node("user", {"jid": str(device.jid)})])],
            ),
            timeout=10,
        )
        user = bundle.require_child("list").require_child("user")
        assert user.require_child("registration").content == (4321).to_bytes(4, "big")
        assert user.require_child("skey").require_child("value").content == spk.key_pair.public
        assert user.require_child("key").require_child("value").content == b"\x01" * 32
        await conn.close()
        # the limit holds when asked for
        for _ in range(MAX_COMPANIONS - 1):
            sim.provision_companion(phone, generate_keypair(), registration_id=1, signed_prekey=spk)
        with pytest.raises(SimError, match="linked devices"):
            sim.provision_companion(
                phone, generate_keypair(), registration_id=1, signed_prekey=spk, respect_limit=True
            )
