"""``use_multi_file_auth_state``: creds.json plus one JSON file per key, crash-safe.

Baileys' version of this store writes files in place; a crash mid-write leaves a
truncated file, which later shows up as "Bad MAC" errors or fresh keys replacing the old
ones. This one guarantees, on a POSIX file system:

- a transaction (several keys) is all-or-nothing across a crash, and durable when it
  returns: its writes are appended to a log (``.journal.log``) as one checksummed record
  and made durable with one ``fdatasync`` (the commit point); then the key files are
  written in place, under the exclusive flock (no reader sees one half-written), and an
  "applied" mark follows the record. Grouped commits (``grouped_transaction()``, the
  receive path) share one record and one fdatasync, and their key files are written when
  this process gives the flock back (see "backend hooks");
- the key files are made durable later, all at once: when the log passes
  ``CHECKPOINT_BYTES`` every file it names is fsynced, then the folder, then the log is
  emptied. Until then the log can write every file again;
- recovery: records without their "applied" mark (the process died between the commit
  point and the mark) are applied again by the next writer, or by a reader in another
  process before it reads; a torn record at the end (a crash while appending: nothing
  was committed) is cut off. The log's first line names the boot it was started in
  (Linux ``boot_id``): a log from an earlier boot — the machine went down, maybe with
  key files written but not synced — is replayed whole, durably, on open. A
  ``.journal.json`` left by an older wamd is replayed too;
- writers in several processes are serialised by an ``flock`` on ``.lock`` held for the
  whole transaction, readers take it shared (Windows has no flock: one process only);
- a file that cannot be read back raises ``CorruptedStore`` naming it; nothing is ever
  silently replaced by fresh keys.

A transaction costs one fdatasync or less (it used to be about five: a journal written
and removed atomically, and an fsync of every key file and of the folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
import weakref
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from wamd.errors import CorruptedStore, StoreError
from wamd.store.auth import AuthState, AuthStateAndSave
from wamd.store.base import TransactionalKeyStore, Writes, copy_value, retrieve_failure
from wamd.store.creds import AuthenticationCreds, init_auth_creds
from wamd.store.files import (
    FILE_MODE,
    FOLDER_MODE,
    atomic_write,
    fsync_dir,
    id_from_filename,
    id_to_filename,
)
from wamd.store.serialize import dumps, loads

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["MultiFileKeyStore", "use_multi_file_auth_state"]

log = logging.getLogger(__name__)

JOURNAL = ".journal.json"  # an older wamd's: a committed transaction not yet fully applied
LOG = ".journal.log"  # committed transactions whose key files are not yet durable
CHECKPOINT_BYTES = 1 << 20  # a longer log is checkpointed (files synced, log emptied)
OVERLAY_KEYS = 4096  # values kept in memory while the flock is held, beyond which they go
LINGER = 0.05  # seconds without a transaction before the flock is given back
_MAGIC = b"WAMDLOG1 "  # the log's first line: _MAGIC + boot id + newline
_RECORD = b"\x00R"  # a record: _RECORD, length and CRC-32 (big-endian), the writes' JSON
_APPLIED = b"\x00APPLIED\n"  # after a record whose files are all written (JSON has no NUL)
_HEAD = struct.Struct(">II")
_sync_data = getattr(os, "fdatasync", os.fsync)
LOCK = ".lock"  # flock target serialising writers across processes
CREDS = "creds.json"
IDENTITY_BOUND = ("session-", "pre-key-", "sender-key-", "identity-key-")
SET_ASIDE = "set-aside"  # unreadable key files, moved here instead of being deleted
T = TypeVar("T")


class MultiFileKeyStore(TransactionalKeyStore):
    groups_commits = True

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        super().__init__()
        self._gate = asyncio.Lock()  # see "backend hooks"
        self._applying = asyncio.Lock()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        self._lock_fd: int | None = None
        self._held = False  # this process holds the exclusive flock (see "backend hooks")
        self._log_fd: int | None = None
        self._overlay: Writes = {}  # committed here; read before the files
        self._group: Writes = {}  # committed, not yet written: the next log record
        self._group_done: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._group_files = False  # a plain transaction in the group: write the files too
        self._dirty: Writes = {}  # in the log, not yet in the key files
        self._writing: Writes = {}  # in the log, being written to the key files now
        # type -> every id with a file (while held): other ids not in the overlay are absent
        self._complete: dict[str, set[str]] = {}
        self._linger: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._epoch = 0  # +1 whenever the overlay is dropped
        self._tx_epoch = 0
        self._key = os.path.realpath(self.folder)
        holder = _HOLDERS.get(self._key)
        if holder is not None:
            holder._hand_over()
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
            while self._busy():  # a pending group would write the file back
                await self._settled()
            self._overlay.get(type, {}).pop(key_id, None)
            self._dirty.get(type, {}).pop(key_id, None)
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
        if fcntl is not None:
            fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
        self._held = True

    def _release(self) -> None:
        self._held = False
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ recovery

    def _clean_temporaries(self) -> None:
        for tmp in self.folder.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _recover(self) -> None:
        """Bring the key files up to the log (and an older wamd's journal); flock held."""
        journal = self.folder / JOURNAL
        if journal.exists():
            writes = loads(journal.read_bytes(), str(journal))
            if not isinstance(writes, dict):
                raise CorruptedStore(str(journal), "journal is not an object")
            self._apply(writes, durable=True)
            fsync_dir(self.folder)
            journal.unlink()
            fsync_dir(self.folder)
        fd = self._log()
        size = os.fstat(fd).st_size
        header = _MAGIC + _boot_id() + b"\n"
        if size == 0:
            os.write(fd, header)
            _sync_data(fd)
            return
        if (
            size > len(header)
            and _boot_id()
            and os.pread(fd, len(header), 0) == header
            and os.pread(fd, len(_APPLIED), size - len(_APPLIED)) == _APPLIED
        ):
            return  # this boot's log, every record applied: the common case, two reads
        if size == len(header) and os.pread(fd, size, 0) == header:
            return
        self._replay(fd, header)

    def _replay(self, fd: int, header: bytes) -> None:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        records, end, applied = _parse_log(data, str(self.folder / LOG))
        if end < len(data):  # a torn record: never committed
            os.ftruncate(fd, end)
            _sync_data(fd)
        if not data.startswith(header) or not _boot_id():
            # written in another boot (or one we cannot name): the files renamed since the
            # last checkpoint may not have reached the disk. Write them all again, durably
            for writes in records:
                self._apply(writes, durable=True)
            fsync_dir(self.folder)
            self._reset_log(fd, header)
        elif applied < len(records):  # the writer died before it applied these
            for writes in records[applied:]:
                self._apply(writes, durable=False)
            os.write(fd, _APPLIED)

    def _log(self) -> int:
        if self._log_fd is None:
            path = self.folder / LOG
            existed = path.exists()
            self._log_fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
            weakref.finalize(self, os.close, self._log_fd)
            if not existed:
                fsync_dir(self.folder)
        return self._log_fd

    def _reset_log(self, fd: int, header: bytes) -> None:
        os.ftruncate(fd, 0)
        os.write(fd, header)
        _sync_data(fd)

    def _checkpoint(self, fd: int) -> None:
        """Make every key file the log names durable, then empty the log; flock held."""
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        records, _, _ = _parse_log(data, str(self.folder / LOG))
        paths = {self.path_for(t, k) for writes in records for t, v in writes.items() for k in v}
        for path in paths:
            try:
                file = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # deleted: the folder's fsync below makes that durable
            try:
                os.fsync(file)
            finally:
                os.close(file)
        fsync_dir(self.folder)
        self._reset_log(fd, _MAGIC + _boot_id() + b"\n")

    def _apply(self, writes: Writes, *, durable: bool) -> None:
        """Write the key files; ``durable=False``: in place, without fsync (the record in
        the log is durable and not yet marked applied, so a file torn by a crash here is
        written again by the replay; no reader sees one meanwhile: the flock is held)."""
        for type, values in writes.items():
            for key_id, value in values.items():
                path = self.path_for(type, key_id)
                if value is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                elif durable:
                    atomic_write(path, dumps(value).encode(), sync_dir=False)
                else:
                    _write_in_place(path, dumps(value).encode())

    def _needs_recovery(self) -> bool:
        """Is there a journal, or a record not yet applied (a writer died)? No flock needed:
        a living writer holds the exclusive one from its record to its mark."""
        if (self.folder / JOURNAL).exists():
            return True
        fd = self._log()
        size = os.fstat(fd).st_size
        if size == 0:
            return False
        header = _MAGIC + _boot_id() + b"\n"
        if os.pread(fd, len(header), 0) != header:
            return True
        return size > len(header) and (
            os.pread(fd, len(_APPLIED), size - len(_APPLIED)) != _APPLIED
        )

    # ------------------------------------------------------------------ backend hooks
    #
    # Group commit. A transaction's writes are committed in this process at once: they go
    # into ``_overlay`` (which every reader here reads before the files) and into the next
    # group; one flusher task writes each group as one log record (one fdatasync) while
    # the next group fills, and resolves the group's future. (Holding a group back a few
    # milliseconds for company was tried: in bench/e2e.py it only lengthened each message
    # by the delay.) The key files of grouped commits are written later (``_dirty``, in
    # place, then an "applied" mark), when this process gives the exclusive flock back:
    # ``LINGER`` seconds after the last transaction, when another store object of this
    # process opens the folder, on ``write_through()`` (``socket.idle()`` calls it). A
    # plain transaction in a group has all of them written before it returns. Until then
    # no other process reads them, and the overlay, holding every value written or read
    # meanwhile, is what this one reads; a message's saved copy, written and removed
    # within one hold, never becomes a file at all. A failed group fails every group
    # after it (they were built on it) and empties the
    # overlay: the next transaction starts from the disk, replaying the log.
    #
    # Readers outside a transaction see committed states. With the flock held here: the
    # overlay, then, for what it lacks, the files under ``_applying`` (held while the
    # files are written and while this process takes the flock and replays the log).
    # Without it, another process's commit is excluded by a shared flock, never by
    # making a worker thread wait for a flock this process holds: ``_gate`` is held
    # while this process takes the exclusive flock and while a reader holds a shared one.
    # The order is ``_gate``, then ``_applying``: nothing waits for ``_gate`` holding
    # ``_applying`` (a reader that did, when the hold ended under it, met a transaction
    # taking the flock, and every later transaction and read of the process waited).

    def _acquire_and_recover(self) -> None:
        self._acquire()
        try:
            self._recover()
            self._overlay.clear()
            # the saved messages there are (a few): a lookup of any other is answered
            # without a file read (one per received message, as each has a new id)
            self._complete = {"event-buffer": set(self._list("event-buffer"))}
        except BaseException:
            self._release()
            raise

    def _list(self, type: str) -> list[str]:
        prefix, out = f"{type}-", []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(prefix) and name.endswith(".json"):
                    out.append(id_from_filename(name[len(prefix) : -5]))
        return out

    async def _begin(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if not self._held:
            async with self._gate, self._applying:
                await asyncio.to_thread(self._acquire_and_recover)
            _HOLDERS[self._key] = self
            self._loop = asyncio.get_running_loop()
        self._tx_epoch = self._epoch

    async def _settled(self) -> None:
        """Wait for the flusher to finish what it has (failures are its waiters' to see)."""
        flusher = self._flusher
        if flusher is not None:
            await asyncio.wait([flusher])

    def _busy(self) -> bool:
        """Is a group waiting or being written?"""
        return bool(self._group) or self._flusher is not None

    def _idle(self) -> None:
        """No transaction open, no group pending: give the flock back now when the files
        are written, else after ``LINGER`` (more grouped commits may come meanwhile)."""
        if not self._held or self._closing is not None:
            return
        if not self._dirty:
            if self._linger is not None:
                self._linger.cancel()
                self._linger = None
            self._drop_hold()
        elif self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(LINGER, self._linger_over)

    def _linger_over(self) -> None:
        self._linger = None
        if self._held and self._closing is None:
            self._closing = asyncio.ensure_future(self._let_go())

    async def _let_go(self) -> None:
        """Write the key files, then give the flock back (when nothing else is open)."""
        try:
            async with self._lock:
                while self._busy():
                    await self._settled()
                if self._held:
                    await self._write_files()
                    self._drop_hold()
        except Exception:
            # the log still has what the files lack: the next holder replays it
            log.exception("%s: writing the key files failed", self.folder)
            self._drop_hold()
        finally:
            self._closing = None

    async def _write_files(self) -> None:
        dirty, self._dirty = self._dirty, {}
        if not dirty:
            return
        self._writing = dirty  # kept in the overlay (``_trim``) until the files have it
        try:
            async with self._applying:
                await _to_thread_to_the_end(self._apply_logged, dirty)
        finally:
            self._writing = {}

    def _apply_logged(self, dirty: Writes) -> None:
        """Write what the log holds to the key files, and mark it applied; flock held."""
        self._apply(dirty, durable=False)
        fd = self._log()
        os.write(fd, _APPLIED)
        if not _boot_id() or os.fstat(fd).st_size > CHECKPOINT_BYTES:
            # where the boot cannot be named, a reboot could not be told on open: the
            # files are made durable at once, as the log is never replayed whole
            self._checkpoint(fd)

    def _drop_hold(self) -> None:
        self._release()
        self._overlay.clear()
        self._complete = {}
        self._dirty = {}
        self._epoch += 1
        if _HOLDERS.get(self._key) is self:
            del _HOLDERS[self._key]

    def _hand_over(self) -> None:
        """Another store object of this process opens the folder: write the files and give
        the flock back now, if nothing is open (else it waits for the flock)."""
        if not self._held or self._busy() or self._lock.locked() or self._closing is not None:
            return
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # called on our own loop, synchronously: do it here
            if self._linger is not None:
                self._linger.cancel()
                self._linger = None
            dirty, self._dirty = self._dirty, {}
            if dirty:
                self._apply_logged(dirty)
            self._drop_hold()
        elif loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.write_through(), loop).result(60)

    async def close(self) -> None:
        """``write_through()``; the store stays usable."""
        await self.write_through()

    async def write_through(self) -> None:
        """Write the key files that grouped commits left in the log, and give the folder's
        lock back, now (``socket.idle()`` does it: afterwards the files are current)."""
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._let_go())
        await asyncio.shield(self._closing)

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if not ids:
            return {}
        while True:
            if self._held:
                return await self._read_held(type, ids)
            async with self._gate:
                if not self._held:
                    return await _to_thread_to_the_end(self._read_shared, type, ids)

    async def _read_held(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        table = self._overlay.get(type)
        out: dict[str, Any] = {}
        missing: list[str] = []
        files = self._complete.get(type)
        for key_id in ids:
            if table is not None and key_id in table:
                value = table[key_id]
                if value is not None:
                    out[key_id] = copy_value(value)
            elif files is None or key_id in files:
                missing.append(key_id)
        if not missing:
            return out
        if self.in_transaction:  # no commit can come meanwhile, no group has these
            found = await asyncio.to_thread(self._read_files, type, missing)
        else:  # a commit may come meanwhile: read the overlay and files at one moment
            async with self._applying:
                if self._held:
                    return await self._read_held_locked(type, ids)
            # the hold ended while this waited: read as a reader without it, once
            # ``_applying`` is given back (``_read`` takes ``_gate``, and a transaction
            # taking the flock holds ``_gate`` while it waits for ``_applying``)
            return await self._read(type, ids)
        self._remember(type, missing, found)
        for key_id, value in found.items():
            out[key_id] = copy_value(value)
        return out

    async def _read_held_locked(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        table = self._overlay.get(type, {})
        out = {k: copy_value(table[k]) for k in ids if k in table and table[k] is not None}
        missing = [k for k in ids if k not in table]
        found = await _to_thread_to_the_end(self._read_files, type, missing)
        self._remember(type, missing, found)
        for key_id, value in found.items():
            out[key_id] = copy_value(value)
        return out

    def _remember(self, type: str, ids: Sequence[str], found: dict[str, Any]) -> None:
        if self._held:  # only this process changes the files: keep what they hold
            table = self._overlay.setdefault(type, {})
            for key_id in ids:
                table.setdefault(key_id, found.get(key_id))
            if sum(len(t) for t in self._overlay.values()) > OVERLAY_KEYS:
                self._trim()

    def _trim(self) -> None:
        """Forget values the files hold (not dirty, not being written, in no pending group)."""
        for type, table in self._overlay.items():
            keep = {
                **self._writing.get(type, {}),
                **self._dirty.get(type, {}),
                **self._group.get(type, {}),
            }
            files = self._complete.get(type)
            if files is not None:  # what is forgotten must be found by a file read again
                files.update(k for k, v in table.items() if v is not None and k not in keep)
            self._overlay[type] = {k: table[k] for k in keep if k in table}

    def _read_shared(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if self._needs_recovery():
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

    async def _commit_grouped(
        self, writes: Writes, *, wait: bool = True
    ) -> asyncio.Future[None] | None:
        if self._tx_epoch != self._epoch:  # an earlier group failed under this transaction
            if not self._busy():
                self._idle()
            raise StoreError(
                f"{self.folder}: an earlier commit failed while this transaction ran on it"
            )
        overlay, group = self._overlay, self._group
        for type, values in writes.items():
            overlay.setdefault(type, {}).update(values)
            group.setdefault(type, {}).update(values)
        if wait:  # a plain transaction: its files are written before it returns too
            self._group_files = True
        done = self._group_done
        if done is None:
            done = self._group_done = asyncio.get_running_loop().create_future()
            done.add_done_callback(retrieve_failure)
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush())
        return done

    async def _flush(self) -> None:
        try:
            while self._group:
                writes, done, files = self._group, self._group_done, self._group_files
                self._group, self._group_done = {}, None
                self._group_files = False
                assert done is not None
                try:
                    await self._commit(writes)
                    for type, values in writes.items():
                        self._dirty.setdefault(type, {}).update(values)
                    if files or sum(map(len, self._dirty.values())) > OVERLAY_KEYS:
                        await self._write_files()  # (a long burst: in batches)
                    if sum(map(len, self._overlay.values())) > OVERLAY_KEYS:
                        self._trim()
                except BaseException as exc:
                    self._fail(done, exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    return
                done.set_result(None)
        finally:
            self._flusher = None
            if not self._lock.locked() and not self._group:
                self._idle()

    def _fail(self, done: asyncio.Future[None], exc: BaseException) -> None:
        error = (
            exc
            if isinstance(exc, StoreError | OSError)
            else StoreError(f"{self.folder}: a commit failed ({type(exc).__name__})")
        )
        failed = [done] + ([self._group_done] if self._group_done is not None else [])
        self._group, self._group_done = {}, None
        self._group_files = False
        self._overlay.clear()
        self._complete = {}
        self._dirty = {}  # in the log, not yet in the files: the next hold replays them
        self._epoch += 1
        if self._held:  # the next transaction starts from the disk (and the log)
            self._release()
            if _HOLDERS.get(self._key) is self:
                del _HOLDERS[self._key]
        for future in failed:
            if not future.done():
                future.set_exception(error)

    async def _commit(self, writes: Writes) -> None:
        """Make one group durable: one log record; the flock is held."""

        def commit() -> None:
            fd = self._log()
            payload = dumps(writes).encode()
            os.write(fd, _RECORD + _HEAD.pack(len(payload), zlib.crc32(payload)) + payload)
            _sync_data(fd)  # the commit point

        await _to_thread_to_the_end(commit)

    async def _rollback(self) -> None:
        if not self._busy():
            self._idle()

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
            if self._held:  # this process has the flock (its groups were written)
                atomic_write(path, data)
            else:
                self._with_lock(exclusive=True, action=lambda: atomic_write(path, data))

        async with self._outside_transactions("save_creds()"):
            while self._busy():  # the keys first: creds are never ahead of them
                await self._settled()
            await _to_thread_to_the_end(write)


def _write_in_place(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


# folder -> the store object of this process holding its flock
_HOLDERS: weakref.WeakValueDictionary[str, MultiFileKeyStore] = weakref.WeakValueDictionary()


def _boot_id() -> bytes:
    """This boot's id (Linux); empty where unknown, and then every log is replayed whole."""
    global _BOOT
    if _BOOT is None:
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as handle:
                _BOOT = handle.read().strip()[:64]
        except OSError:
            _BOOT = b""
    return _BOOT


_BOOT: bytes | None = None


def _parse_log(data: bytes, location: str) -> tuple[list[Writes], int, int]:
    """The log's records, where its valid part ends, and the index of the first record
    not followed by an "applied" mark (``len(records)`` when every one is)."""
    records: list[Writes] = []
    newline = data.find(b"\n")
    if not data.startswith(_MAGIC) or newline < 0:
        return records, 0, 0  # empty, or a header cut short: nothing after it
    pos, size = newline + 1, len(data)
    applied = 0
    while pos < size:
        if data.startswith(_APPLIED, pos):
            applied = len(records)
            pos += len(_APPLIED)
            continue
        if not data.startswith(_RECORD, pos) or pos + 2 + _HEAD.size > size:
            break
        length, crc = _HEAD.unpack_from(data, pos + 2)
        start = pos + 2 + _HEAD.size
        payload = data[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            break  # torn while it was appended: not committed
        writes = loads(payload, location)
        if not isinstance(writes, dict):
            raise CorruptedStore(location, "a log record is not an object")
        records.append(writes)
        pos = start + length
    return records, pos, applied


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
