"""Crash-safe file primitives for the multi-file store."""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "atomic_write",
    "create_private_file",
    "fsync_dir",
    "id_from_filename",
    "id_to_filename",
]

# Key material is for this user alone: new files are owner read/write, new folders
# owner only (the process umask can only narrow these).
FILE_MODE = 0o600
FOLDER_MODE = 0o700

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def id_to_filename(value: str) -> str:
    """A file-name-safe, reversible, case-insensitive-safe form of a key id.

    Lower-case letters, digits, ``.``, ``_`` and ``-`` stay; every other character
    (upper case included, so ids differing only in case never collide on macOS or
    Windows) becomes ``%XX`` for each of its UTF-8 bytes.
    """
    out = []
    for ch in value:
        if ch in _PLAIN:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    name = "".join(out)
    if name in ("", ".", ".."):
        name = name.replace(".", "%2E") or "%"
    return name


def id_from_filename(name: str) -> str:
    """The inverse of ``id_to_filename``."""
    if name == "%":
        return ""
    raw = bytearray()
    i = 0
    while i < len(name):
        if name[i] == "%":
            raw.append(int(name[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(name[i].encode())
            i += 1
    return raw.decode()


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new contents.

    ``sync=False`` skips the fsync of the file (and of the folder): a crash of the process
    still leaves the old or the new contents, but a crash of the machine may leave an
    empty or torn file; only for files that a durable log can write again.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if not sync:
        return
    if sync_dir:
        fsync_dir(path.parent)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only if it does not exist (an existing file is kept)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
