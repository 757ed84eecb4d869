"""Fixtures for the assignment tests: the three backends and a real local redis-server.

``redis-server`` is looked up on PATH (and in /usr/sbin, /usr/bin); when it is missing and
we run as root on a Debian-like system it is installed once with
``apt-get install -y redis-server`` (after ``apt-get update`` if the first try fails). Where
neither works the Redis tests are skipped with the reason. The server runs on 127.0.0.1 on a
free port with persistence off and is stopped at the end of the session; every test uses a
key prefix of its own, so tests never see each other's keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.apt import apt_install
from wamd.assign import AssignmentBackend, MemoryAssignments, SQLiteAssignments

BACKENDS = ["memory", "sqlite", "redis"]


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _which_redis() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/bin"):
        candidate = Path(folder, "redis-server")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _install_redis() -> tuple[str | None, str]:
    """``(path, "")`` or ``(None, reason)``."""
    reason = apt_install("redis-server", ("redis-server",), lambda: _which_redis() is not None)
    return (None, reason) if reason else (_which_redis(), "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for this test session (or a skip with the reason)."""
    try:
        import redis  # noqa: F401
    except ImportError:
        pytest.skip("the redis client is not installed (pip install 'wamd[redis]')")
    path = _which_redis()
    if path is None:
        path, reason = _install_redis()
        if path is None:
            pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [
                path,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(workdir),
                "--logfile", str(workdir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and not _ping(port):
            time.sleep(0.02)
        if proc.poll() is None and _ping(port):
            break
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
    else:
        log = (workdir / "redis.log").read_text(errors="replace")[-500:]
        pytest.skip(f"redis-server at {path} did not start: {log}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[..., AssignmentBackend]]:
    """``make_backend(kind, clock=None)``: a backend; two of one kind share their data."""
    prefix = f"wamd-test:{uuid.uuid4().hex}:"
    made: list[AssignmentBackend] = []

    def make(kind: str, clock: Callable[[], float] | None = None) -> AssignmentBackend:
        backend: AssignmentBackend
        if kind == "memory":
            backend = MemoryAssignments(clock=clock)
        elif kind == "sqlite":
            backend = SQLiteAssignments(tmp_path / "assign.sqlite", clock=clock)
        elif kind == "redis":
            from wamd.assign import RedisAssignments

            url = request.getfixturevalue("redis_url")
            backend = RedisAssignments(url, prefix=prefix)
        else:
            raise ValueError(kind)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture
def backend(kind: str, make_backend: Callable[..., AssignmentBackend]) -> AssignmentBackend:
    return make_backend(kind)


class Timeline:
    """Lets time pass for a backend: the fake clock for memory/SQLite, real time for Redis."""

    def __init__(self, kind: str, clock: FakeClock) -> None:
        self.kind = kind
        self.clock = clock

    async def advance(self, seconds: float) -> None:
        if self.kind == "redis":
            await asyncio.sleep(seconds)
        else:
            self.clock.advance(seconds)


@pytest.fixture
def timed(
    kind: str, clock: FakeClock, make_backend: Callable[..., AssignmentBackend]
) -> tuple[AssignmentBackend, Timeline]:
    """A backend whose time the test moves: ``backend, timeline = timed``."""
    backend = make_backend(kind, None if kind == "redis" else clock)
    return backend, Timeline(kind, clock)
