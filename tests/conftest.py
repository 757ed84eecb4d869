"""Fixtures for the whole suite: one real PostgreSQL server per test session.

The server comes from ``scripts/postgres.sh`` (Debian's postgresql, installed with
apt-get when missing and we are root; a throwaway cluster on 127.0.0.1 on a free port,
run as a non-root user), started the first time a test asks for it and stopped at the
end of the session. Where it cannot be had the tests that need it are skipped with the
script's reason. Defined here, at the root, so that tests/store, tests/fleet and the
behaviour tests that run on every store (``tests/client/stores.py``) share one server.
Tests keep apart by account name or by a database of their own (``postgres_db``).
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
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
