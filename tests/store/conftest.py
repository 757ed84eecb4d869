"""Store fixtures: every backend for the contract tests, and a real PostgreSQL server.

The server comes from ``scripts/postgres.sh`` (Debian's postgresql, installed with
apt-get when missing and we are root; a throwaway cluster on 127.0.0.1 on a free port,
run as a non-root user), once per test session, and is stopped at the end. Where it
cannot be had the Postgres tests are skipped with the script's reason. Tests keep apart
by account name (``account``) or by a database of their own (``postgres_db``).
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from wamd.crypto import generate_keypair
from wamd.store import CachedKeyStore, MemoryKeyStore, MultiFileKeyStore, SQLiteKeyStore
from wamd.store.types import SignalKeyStore

BACKENDS = [
    "memory",
    "multifile",
    "sqlite",
    "sqlite-shared",
    "postgres",
    "cached-memory",
    "cached-sqlite",
]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
START_TIMEOUT = 900  # seconds: an apt-get install on a slow mirror, then initdb


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The DSN of a PostgreSQL server for this test session (skips when none can be had)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[dev]' or '.[postgres]')")
    folder = tempfile.mkdtemp(prefix="wamd-postgres-", dir="/tmp")  # the server's user reads it
    try:
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", folder],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _stop(folder)
        pytest.skip(f"PostgreSQL did not start within {START_TIMEOUT} s")
    if started.returncode != 0:
        _stop(folder)
        reason = started.stderr.strip().splitlines()[-1:] or ["no reason given"]
        pytest.skip(f"no PostgreSQL server: {reason[0]}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        _stop(folder)


def _stop(folder: str) -> None:
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(["bash", str(SCRIPT), "stop", folder], timeout=120, check=False)


@pytest.fixture
def account() -> str:
    """An account name no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_db(postgres_dsn: str) -> Iterator[str]:
    """The DSN of a new, empty database of this test's own (dropped afterwards)."""
    import psycopg

    name = f"wamd_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# what the neighbouring account holds, under the ids the contract tests use
NEIGHBOUR: dict[str, dict[str, Any]] = {
    "session": {k: b"neighbour" for k in ("a", "b", "c", "a.1", "15551234567.1", "parent")},
    "pre-key": {k: generate_keypair() for k in ("1", "5", "6", "7", "25", "31")},
    "app-state-sync-version": {"counter": {"n": 1000}},
    "lid-mapping": {"15551234567": "1", "1555": "2"},
    "sender-key-memory": {"g": {"x.1": True}, "g@g.us": {"x.1": True}},
}


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SignalKeyStore]:
    kind: str = request.param
    if kind == "memory":
        yield MemoryKeyStore()
    elif kind == "multifile":
        yield MultiFileKeyStore(tmp_path / "auth")
    elif kind == "cached-memory":
        yield CachedKeyStore(MemoryKeyStore())
    elif kind == "sqlite-shared":  # one account of a file another account also writes
        path = tmp_path / "fleet.sqlite"
        neighbour = SQLiteKeyStore(path, account="neighbour")
        await neighbour.open()
        await neighbour.set(NEIGHBOUR)
        mine = SQLiteKeyStore(path, account="mine")
        await mine.open()
        yield mine
        await mine.close()
        assert await neighbour.get("session", list(NEIGHBOUR["session"])) == NEIGHBOUR["session"]
        await neighbour.close()
    elif kind == "postgres":
        from wamd.store.postgres import PostgresKeyStore

        dsn: str = request.getfixturevalue("postgres_dsn")
        pg = PostgresKeyStore(dsn, account=request.getfixturevalue("account"))
        await pg.open()
        yield pg
        await pg.close()
    else:
        sqlite = SQLiteKeyStore(tmp_path / "auth.sqlite")
        await sqlite.open()
        yield sqlite if kind == "sqlite" else CachedKeyStore(sqlite)
        await sqlite.close()
