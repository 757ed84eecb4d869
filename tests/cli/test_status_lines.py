"""Status lines from connection updates (``wamd.commands.session``, ``wamd.commands.status``)."""

from __future__ import annotations

import io
import re

from wamd.commands.session import SessionLines
from wamd.commands.status import Status, describe_reason
from wamd.errors import ConnectionClosed, DisconnectReason
from wamd.events import ConnectionUpdate, LastDisconnect
from wamd.store import Me


class FakeSocket:
    user: Me | None = None


def lines_for(*updates: ConnectionUpdate, user: Me | None = None) -> list[str]:
    out = io.StringIO()
    sock = FakeSocket()
    lines = SessionLines(sock, Status(out), server="WhatsApp")  # type: ignore[arg-type]
    for update in updates:
        if update.connection == "open":
            sock.user = user
        lines.on_connection(update)
    text = out.getvalue().splitlines()
    assert all(re.match(r"^\d\d:\d\d:\d\d  ", line) for line in text), text
    return [line[10:] for line in text]


def close(code: int, text: str = "") -> ConnectionUpdate:
    error = ConnectionClosed(code, text) if text else None
    return ConnectionUpdate(connection="close", last_disconnect=LastDisconnect(error, code))


def test_pairing_then_online() -> None:
    me = Me("15551234567:3@s.whatsapp.net", None, "Shop")
    got = lines_for(
        ConnectionUpdate(connection="connecting"),
        ConnectionUpdate(qr="2@ref,a,b,c,1"),
        ConnectionUpdate(qr="2@ref2,a,b,c,1"),
        close(DisconnectReason.RESTART_REQUIRED),
        ConnectionUpdate(connection="connecting"),
        ConnectionUpdate(connection="open", is_new_login=True),
        ConnectionUpdate(received_pending_notifications=True),
        user=me,
    )
    assert got[0] == "connecting to WhatsApp"
    assert got[1].startswith("waiting for scan: scan the QR code above with WhatsApp")
    assert got[2] == "waiting for scan: new QR code above (the previous one expired)"
    assert got[3:] == [
        "restart required (515): reconnecting at once",
        "logging in as the new device",
        "online as 15551234567:3@s.whatsapp.net (Shop)",
        "up to date: what arrived while offline is handled",
    ]
    assert not any("2@ref" in line for line in got)  # the QR text only when asked


def test_closes_name_the_reason_and_what_to_do() -> None:
    got = lines_for(close(DisconnectReason.LOGGED_OUT, "stream error 401 device_removed"))
    assert got == [
        "disconnected: logged out (401): stream error 401 device_removed",
        "this device was logged out (removed under Linked devices on the phone, or the phone "
        "was offline for 14 days): start over with `wamd pair --reset`",
    ]
    assert lines_for(ConnectionUpdate(qr="2@x,a,b,c,1"), close(408, "QR refs ended"))[1:] == [
        "disconnected: the QR codes ran out without a scan (408)"
    ]
    assert lines_for(close(408, "keepalive timed out")) == [
        "disconnected: connection lost (408): keepalive timed out"
    ]
    assert describe_reason(999) == "closed (999)"
    assert describe_reason(440).startswith("connection replaced (440)")
