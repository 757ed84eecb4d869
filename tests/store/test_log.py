"""The multi-file store's log: what a crash of the process or of the machine leaves behind.

tests/store/test_crash.py kills a writer at random moments (the process dies, the page
cache survives); these build the other cases by hand: a record never marked applied, a
torn record at the end, and a log from an earlier boot whose key files may not have
reached the disk.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from wamd.store import multifile
from wamd.store.multifile import LOG, MultiFileKeyStore
from wamd.store.serialize import dumps


def record(writes: dict[str, dict[str, object]]) -> bytes:
    payload = dumps(writes).encode()
    return b"\x00R" + struct.pack(">II", len(payload), zlib.crc32(payload)) + payload


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as log:
        log.write(data)


async def test_a_record_without_its_mark_is_applied_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "auth"
    store = MultiFileKeyStore(folder)
    await store.set({"session": {"a": b"old", "b": b"old"}})
    # the writer died after the commit point, before writing the files
    append(folder / LOG, record({"session": {"a": b"new", "b": None}}))
    reopened = MultiFileKeyStore(folder)
    assert await reopened.get("session", ["a", "b"]) == {"a": b"new"}
    assert (folder / LOG).read_bytes().endswith(b"\x00APPLIED\n")


async def test_a_torn_record_was_never_committed(tmp_path: Path) -> None:
    folder = tmp_path / "auth"
    store = MultiFileKeyStore(folder)
    await store.set({"session": {"a": b"kept"}})
    size = (folder / LOG).stat().st_size
    append(folder / LOG, record({"session": {"a": b"torn"}})[:-3])  # killed while appending
    reopened = MultiFileKeyStore(folder)
    assert await reopened.get("session", ["a"]) == {"a": b"kept"}
    assert (folder / LOG).stat().st_size == size  # cut off: the next record follows cleanly
    await reopened.set({"session": {"a": b"next"}})
    assert await MultiFileKeyStore(folder).get("session", ["a"]) == {"a": b"next"}


async def test_a_log_from_an_earlier_boot_is_replayed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "auth"
    store = MultiFileKeyStore(folder)
    await store.set({"session": {"a": b"first"}})
    await store.set({"session": {"b": b"second"}, "pre-key": {"1": b"p"}})
    # the machine went down: files written since the last checkpoint never reached the
    # disk (one lost, one torn), though their records are marked applied
    store.path_for("session", "a").unlink()
    store.path_for("session", "b").write_bytes(b'{"type": "Buf')
    monkeypatch.setattr(multifile, "_BOOT", b"another-boot")
    reopened = MultiFileKeyStore(folder)
    assert await reopened.get("session", ["a", "b"]) == {"a": b"first", "b": b"second"}
    assert await reopened.get("pre-key", ["1"]) == {"1": b"p"}
    log = (folder / LOG).read_bytes()
    assert log == b"WAMDLOG1 another-boot\n"  # durable now: the log starts over


async def test_grouped_commits_are_durable_once_durable_returns(tmp_path: Path) -> None:
    folder = tmp_path / "auth"
    store = MultiFileKeyStore(folder)
    for n in range(5):
        async with store.grouped_transaction():
            await store.set({"session": {"a": str(n).encode()}, "event-buffer": {f"e{n}": None}})
    await store.durable()
    # the files are not written yet (the flock is still held), the log has it all: a
    # crash now (the next opener replays) loses nothing
    log = (folder / LOG).read_bytes()
    assert not log.endswith(b"\x00APPLIED\n")
    fresh = folder.parent / "copy"
    fresh.mkdir()
    for path in folder.iterdir():
        (fresh / path.name).write_bytes(path.read_bytes())
    assert await MultiFileKeyStore(fresh).get("session", ["a"]) == {"a": b"4"}
    await store.write_through()
    assert store.path_for("session", "a").read_bytes() == dumps(b"4").encode()
