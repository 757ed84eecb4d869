"""Backend faults surface as ``BackendError``; a missing redis client says what to install."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from wamd.assign import AssignmentError, BackendError, SQLiteAssignments


def test_missing_redis_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    from wamd.assign.redis import RedisAssignments

    with pytest.raises(AssignmentError, match=r"pip install 'wamd\[redis\]'"):
        RedisAssignments("redis://127.0.0.1:1/0")


async def test_unreachable_redis_is_a_backend_error() -> None:
    pytest.importorskip("redis")
    from wamd.assign import RedisAssignments

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = RedisAssignments(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=2)
    try:
        with pytest.raises(BackendError, match="redis"):
            await backend.claim("15551234567@s.whatsapp.net", "alice", 60)
        with pytest.raises(BackendError, match="redis"):
            await backend.mark_handled("15551234567@s.whatsapp.net", None, "ID", by="a")
    finally:
        await backend.close()


async def test_redis_prefix_must_be_a_string() -> None:
    pytest.importorskip("redis")
    from wamd.assign import RedisAssignments

    with pytest.raises(AssignmentError, match="prefix"):
        RedisAssignments(prefix=3)  # type: ignore[arg-type]


async def test_corrupted_sqlite_file_is_a_backend_error(tmp_path: Path) -> None:
    path = tmp_path / "assign.sqlite"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    backend = SQLiteAssignments(path)
    with pytest.raises(BackendError, match=str(path)):
        await backend.claim("15551234567@s.whatsapp.net", "alice", 60)
    await backend.close()


async def test_closed_sqlite_backend_refuses(tmp_path: Path) -> None:
    backend = SQLiteAssignments(tmp_path / "assign.sqlite")
    await backend.open()
    assert await backend.claim("c", "alice", 60)
    await backend.close()
    await backend.close()  # twice is fine
    with pytest.raises(BackendError, match="closed"):
        await backend.holder("c")
    reopened = SQLiteAssignments(tmp_path / "assign.sqlite")
    async with reopened:
        held = await reopened.holder("c")
        assert held is not None and held.handler == "alice"
