"""Decoding the inline history payload: bounded, typed errors, downloads left alone."""

from __future__ import annotations

import zlib

import pytest

from wamd.client.history import MAX_HISTORY_BYTES, decode_inline_history
from wamd.errors import InvalidMessage
from wamd.proto import e2e_pb2, history_sync_pb2


def notification(payload: bytes) -> e2e_pb2.HistorySyncNotification:
    return e2e_pb2.HistorySyncNotification(
        syncType=e2e_pb2.HistorySyncType.INITIAL_BOOTSTRAP,
        initialHistBootstrapInlinePayload=payload,
    )


def test_a_chunk_to_download_is_not_decoded_here() -> None:
    assert decode_inline_history(e2e_pb2.HistorySyncNotification(directPath="/v/t62")) is None


def test_bad_payloads_raise_invalid_message() -> None:
    with pytest.raises(InvalidMessage, match="not valid zlib"):
        decode_inline_history(notification(b"not zlib at all"))
    with pytest.raises(InvalidMessage, match="not a HistorySync"):
        decode_inline_history(notification(zlib.compress(b"\xff\xff\xff")))
    bomb = zlib.compress(b"\0" * (MAX_HISTORY_BYTES + 10), 9)  # a few dozen KiB
    with pytest.raises(InvalidMessage, match="inflates past"):
        decode_inline_history(notification(bomb))


def test_a_push_name_only_chunk() -> None:
    sync = history_sync_pb2.HistorySync(syncType=history_sync_pb2.HistorySync.PUSH_NAME)
    sync.pushnames.add(ID="15550002222@s.whatsapp.net", pushname="Alice")
    history = decode_inline_history(notification(zlib.compress(sync.SerializeToString())))
    assert history is not None and history.sync_type == "PUSH_NAME"
    assert history.contacts == {"15550002222@s.whatsapp.net": "Alice"}
    assert history.messages == () and not history.is_latest
