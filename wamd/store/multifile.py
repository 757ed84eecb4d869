"""``use_multi_file_auth_state``: creds.json plus one JSON file per key, crash-safe.

Baileys' version of this store writes files in place; a crash mid-write leaves a
truncated file, which later shows up as "Bad MAC" errors or fresh keys replacing the old
ones. This one guarantees, on a POSIX file system:

- every file is replaced atomically (temporary file, flush, fsync, rename, fsync of the
  directory), so a reader sees the old or the new contents, never a mix;
- a transaction (several keys) is all-or-nothing across a crash: its writes are first
  committed to a journal file (itself written atomically: the commit point), then applied
  to the key files, then the journal is removed. Opening the store replays a journal left
  by a crash; readers in other processes replay it too before reading;
- writers in several processes are serialised by an ``flock`` on ``.lock`` held for the
  whole transaction, readers take it shared (Windows has no flock: one process only);
- a file that cannot be read back raises ``CorruptedStore`` naming it; nothing is ever
  silently replaced by fresh keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from wamd.errors import CorruptedStore
from wamd.store.auth import AuthState, AuthStateAndSave
from wamd.store.base import TransactionalKeyStore, Writes
from wamd.store.creds import AuthenticationCreds, init_auth_creds
from wamd.store.files import FILE_MODE, FOLDER_MODE, atomic_write, fsync_dir, id_to_filename
from wamd.store.serialize import dumps, loads

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["MultiFileKeyStore", "use_multi_file_auth_state"]

JOURNAL = ".journal.json"  # a committed transaction not yet fully applied
LOCK = ".lock"  # flock target serialising writers across processes
CREDS = "creds.json"
IDENTITY_BOUND = ("session-", "pre-key-", "sender-key-", "identity-key-")
SET_ASIDE = "set-aside"  # unreadable key files, moved here instead of being deleted
T = TypeVar("T")


class MultiFileKeyStore(TransactionalKeyStore):
    def __init__(self, folder: str | os.PathLike[str]) -> None:
        super().__init__()
        self._gate = asyncio.Lock()  # see "backend hooks"
        self._applying = asyncio.Lock()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        self._lock_fd: int | None = None
        self._with_lock(exclusive=True, action=self._open_locked)

    def _open_locked(self) -> None:
        # under the exclusive lock no other process is between writing and renaming a
        # temporary file, so leftovers are from a crash and can go
        self._clean_temporaries()
        self._recover()

    # ------------------------------------------------------------------ paths

    async def set_aside(self, type: str, key_id: str) -> str:
        """Move one key's file into ``set-aside/`` (kept, never deleted); where it went.

        For a file that cannot be read back: the key is then absent, so what needs it
        starts over (a session is re-established by retry), and the bytes stay for a
        post-mortem. Runs as a transaction of its own (the folder's lock held).
        """
        async with self.transaction():
            return await asyncio.to_thread(self._move_aside, type, key_id)

    def _move_aside(self, type: str, key_id: str) -> str:
        source = self.path_for(type, key_id)
        folder = self.folder / SET_ASIDE
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = folder / f"{source.name}.{stamp}"
        counter = 1
        while target.exists():
            counter += 1
            target = folder / f"{source.name}.{stamp}-{counter}"
        try:
            os.replace(source, target)
        except FileNotFoundError:
            return str(source)  # gone already (another process set it aside)
        fsync_dir(folder)
        fsync_dir(self.folder)
        return str(target)

    def key_files(self) -> list[Path]:
        """The Signal key files bound to the identity in ``creds.json`` (sessions, prekeys,
        sender keys, peers' identity keys), sorted; other types are not tied to it."""
        return sorted(
            p
            for p in self.folder.glob("*.json")
            if p.name.startswith(IDENTITY_BOUND) and not p.name.startswith("sender-key-memory-")
        )

    def path_for(self, type: str, key_id: str) -> Path:
        return self.folder / f"{type}-{id_to_filename(key_id)}.json"

    # ------------------------------------------------------------------ locking

    def _with_lock(self, *, exclusive: bool, action: Callable[[], Any]) -> Any:
        if fcntl is None:
            return action()
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            return action()
        finally:
            os.close(fd)  # closing releases the flock

    def _acquire(self) -> None:
        if fcntl is None:
            return
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ recovery

    def _clean_temporaries(self) -> None:
        for tmp in self.folder.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _recover(self) -> None:
        journal = self.folder / JOURNAL
        if not journal.exists():
            return
        writes = loads(journal.read_bytes(), str(journal))
        if not isinstance(writes, dict):
            raise CorruptedStore(str(journal), "journal is not an object")
        self._apply(writes)

    def _apply(self, writes: Writes) -> None:
        for type, values in writes.items():
            for key_id, value in values.items():
                path = self.path_for(type, key_id)
                if value is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                else:
                    atomic_write(path, dumps(value).encode(), sync_dir=False)
        fsync_dir(self.folder)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / JOURNAL).unlink()
        fsync_dir(self.folder)

    # ------------------------------------------------------------------ backend hooks
    #
    # Readers outside a transaction must see a committed state. Another process's commit
    # is excluded by the flock (a shared one for the read). This process's own commit is
    # excluded in the event loop, never by making a worker thread wait for a flock this
    # process holds (that thread could wait for a commit that needs a thread itself):
    # ``_gate`` is held while this process takes the exclusive flock and while a reader
    # holds a shared one; while this process holds the exclusive flock, readers skip the
    # flock and take ``_applying``, which the commit (journal, files, release) holds.

    async def _begin(self) -> None:
        async with self._gate:
            await asyncio.to_thread(self._acquire)
        try:
            async with self._applying:
                await asyncio.to_thread(self._recover)
        except BaseException:
            await self._rollback()
            raise

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if not ids:
            return {}
        if self.in_transaction:  # this task holds the exclusive lock; only it changes files
            return await asyncio.to_thread(self._read_files, type, ids)
        while True:
            if self._lock_fd is not None:  # another task of ours holds it
                async with self._applying:
                    if self._lock_fd is not None:
                        return await _to_thread_to_the_end(self._read_files, type, ids)
                continue
            async with self._gate:
                if self._lock_fd is None:
                    return await _to_thread_to_the_end(self._read_shared, type, ids)

    def _read_shared(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if (self.folder / JOURNAL).exists():
            self._with_lock(exclusive=True, action=self._recover)
        result: dict[str, Any] = self._with_lock(
            exclusive=False, action=lambda: self._read_files(type, ids)
        )
        return result

    def _read_files(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_id in ids:
            path = self.path_for(type, key_id)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                out[key_id] = loads(data, str(path))
            except CorruptedStore as exc:
                raise exc.about(type, key_id) from None
        return out

    async def _commit(self, writes: Writes) -> None:
        def commit() -> None:
            try:
                atomic_write(self.folder / JOURNAL, dumps(writes).encode())  # commit point
                self._apply(writes)
            finally:
                self._release()

        async with self._applying:
            await _to_thread_to_the_end(commit)

    async def _rollback(self) -> None:
        async with self._applying:
            self._release()

    # ------------------------------------------------------------------ creds

    def read_creds(self) -> AuthenticationCreds | None:
        path = self.folder / CREDS
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return AuthenticationCreds.from_json(_raw_json(data, str(path)), str(path))

    async def write_creds(self, creds: AuthenticationCreds) -> None:
        """Replace ``creds.json`` atomically and durably.

        Waits for this store's open key transaction, if another task has one (the file
        lock it holds would block the write), and refuses inside the caller's own.
        """
        data = dumps(creds.to_json()).encode()
        path = self.folder / CREDS

        def write() -> None:
            self._with_lock(exclusive=True, action=lambda: atomic_write(path, data))

        async with self._outside_transactions("save_creds()"):
            await _to_thread_to_the_end(write)


async def _to_thread_to_the_end(fn: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread``, but a cancelled caller still waits for the thread to finish.

    The callers hold a lock that says what the thread is doing (applying a commit,
    reading under a flock); letting it go while the thread still runs would let a
    reader see a half-applied commit.
    """
    job = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await job
        raise


def _raw_json(data: bytes, location: str) -> Any:
    import json

    try:
        return json.loads(data)
    except ValueError:
        raise CorruptedStore(location, "not valid JSON (truncated or corrupted)") from None


async def use_multi_file_auth_state(
    folder: str | os.PathLike[str],
) -> AuthStateAndSave:
    """``(state, save_creds)`` backed by a folder, like Baileys' function of that name.

    ``state.creds`` are loaded from ``creds.json`` or made fresh when the folder has none;
    a corrupted ``creds.json`` raises ``CorruptedStore`` instead of replacing it, and so does
    a missing one when key files are left (they belong to the identity that file held).
    ``save_creds`` writes the current ``state.creds``; it accepts (and ignores) the
    partial update passed by a ``creds.update`` event, so it can be a handler directly.
    """
    store = await asyncio.to_thread(MultiFileKeyStore, folder)
    creds = await asyncio.to_thread(store.read_creds)
    if creds is None:
        orphans = await asyncio.to_thread(store.key_files)
        if orphans:
            # new credentials among another identity's sessions and prekeys would pair a
            # device whose stored keys all belong to someone else: refuse, say what to do
            shown = ", ".join(p.name for p in orphans[:3]) + (", ..." if len(orphans) > 3 else "")
            raise CorruptedStore(
                str(store.folder / CREDS),
                f"missing, but the folder holds {len(orphans)} key files ({shown}) of the "
                "device it described: restore creds.json from a backup, or move the folder "
                "aside and pair anew (wamd pair --reset)",
            )
    state = AuthState(creds or init_auth_creds(), store)
    if creds is None:
        await store.write_creds(state.creds)

    async def save_creds(*_update: object) -> None:
        await store.write_creds(state.creds)

    return AuthStateAndSave(state, save_creds)
