"""What ``import wamd`` offers a user coming from Baileys' README."""

from __future__ import annotations

import wamd


def test_the_top_level_names_a_bot_needs() -> None:
    for name in (
        "make_wa_socket",
        "run_forever",
        "use_multi_file_auth_state",
        "use_sqlite_auth_state",
        "DisconnectReason",
        "WAMessage",
        "MessageKey",
        "MessagesUpsert",
        "ConnectionUpdate",
        "fetch_latest_version",
        "AnyMessageContent",
        "EventName",
        "SendError",
        "ContentError",
        "AuthState",
    ):
        assert name in wamd.__all__ and getattr(wamd, name) is not None
    assert wamd.DisconnectReason.LOGGED_OUT == 401


def test_make_wa_socket_spells_out_every_socket_option_with_its_default() -> None:
    import dataclasses
    import inspect

    from wamd.client.socket import SocketOptions

    params = inspect.signature(wamd.make_wa_socket).parameters
    fields = {f.name: f for f in dataclasses.fields(SocketOptions)}
    assert set(params) - {"auth"} == set(fields)
    for name, f in fields.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if name == "extra":
            assert params[name].default is None  # becomes a fresh {} per socket
        else:
            assert params[name].default == default, name


def test_make_wa_socket_refuses_a_misspelt_option_and_passes_the_others() -> None:
    import logging

    import pytest

    from wamd.store import AuthState, MemoryKeyStore, init_auth_creds

    state = AuthState(init_auth_creds(), MemoryKeyStore())
    with pytest.raises(TypeError, match="print_qr_in_termnal"):
        wamd.make_wa_socket(state, print_qr_in_termnal=True)  # type: ignore[call-arg]
    logger = logging.getLogger("my.bot")
    sock = wamd.make_wa_socket(state, url="ws://127.0.0.1:1/ws", logger=logger, extra={"a": 1})
    assert sock.options.url == "ws://127.0.0.1:1/ws"
    assert sock.options.logger is logger and sock.log is logger
    assert sock.options.extra == {"a": 1}
    assert wamd.make_wa_socket(state).options.extra == {}


def test_errors_have_one_home_and_keep_their_old_imports() -> None:
    from wamd import errors, events
    from wamd.client import content, send, version
    from wamd.sim import server

    for old_home, name in (
        (send, "SendError"),
        (content, "ContentError"),
        (version, "VersionLookupError"),
        (events, "EmitterClosed"),
        (server, "SimError"),
    ):
        cls = getattr(errors, name)
        assert name in errors.__all__
        assert getattr(old_home, name) is cls, name
        assert issubclass(cls, errors.WamdError), name
        assert cls.__module__ == "wamd.errors", name
    # bad send_message content is a bad argument: callers catching ValueError still do
    assert issubclass(errors.ContentError, ValueError)
    for name in ("BadMac", "MalformedMessage", "TooFarAhead"):
        assert issubclass(getattr(errors, name), errors.InvalidMessage), name


def test_signal_failures_raise_their_typed_subclass() -> None:
    import pytest

    from tests.signal.test_session import pair
    from wamd.errors import BadMac, MalformedMessage, TooFarAhead
    from wamd.signal import decrypt_message, encrypt
    from wamd.signal import session as session_module

    alice, bob, _ = pair()
    _, msg = encrypt(alice, b"x")
    with pytest.raises(BadMac, match="no session state decrypts"):
        decrypt_message(bob, msg[:-1] + bytes([msg[-1] ^ 1]))
    with pytest.raises(MalformedMessage):
        decrypt_message(bob, msg[:5])
    with pytest.raises(MalformedMessage):
        decrypt_message(bob, b"\x23" + msg[1:])
    assert decrypt_message(bob, msg) == b"x"
    for _ in range(session_module.MAX_SKIP + 1):
        encrypt(alice, b"lost")
    _, far = encrypt(alice, b"too far")
    with pytest.raises(TooFarAhead):
        decrypt_message(bob, far)


def test_malformed_enc_nodes_raise_malformed_message() -> None:
    import asyncio

    import pytest

    from wamd.binary import JID, Node
    from wamd.errors import MalformedMessage
    from wamd.messaging.crypt import open_enc, parse_message

    with pytest.raises(MalformedMessage):
        parse_message(b"\xff\xff\xff")
    sender = JID.parse("1@s.whatsapp.net")
    for enc, group in (
        (Node("enc", {"type": "msg"}), None),
        (Node("enc", {"type": "skmsg"}, b"x"), None),
        (Node("enc", {"type": "other"}, b"x"), None),
    ):
        with pytest.raises(MalformedMessage):
            asyncio.run(open_enc(None, enc, sender, group))  # type: ignore[arg-type]
