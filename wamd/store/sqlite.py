"""``use_sqlite_auth_state``: credentials and keys in one SQLite file (WAL mode).

A key store transaction is one SQLite transaction, opened with ``BEGIN IMMEDIATE`` so
that its reads and writes are serialised against other processes using the same file
(SQLite's own locking; a transaction waits while another process holds the lock, up to
``busy_timeout`` seconds, then fails with ``StoreError``). The statements run on the event
loop's thread, on one connection per file per process (per event loop), shared by the
stores of every account of that file (``_Connection``); a commit returns unsynced, and
one fsync of the WAL on a worker thread makes many commits durable at once (a group
commit: ``transaction()`` returns once its commit is durable, ``grouped_transaction()``
at once, with ``durable()`` to wait). A creds save is a transaction of its own, made when
no key transaction is open on that connection (so it cannot be rolled back with, or wait
in, another task's key transaction). A row that cannot be decoded raises
``CorruptedStore`` naming the file, type and id.

One file holds many accounts (``account=``; rows keyed by account, ``""`` by default), so
a single-machine fleet needs no server. Every account has its own store object; their
key transactions are serialised by the shared connection in this process and by the
file's write lock (SQLite has one per file) between processes, which is what keeps two
processes from interleaving one account's. Files
of the first layout (one account, no account column) are migrated on open, their rows
becoming account ``""``; ``PRAGMA user_version`` says the layout, and a file a newer wamd
migrated is refused. Stop processes of an older wamd before a newer one opens the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from wamd.errors import CorruptedStore, StoreError
from wamd.store.auth import AuthState, AuthStateAndSave
from wamd.store.base import TransactionalKeyStore, Writes, own_steps, retrieve_failure
from wamd.store.creds import AuthenticationCreds, init_auth_creds
from wamd.store.files import FOLDER_MODE, create_private_file, fsync_dir
from wamd.store.serialize import dumps, loads

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteKeyStore",
    "migrate_database",
    "prepare_database",
    "use_sqlite_auth_state",
]

T = TypeVar("T")

# Layout 2: many accounts in one file (rows keyed by account; "" is the default account,
# which is where a file of layout 1 puts its rows when it is migrated).
log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # PRAGMA user_version; a layout-1 file reads 0 and has keys(type, id, value)

_LAYOUT_2 = (
    """CREATE TABLE keys (
        account TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (account, type, id)
    ) WITHOUT ROWID""",
    """CREATE TABLE creds (
        account TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
)

_FROM_LAYOUT_1 = (
    "ALTER TABLE keys RENAME TO keys_layout_1",
    "ALTER TABLE creds RENAME TO creds_layout_1",
    *_LAYOUT_2,
    "INSERT INTO keys (account, type, id, value) SELECT '', type, id, value FROM keys_layout_1",
    "INSERT INTO creds (account, value) SELECT '', value FROM creds_layout_1 WHERE id = 0",
    "DROP TABLE keys_layout_1",
    "DROP TABLE creds_layout_1",
)


def migrate_database(db: sqlite3.Connection, location: str) -> int:
    """Create or migrate the store's tables to ``SCHEMA_VERSION``, in one transaction.

    ``BEGIN IMMEDIATE`` serialises processes opening the file together; a file a newer
    wamd migrated is refused (``StoreError``). Returns the version found before.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{location}: the file's wamd layout is version {version}, newer than this "
                f"wamd knows ({SCHEMA_VERSION}): upgrade wamd"
            )
        found = version
        if version == 0 and "keys" in tables:
            found = 1
            for statement in _FROM_LAYOUT_1:
                db.execute(statement)
        elif version == 0:
            for statement in _LAYOUT_2:
                db.execute(statement)
        if version != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
        return found
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


_RECOVERY = (
    "restore the file from a backup, or move it aside and pair anew (wamd pair --reset); "
    "docs/stores.md says what is lost"
)


def check_integrity(db: sqlite3.Connection, location: str) -> None:
    """``PRAGMA quick_check`` (the b-tree structure of every page, in time linear in the
    file's size): ``CorruptedStore`` naming the file and the first problems found.

    A flipped bit in a page header or a cell pointer shows here, on open, instead of as a
    "database disk image is malformed" in the middle of decrypting a message.
    """
    try:
        rows = [str(row[0]) for row in db.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:  # not a database at all, or a broken header
        raise CorruptedStore(
            location, f"the SQLite integrity check failed ({exc}): {_RECOVERY}"
        ) from None
    if rows != ["ok"]:
        found = "; ".join(rows)[:300]
        raise CorruptedStore(location, f"the SQLite integrity check failed ({found}): {_RECOVERY}")
    log.debug("%s: integrity check passed", location)


def prepare_database(
    db: sqlite3.Connection, schema: str, *, synchronous: str, busy_timeout: float
) -> None:
    """WAL mode, ``synchronous`` and ``schema``, waiting out other processes doing the same.

    Switching a new file to WAL answers "database is locked" at once to every process but
    one, without the busy timeout; so do schema writes racing it. Retries (with a
    growing pause, on the calling thread: a store's worker, never the event loop) until
    ``busy_timeout`` seconds have passed.
    """
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"not a synchronous mode: {synchronous!r}")
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class _Checked:
    """Files this process checked on open and still has open, with how many stores.

    ``PRAGMA quick_check`` reads the whole file: run by every account of a many-account
    file it made opening N accounts cost N times the file (quadratic, and each
    connection's page cache filled with pages it never needed). A file is checked when
    the first of this process's stores opens it; stores opening it while another one of
    this process has it open join that check; once the last closes, the next open checks
    again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # stores open on their own worker threads
        self._open: dict[str, int] = {}

    def open(self, path: str, check: Callable[[], None]) -> str:
        key = os.path.realpath(path)
        with self._lock:  # a second opener waits for the first one's check
            if not self._open.get(key):
                check()
            self._open[key] = self._open.get(key, 0) + 1
        return key

    def close(self, key: str) -> None:
        with self._lock:
            left = self._open.get(key, 0) - 1
            if left > 0:
                self._open[key] = left
            else:
                self._open.pop(key, None)


_CHECKED = _Checked()


CHECKPOINT_COMMITS = 500  # commits between two checkpoints of the WAL into the file


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


class _Connection:
    """One SQLite connection used on the event loop's thread, and a worker thread for
    what can wait long: opening, fsync, checkpoints.

    The stores of one file opened by one process in one event loop share one
    (``_SHARED``): a fleet of 10,000 accounts held 10,000 connections, 30,000 file
    descriptors (the file, ``-wal``, ``-shm``) and 10,000 threads, each with its page
    cache, before its first message. ``write`` (an asyncio lock, held from ``BEGIN`` to
    ``COMMIT`` or ``ROLLBACK``) serialises their transactions in the loop, and the
    file's write lock serialises them between processes. A transaction's writes reach
    the connection only in its commit, one synchronous call (the base class keeps them
    until then), so no read on the shared connection ever sees another store's
    uncommitted writes.

    **Statements run on the loop's thread.** A trip to a worker thread cost 116 µs of
    CPU here, more than SQLite's own work for a message (a primary-key read, a few
    upserts and an unsynced ``COMMIT``: tens of µs), and a message made five. So the
    connection runs with ``busy_timeout`` 0 (a statement never waits inside SQLite),
    ``BEGIN IMMEDIATE`` is retried with ``asyncio.sleep`` while another process holds
    the write lock (``begin``), and ``synchronous=NORMAL`` with ``wal_autocheckpoint``
    off: a ``COMMIT`` writes its WAL frames and returns without an fsync.

    **Durability is a group commit** (``committed``): one fsync of the ``-wal`` file on
    the worker thread makes every commit made before it started durable (fsync flushes
    the file whoever wrote it), and the commits made while it runs share the next one.
    Until its fsync returns, a commit is not reported durable: ``transaction()`` waits
    for it, the receive path sends no receipt before it. Every ``CHECKPOINT_COMMITS``
    commits the worker copies the WAL into the file (a passive checkpoint on a second
    connection of its own, which syncs the WAL before and the file after, as SQLite's
    automatic one does). A failed fsync fails the commits waiting for it and every
    later one on this connection (after a failed fsync the kernel may have dropped the
    pages: nothing committed since can be called durable); reopening the store starts
    afresh from the file.
    """

    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wamd-sqlite")
        self.db: sqlite3.Connection | None = None
        self.write = asyncio.Lock()  # held from BEGIN to COMMIT or ROLLBACK
        self.users = 0
        self.key: tuple[str, asyncio.AbstractEventLoop] | None = None  # in _SHARED
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._checked: str | None = None  # the _CHECKED key while it is open
        self.wal: str | None = None if path == ":memory:" else path + "-wal"
        self._wal_fd: int | None = None  # worker thread only
        self._checkpointer: sqlite3.Connection | None = None  # worker thread only
        self._next: asyncio.Future[None] | None = None  # the commits the next fsync covers
        self._syncer: asyncio.Future[None] | None = None
        self._since_checkpoint = 0
        self.failed: StoreError | None = None  # a failed fsync: nothing is durable since

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn`` on the worker thread (SQLite's errors as ``StoreError``)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, fn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(db)`` here, on the loop's thread (SQLite's errors as ``StoreError``)."""
        db = self.db
        if db is None:
            raise StoreError(f"{self.path}: store is not open")
        try:
            return fn(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    async def begin(self, where: str) -> None:
        """``BEGIN IMMEDIATE``, waiting in the loop (not blocking it) while another
        process holds the file's write lock, for up to ``busy_timeout`` seconds."""
        if self.failed is not None:
            raise self.failed
        deadline: float | None = None
        delay = 0.001
        while True:
            db = self.db
            if db is None:
                raise StoreError(f"{self.path}: store is not open")
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise StoreError(f"{self.path}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            now = time.monotonic()
            if deadline is None:
                deadline = now + self.busy_timeout
            elif now >= deadline:
                raise StoreError(
                    f"{where}: database is locked (another process held the file's write "
                    f"lock for over {self.busy_timeout:g} s)"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def committed(self) -> asyncio.Future[None] | None:
        """After a ``COMMIT``: a future done once it is durable (None: nothing to wait
        for, an in-memory database)."""
        if self.wal is None:
            return None
        if self.failed is not None:  # committed in the file, never to be called durable
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(self.failed)
            failed.add_done_callback(retrieve_failure)
            return failed
        self._since_checkpoint += 1
        done = self._next
        if done is None:
            done = self._next = asyncio.get_running_loop().create_future()
            done.add_done_callback(retrieve_failure)
        if self._syncer is None:
            self._syncer = asyncio.ensure_future(self._sync_groups())
        return done

    async def settled(self) -> None:
        """Wait for the fsyncs under way and due (before closing)."""
        while self._syncer is not None:
            await asyncio.shield(self._syncer)

    async def _sync_groups(self) -> None:
        try:
            while (done := self._next) is not None:
                self._next = None
                try:
                    await self.run(self._sync)
                except BaseException as exc:
                    self.failed = StoreError(
                        f"{self.path}: making commits durable failed "
                        f"({type(exc).__name__}: {exc}); close every store of this file "
                        "in this process, then reopen"
                    )
                    for waiting in (done, self._next):
                        if waiting is not None and not waiting.done():
                            waiting.set_exception(self.failed)
                    self._next = None
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    log.error("%s", self.failed)
                    return
                done.set_result(None)
                if self._since_checkpoint >= CHECKPOINT_COMMITS:
                    self._since_checkpoint = 0
                    try:
                        await self.run(self._checkpoint)
                    except (StoreError, OSError) as exc:  # the next one tries again
                        log.warning("%s: checkpoint failed: %s", self.path, exc)
        finally:
            self._syncer = None

    def _sync(self) -> None:
        """fsync the ``-wal`` file (on the worker thread), opening it anew when it is not
        the file the descriptor names any more."""
        assert self.wal is not None
        try:
            current = os.stat(self.wal).st_ino
        except FileNotFoundError:  # no WAL: SQLite checkpointed it all and synced the file
            current = None
        fd = self._wal_fd
        if fd is not None and (current is None or os.fstat(fd).st_ino != current):
            os.close(fd)
            fd = self._wal_fd = None
        if current is None:
            return
        if fd is None:
            fd = self._wal_fd = os.open(self.wal, os.O_RDONLY)
        os.fsync(fd)

    def _checkpoint(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, isolation_level=None, timeout=self.busy_timeout
            )
            self._checkpointer.execute("PRAGMA synchronous=NORMAL")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def connect(self) -> None:
        """Open, check, prepare and migrate the file (on the worker thread)."""
        if str(self.path) != ":memory:":
            # owner-only from the start; SQLite gives -wal and -shm the same mode
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
            create_private_file(Path(self.path))
        db = sqlite3.connect(
            self.path, isolation_level=None, timeout=self.busy_timeout, check_same_thread=False
        )
        checked = None
        try:
            if str(self.path) == ":memory:":
                check_integrity(db, self.path)
            else:
                checked = _CHECKED.open(self.path, lambda: check_integrity(db, self.path))
            # NORMAL: a COMMIT is not synced; _sync makes it durable (see the class)
            prepare_database(db, "", synchronous="NORMAL", busy_timeout=self.busy_timeout)
            migrate_database(db, self.path)
            db.execute("PRAGMA wal_autocheckpoint=0")  # _checkpoint does it, off the loop
            db.execute("PRAGMA busy_timeout=0")  # begin() waits, in the loop
            if self.wal is not None:
                db.execute("SELECT 1 FROM creds LIMIT 1").fetchall()  # the -wal exists now
                fsync_dir(Path(self.path).parent)  # and its name is durable
        except BaseException:
            if checked is not None:
                _CHECKED.close(checked)
            db.close()
            raise
        self.db = db
        self._checked = checked

    def disconnect(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None
        if self._checked is not None:
            _CHECKED.close(self._checked)
            self._checked = None

    @contextlib.asynccontextmanager
    async def writing(self, where: str) -> AsyncIterator[None]:
        """Hold ``write`` (another account's transaction on this connection ends first)
        and the file's write lock, for an autocommit write; rolled back if it raises."""
        await self.take_write(where)
        try:
            await self.begin(where)
            try:
                yield
                self.call(lambda db: db.execute("COMMIT"))
            except BaseException:
                self.roll_back()
                raise
        finally:
            self.write.release()

    def roll_back(self) -> None:
        """``ROLLBACK`` if a transaction is open on the connection."""
        if self.db is not None and self.db.in_transaction:
            self.call(lambda db: db.execute("ROLLBACK"))

    async def take_write(self, where: str) -> None:
        if not self.write.locked():  # (the timeout's timer costs more than the rest)
            await self.write.acquire()
            return
        try:
            async with asyncio.timeout(self.busy_timeout):
                await self.write.acquire()
        except TimeoutError:
            raise StoreError(
                f"{where}: database is locked (another account's transaction on this "
                f"process's connection lasted over {self.busy_timeout:g} s)"
            ) from None


_SHARED: dict[tuple[str, asyncio.AbstractEventLoop], _Connection] = {}


class SQLiteKeyStore(TransactionalKeyStore):
    def __init__(
        self, path: str | os.PathLike[str], *, account: str = "", busy_timeout: float = 30.0
    ) -> None:
        super().__init__()
        if not isinstance(account, str):
            raise TypeError("account must be a string")
        self.path = os.fspath(path)
        self.account = account
        self._busy_timeout = busy_timeout
        self._conn: _Connection | None = None
        self._holding = False  # this store holds its connection's ``write``
        self._begin_due = False  # holding it, and BEGIN not sent yet (see _begin)

    def _connection(self) -> _Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: store is not open")
        return self._conn

    groups_commits = True  # a COMMIT returns unsynced; one fsync serves many (_Connection)

    def _steps_inline_safe(self) -> bool:
        # a step cut short at its one await (BEGIN waiting out another process) gives
        # the locks back in its finally
        return own_steps(self, SQLiteKeyStore)

    async def _run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the loop's thread (SQLite's errors as ``StoreError``)."""
        return self._connection().call(lambda _db: fn())

    async def open(self) -> None:
        if self._conn is not None:
            return
        loop = asyncio.get_running_loop()
        # abspath: getcwd at most, no file system wait
        shared = os.path.abspath(self.path)  # noqa: ASYNC240
        key = None if self.path == ":memory:" else (shared, loop)
        conn = _SHARED.get(key) if key is not None else None
        starting = conn is None
        if conn is None:
            conn = _Connection(self.path, self._busy_timeout)
            if key is not None:
                conn.key = key
                _SHARED[key] = conn
        conn.users += 1
        try:
            if starting:
                try:
                    await conn.run(conn.connect)
                except BaseException as exc:
                    if conn.key is not None and _SHARED.get(conn.key) is conn:
                        del _SHARED[conn.key]  # the next opener tries afresh
                    failed = (
                        exc
                        if isinstance(exc, Exception)
                        else StoreError(f"{self.path}: opening was interrupted")
                    )
                    conn.ready.set_exception(failed)
                    conn.ready.exception()  # retrieved: the joiners, if any, raise it
                    raise
                conn.ready.set_result(None)
            else:
                await asyncio.shield(conn.ready)
        except BaseException:
            await self._let_go(conn)
            raise
        self._conn = conn

    async def _let_go(self, conn: _Connection) -> None:
        conn.users -= 1
        if conn.users > 0:
            return
        if conn.key is not None and _SHARED.get(conn.key) is conn:
            del _SHARED[conn.key]
        try:
            await conn.settled()  # the last commits' fsync first
        finally:
            try:
                await conn.run(conn.disconnect)
            finally:
                conn.executor.shutdown(wait=False)

    async def set_aside(self, type: str, key_id: str) -> str:
        """Move one key's row into the ``set_aside`` table (kept, never deleted); where."""

        def move(db: sqlite3.Connection) -> None:
            db.execute(
                "CREATE TABLE IF NOT EXISTS set_aside "
                "(account TEXT, type TEXT, id TEXT, value TEXT, at REAL)"
            )
            where = (self.account, type, key_id)
            db.execute(
                "INSERT INTO set_aside SELECT account, type, id, value, ? FROM keys "
                "WHERE account = ? AND type = ? AND id = ?",
                (time.time(), *where),
            )
            db.execute("DELETE FROM keys WHERE account = ? AND type = ? AND id = ?", where)

        conn = self._connection()
        async with self._outside_transactions("set_aside"):
            async with conn.writing(self._where()):
                conn.call(move)
            await _wait_durable(conn.committed())
        return f"{self._where()}: table set_aside"

    async def close(self) -> None:
        conn = self._conn
        if conn is None:
            return
        if self._holding:  # closed in the middle of a transaction: it is rolled back
            await self._rollback()
        self._conn = None
        await self._let_go(conn)

    def _where(self) -> str:
        return self.path + (f" account {self.account!r}" if self.account else "")

    @property
    def db(self) -> sqlite3.Connection:
        db = self._conn.db if self._conn is not None else None
        if db is None:
            raise StoreError(f"{self.path}: store is not open")
        return db

    async def _begin(self) -> None:
        # BEGIN IMMEDIATE goes just before the transaction's first statement (a read or
        # the commit), and a transaction that sends none sends no BEGIN either. Nothing
        # reaches the connection before it, so the file's lock is still taken before
        # anything is read.
        conn = self._connection()
        await conn.take_write(self._where())
        self._holding = True
        self._begin_due = True

    def _take_begin(self) -> bool:
        """Whether the statement about to be sent opens the transaction (decided in the
        event loop's thread, so a cancelled read cannot race a rollback over it)."""
        due, self._begin_due = self._begin_due, False
        return due

    def _release_write(self) -> None:
        self._begin_due = False
        if self._holding:
            self._holding = False
            self._connection().write.release()

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if not ids:
            return {}

        conn = self._connection()
        if self._take_begin():
            await conn.begin(self._where())

        def read(db: sqlite3.Connection) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT id, value FROM keys WHERE account = ? AND type = ? AND id IN ({marks})",
                    (self.account, type, *chunk),
                ).fetchall()
                for key_id, value in rows:
                    try:
                        out[key_id] = loads(value, f"{self._where()}: {type}/{key_id}")
                    except CorruptedStore as exc:
                        raise exc.about(type, key_id) from None
            return out

        return conn.call(read)

    async def _commit(self, writes: Writes) -> None:
        await _wait_durable(await self._commit_grouped(writes))

    async def _commit_grouped(
        self, writes: Writes, *, wait: bool = True
    ) -> asyncio.Future[None] | None:
        conn = self._connection()

        def commit(db: sqlite3.Connection) -> None:
            try:
                for type, values in writes.items():
                    upserts = [
                        (self.account, type, k, dumps(v))
                        for k, v in values.items()
                        if v is not None
                    ]
                    deletes = [(self.account, type, k) for k, v in values.items() if v is None]
                    if upserts:
                        db.executemany(
                            "INSERT OR REPLACE INTO keys (account, type, id, value) "
                            "VALUES (?, ?, ?, ?)",
                            upserts,
                        )
                    if deletes:
                        db.executemany(
                            "DELETE FROM keys WHERE account = ? AND type = ? AND id = ?", deletes
                        )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

        try:
            if self._take_begin():
                await conn.begin(self._where())
            conn.call(commit)
        finally:
            self._release_write()
        return conn.committed()

    async def _rollback(self) -> None:
        if not self._holding:  # no transaction of ours (take_write failed, or closed)
            return
        try:
            if not self._begin_due:  # a statement was sent: BEGIN too
                self._connection().roll_back()
        finally:
            self._release_write()

    async def read_creds(self) -> AuthenticationCreds | None:
        row = self._connection().call(
            lambda db: db.execute(
                "SELECT value FROM creds WHERE account = ?", (self.account,)
            ).fetchone()
        )
        if row is None:
            return None
        location = f"{self._where()}: creds"
        import json

        try:
            raw = json.loads(row[0])
        except ValueError:
            raise CorruptedStore(location, "not valid JSON") from None
        return AuthenticationCreds.from_json(raw, location)

    async def write_creds(self, creds: AuthenticationCreds) -> None:
        """Save ``creds`` durably, in a transaction of its own.

        The connection is shared with the key transactions, so the write waits until none
        is open (``_outside_transactions``): it never rides in another task's key
        transaction, which could still roll back or be lost in a crash after this returned.
        """
        text = dumps(creds.to_json())
        conn = self._connection()
        async with self._outside_transactions("save_creds()"):
            async with conn.writing(self._where()):
                conn.call(
                    lambda db: db.execute(
                        "INSERT OR REPLACE INTO creds (account, value) VALUES (?, ?)",
                        (self.account, text),
                    )
                )
            await _wait_durable(conn.committed())


async def _wait_durable(done: asyncio.Future[None] | None) -> None:
    if done is not None:
        await asyncio.shield(done)


async def use_sqlite_auth_state(
    path: str | os.PathLike[str], *, account: str = ""
) -> AuthStateAndSave:
    """``(state, save_creds)`` backed by one SQLite file; safe for several processes.

    One file can hold many accounts (``account=``, rows keyed by it); the default
    account ``""`` is the one a single-account file has. ``state.keys.close()`` closes it.
    """
    store = SQLiteKeyStore(path, account=account)
    await store.open()
    try:
        creds = await store.read_creds()
        state = AuthState(creds or init_auth_creds(), store)
        if creds is None:
            await store.write_creds(state.creds)
    except BaseException:
        await store.close()
        raise

    async def save_creds(*_update: object) -> None:
        await store.write_creds(state.creds)

    return AuthStateAndSave(state, save_creds)
