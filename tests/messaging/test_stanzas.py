"""The stanza layer, driven with literal nodes (no socket, no event loop)."""

from __future__ import annotations

import pytest

from wamd.binary import JID, Node
from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.errors import ProtocolError
from wamd.messaging import stanzas as st
from wamd.signal.prekeys import parse_bundle

OWN = st.OwnIds(JID.parse("15550001111:3@s.whatsapp.net"), JID.parse("90001:3@lid"))


def message(**attrs: str) -> Node:
    return Node("message", {"id": "M1", "t": "1700000000", **attrs})


# ---------------------------------------------------------------------- source


def test_source_of_a_contacts_message() -> None:
    src = st.message_source(
        message(**{"from": "15550002222@s.whatsapp.net", "sender_lid": "777@lid"}), OWN
    )
    assert src == st.MessageSource(
        JID.parse("15550002222@s.whatsapp.net"),
        JID.parse("15550002222@s.whatsapp.net"),
        JID.parse("777@lid"),
        False,
        False,
    )


def test_source_of_a_contacts_companion_is_the_contacts_chat() -> None:
    src = st.message_source(message(**{"from": "15550002222:4@s.whatsapp.net"}), OWN)
    assert str(src.chat) == "15550002222@s.whatsapp.net" and src.sender.device == 4


def test_source_in_a_lid_chat_names_the_phone_number() -> None:
    src = st.message_source(
        message(**{"from": "777@lid", "sender_pn": "15550002222@s.whatsapp.net"}), OWN
    )
    assert str(src.chat) == "777@lid"
    assert src.sender_alt == JID.parse("15550002222@s.whatsapp.net")


def test_source_of_our_own_devices_message_is_from_me_in_the_recipients_chat() -> None:
    node = message(
        **{"from": "15550001111:0@s.whatsapp.net", "recipient": "15550002222@s.whatsapp.net"}
    )
    src = st.message_source(node, OWN)
    assert src.from_me and not src.is_group
    assert str(src.chat) == "15550002222@s.whatsapp.net"
    assert src.sender_alt == JID.parse("90001@lid")  # our own lid, same device


def test_source_of_our_own_device_without_recipient_is_our_own_chat() -> None:
    src = st.message_source(message(**{"from": "90001:2@lid"}), OWN)
    assert src.from_me and str(src.chat) == "90001@lid"
    assert src.sender_alt == JID.parse("15550001111:2@s.whatsapp.net")


def test_source_in_a_group() -> None:
    node = message(
        **{
            "from": "120363000000000001@g.us",
            "participant": "15550002222:1@s.whatsapp.net",
            "participant_lid": "777:1@lid",
        }
    )
    src = st.message_source(node, OWN)
    assert src.is_group and not src.from_me
    assert str(src.chat) == "120363000000000001@g.us"
    assert src.sender_alt == JID.parse("777:1@lid")


def test_source_in_a_lid_addressed_group_names_participant_pn() -> None:
    node = message(
        **{
            "from": "120363000000000001@g.us",
            "participant": "90001:3@lid",
            "participant_pn": "15550001111:3@s.whatsapp.net",
            "addressing_mode": "lid",
        }
    )
    src = st.message_source(node, OWN)
    assert src.from_me and src.sender_alt == JID.parse("15550001111:3@s.whatsapp.net")


def test_source_refuses_what_names_no_sender() -> None:
    with pytest.raises(ProtocolError, match="without from"):
        st.message_source(message(), OWN)
    with pytest.raises(ProtocolError, match="without participant"):
        st.message_source(message(**{"from": "120363000000000001@g.us"}), OWN)
    with pytest.raises(ProtocolError, match="attribute 'from'"):
        st.message_source(message(**{"from": "1:x@s.whatsapp.net"}), OWN)


# ---------------------------------------------------------------------- acks, receipts


def test_ack_of_a_message_drops_its_type_and_keeps_participant() -> None:
    node = Node(
        "message",
        {"id": "M1", "from": "g@g.us", "participant": "1@s.whatsapp.net", "type": "text"},
    )
    assert st.ack(node) == Node(
        "ack", {"class": "message", "id": "M1", "to": "g@g.us", "participant": "1@s.whatsapp.net"}
    )


def test_ack_of_a_notification_keeps_its_type_and_a_nack_carries_the_error() -> None:
    node = Node("notification", {"id": "N1", "from": "s.whatsapp.net", "type": "encrypt"})
    nack = st.ack(node, "487")
    assert nack == Node(
        "ack",
        {
            "class": "notification",
            "id": "N1",
            "to": "s.whatsapp.net",
            "type": "encrypt",
            "error": "487",
        },
    )
    assert st.is_nack(nack) and not st.is_nack(st.ack(node))


def test_message_receipts_of_each_kind() -> None:
    node = message(**{"from": "15550001111:0@s.whatsapp.net", "recipient": "2@s.whatsapp.net"})
    assert st.message_receipt(node) == Node(
        "receipt",
        {"id": "M1", "to": "15550001111:0@s.whatsapp.net", "recipient": "2@s.whatsapp.net"},
    )
    assert st.message_receipt(node, "sender").attrs["type"] == "sender"
    assert st.message_receipt(node, "inactive").attrs["type"] == "inactive"


def test_read_receipt_for_several_ids_lists_the_rest() -> None:
    node = st.receipt_stanza("g@g.us", "1@s.whatsapp.net", ["A", "B", "C"], "read", 5)
    assert node.attrs == {
        "id": "A",
        "to": "g@g.us",
        "t": "5",
        "type": "read",
        "participant": "1@s.whatsapp.net",
    }
    assert st.receipt_ids(Node("receipt", {"id": "A"}, node.get_children())) == ["A", "B", "C"]
    dm = st.receipt_stanza("2@s.whatsapp.net", "1@s.whatsapp.net", ["A"], "read", 5)
    assert "participant" not in dm.attrs and dm.get_child("list") is None
    with pytest.raises(ValueError, match="no message ids"):
        st.receipt_stanza("2@s.whatsapp.net", None, [], "read", 5)


# ---------------------------------------------------------------------- retry receipts


def test_retry_receipt_without_and_with_keys_reads_back() -> None:
    node = message(**{"from": "15550002222:1@s.whatsapp.net"})
    plain = st.retry_receipt(node, 1, 0x01020304)
    assert plain.attrs == {"id": "M1", "to": "15550002222:1@s.whatsapp.net", "type": "retry"}
    retry = plain.require_child("retry")
    assert retry.attrs == {"count": "1", "id": "M1", "t": "1700000000", "v": "1"}
    assert plain.require_child("registration").content_bytes() == b"\x01\x02\x03\x04"
    assert plain.get_child("keys") is None

    ident = generate_keypair()
    signed = SignedKeyPair.generate(ident, 7)
    one_time = generate_keypair()
    keys = st.RetryKeys(ident.public, 42, one_time.public, signed, b"ADV")
    with_keys = st.retry_receipt(node, 2, 9, keys)
    assert with_keys.require_child("keys").get_children()[-1] == Node("device-identity", {}, b"ADV")
    # the sender reads the same bundle back out of it
    seen = Node(
        "receipt",
        {"from": "15550002222:1@s.whatsapp.net", "id": "M1", "type": "retry"},
        with_keys.get_children(),
    )
    request = st.parse_retry_receipt(seen)
    assert request == st.RetryRequest(
        "M1",
        2,
        "1700000000",
        JID.parse("15550002222:1@s.whatsapp.net"),
        JID.parse("15550002222:1@s.whatsapp.net"),
        True,
    )
    bundle = parse_bundle(seen, 1)
    assert bundle.prekey_id == 42 and bundle.signed_prekey_id == 7
    assert "ADV" not in repr(keys) and str(one_time.public) not in repr(keys)


def test_retry_receipt_in_a_group_names_the_device_as_participant() -> None:
    node = Node(
        "receipt",
        {"from": "g@g.us", "participant": "15550002222:1@s.whatsapp.net", "id": "M1"},
        [Node("retry", {"id": "M1", "count": "3"})],
    )
    request = st.parse_retry_receipt(node)
    assert request.device == JID.parse("15550002222:1@s.whatsapp.net")
    assert str(request.chat) == "g@g.us" and request.count == 3 and request.t is None


def test_a_retry_receipt_missing_its_parts_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        st.parse_retry_receipt(Node("receipt", {"from": "1@s.whatsapp.net", "id": "M1"}))
    with pytest.raises(ProtocolError):
        st.parse_retry_receipt(Node("receipt", {"id": "M1"}, [Node("retry", {"id": "M1"})]))
    with pytest.raises(ProtocolError):
        st.parse_retry_receipt(
            Node("receipt", {"from": "1@s.whatsapp.net"}, [Node("retry", {"count": "1"})])
        )


def test_answering_a_retry_in_a_chat_and_in_a_group() -> None:
    receipt = Node(
        "receipt",
        {"from": "15550002222:1@s.whatsapp.net", "id": "M1", "type": "retry"},
        [Node("retry", {"id": "M1", "count": "2", "t": "99"})],
    )
    request = st.parse_retry_receipt(receipt)
    enc = Node("enc", {"v": "2", "type": "pkmsg", "count": "2"}, b"x")
    resend = st.retry_resend(receipt, request, "text", enc, now=5, device_identity=b"ADV")
    assert resend.attrs == {
        "to": "15550002222:1@s.whatsapp.net",
        "type": "text",
        "id": "M1",
        "t": "99",
        "device_fanout": "false",
    }
    assert resend.get_children() == [enc, Node("device-identity", {}, b"ADV")]
    group_receipt = Node(
        "receipt",
        {"from": "g@g.us", "participant": "15550002222:1@s.whatsapp.net", "id": "M1"},
        [Node("retry", {"id": "M1", "count": "1"})],
    )
    msg_enc = Node("enc", {"v": "2", "type": "msg", "count": "1"}, b"x")
    resend = st.retry_resend(
        group_receipt,
        st.parse_retry_receipt(group_receipt),
        "text",
        msg_enc,
        now=5,
        device_identity=b"ADV",
        edit="1",
    )
    assert resend.attrs == {
        "to": "g@g.us",
        "type": "text",
        "id": "M1",
        "t": "5",
        "participant": "15550002222:1@s.whatsapp.net",
        "edit": "1",
    }
    assert resend.get_children() == [msg_enc]  # no identity with a msg


# ---------------------------------------------------------------------- fan-out


def test_send_targets_leave_out_the_sending_device_under_both_names() -> None:
    devices = [
        JID.parse("15550002222@s.whatsapp.net"),
        JID.parse("15550001111:3@s.whatsapp.net"),
        JID.parse("15550001111@s.whatsapp.net"),
        JID.parse("90001:3@lid"),
        JID.parse("15550002222@s.whatsapp.net"),
    ]
    assert st.send_targets(devices, OWN.devices) == [
        JID.parse("15550002222@s.whatsapp.net"),
        JID.parse("15550001111@s.whatsapp.net"),
    ]


def test_group_plan_names_who_lacks_our_key() -> None:
    a, b, c = (JID.parse(f"1555000{n}@s.whatsapp.net") for n in "234")
    plan = st.plan_group([a, b, OWN.pn, c], OWN.devices, {str(a): True, str(c): False})
    assert plan == st.GroupPlan((a, b, c), (b, c))


def test_message_stanza_attrs_and_identity() -> None:
    node = st.message_stanza(
        "g@g.us",
        "M1",
        "text",
        [Node("enc", {"type": "skmsg"})],
        edit="1",
        phash="2:x",
        device_identity=b"ADV",
    )
    assert node.attrs == {"id": "M1", "type": "text", "to": "g@g.us", "edit": "1", "phash": "2:x"}
    assert node.get_children()[-1] == Node("device-identity", {}, b"ADV")
    assert st.message_stanza("1@s.whatsapp.net", "M2", "text", []).attrs == {
        "id": "M2",
        "type": "text",
        "to": "1@s.whatsapp.net",
    }


# ---------------------------------------------------------------------- iq


def test_iq_request_result_and_error_both_ways() -> None:
    request = st.iq("get", "encrypt", [Node("count")], id="7")
    assert request == Node(
        "iq",
        {"to": "s.whatsapp.net", "type": "get", "xmlns": "encrypt", "id": "7"},
        [Node("count")],
    )
    assert st.iq("set", "passive").attrs == {
        "to": "s.whatsapp.net",
        "type": "set",
        "xmlns": "passive",
    }
    # a companion answers the server's ping; the server answers a companion's request
    ping = Node(
        "iq", {"from": "s.whatsapp.net", "id": "P1", "type": "get", "xmlns": "urn:xmpp:ping"}
    )
    assert st.iq_result(ping) == Node("iq", {"type": "result", "id": "P1", "to": "s.whatsapp.net"})
    assert st.iq_result(request, as_server=True) == Node(
        "iq", {"type": "result", "id": "7", "from": "s.whatsapp.net"}
    )
    assert st.iq_error(request, 404, "item-not-found", as_server=True) == Node(
        "iq",
        {"type": "error", "id": "7", "from": "s.whatsapp.net"},
        [Node("error", {"code": "404", "text": "item-not-found"})],
    )
    to_group = st.iq("get", "w:g2", to="g@g.us", id="8")
    assert st.iq_result(to_group, as_server=True).attrs["from"] == "g@g.us"
