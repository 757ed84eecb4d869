from __future__ import annotations

import pytest

from wamd.binary import JID, InvalidJID
from wamd.binary.jid import SERVER_JID, STATUS_BROADCAST_JID


@pytest.mark.parametrize(
    ("text", "user", "server", "device", "agent"),
    [
        ("15551234567@s.whatsapp.net", "15551234567", "s.whatsapp.net", 0, 0),
        ("15551234567:3@s.whatsapp.net", "15551234567", "s.whatsapp.net", 3, 0),
        ("123456789012345:12@lid", "123456789012345", "lid", 12, 0),
        ("120363000000000000@g.us", "120363000000000000", "g.us", 0, 0),
        ("status@broadcast", "status", "broadcast", 0, 0),
        ("1234@newsletter", "1234", "newsletter", 0, 0),
        ("s.whatsapp.net", "", "s.whatsapp.net", 0, 0),
        ("15551234567.2:5@s.whatsapp.net", "15551234567", "s.whatsapp.net", 5, 2),
    ],
)
def test_parse_and_format(text: str, user: str, server: str, device: int, agent: int) -> None:
    jid = JID.parse(text)
    assert (jid.user, jid.server, jid.device, jid.agent) == (user, server, device, agent)
    assert str(jid) == text


def test_properties() -> None:
    device = JID.parse("15551234567:3@s.whatsapp.net")
    assert device.is_user and not device.is_group and not device.is_lid
    assert device.to_non_ad() == JID.parse("15551234567@s.whatsapp.net") == device.user_jid
    assert device.with_device(0) == device.user_jid
    assert JID.parse("1@lid").is_lid and JID.parse("1@g.us").is_group
    assert STATUS_BROADCAST_JID.is_status_broadcast and STATUS_BROADCAST_JID.is_broadcast
    assert SERVER_JID.is_server and str(SERVER_JID) == "s.whatsapp.net"
    assert JID.parse("1@newsletter").is_newsletter
    assert JID.from_ad("1", 1, 2) == JID("1", "lid", 2)
    assert JID.from_ad("1", 128, 0).server == "hosted"
    assert JID("1", "lid", 2).domain == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a@b@c",
        "1:x@s.whatsapp.net",
        "1:2:3@s.whatsapp.net",
        "1.2.3@s.whatsapp.net",
        "1:99999@s.whatsapp.net",
        "1.300:1@s.whatsapp.net",
        "user@",
        ":3",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(InvalidJID):
        JID.parse(text)
