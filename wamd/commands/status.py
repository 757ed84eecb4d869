"""Status lines a person can follow, and the logging set-up of the command-line tools.

``Status`` writes one line per event ("connecting", "waiting for scan", "paired as ...",
"online", "reconnecting in 1.2 s ...") to stdout, flushed at once so that a pipe or a
test reading the output sees each line when it happens. Lines start with the wall-clock
time (``wamd echo``, ``wamd pair``) or with the seconds since start (``wamd demo``'s
transcript). Text that the terminal's encoding cannot show (the QR code's block
characters on an ASCII-only terminal) is replaced, never an error.

Protocol logs go to stderr: warnings by default; ``-v`` adds wamd's own log (the
``wamd.*`` loggers at DEBUG) without the websocket library's hex dump of every frame,
``-vv`` adds those and every other library's debug log. The reconnect supervisor (``wamd.client.supervisor``) says when it
reconnects and why it stops; its records become status lines.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TextIO

from wamd.errors import DisconnectReason

__all__ = ["Status", "add_verbose_argument", "configure_logging", "describe_reason", "hint_for"]

SUPERVISOR_LOGGER = "wamd.client.supervisor"
WAMD_LOGGER = "wamd"


class Status:
    """Timestamped status lines on ``stream`` (stdout by default)."""

    def __init__(self, stream: TextIO | None = None, *, relative: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.relative = relative
        self.start = time.monotonic()
        self.width = 6  # the actor column of relative (transcript) lines

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def line(self, text: str, actor: str = "") -> None:
        """One status line: ``12:00:01  text`` or ``  0.123s  actor  text``."""
        if self.relative:
            prefix = f"{self.elapsed():8.3f}s  {actor:<{self.width}}  "
        else:
            prefix = time.strftime("%H:%M:%S  ") + (f"{actor}: " if actor else "")
        self.write(prefix + text + "\n")

    def block(self, text: str) -> None:
        """A block printed as is (a QR code, a summary)."""
        self.write(text if text.endswith("\n") else text + "\n")

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "ascii"
            self.stream.write(text.encode(encoding, "replace").decode(encoding))
        self.stream.flush()


class _SupervisorLines(logging.Handler):
    """Turns the reconnect supervisor's records into status lines."""

    def __init__(self, status: Status, actor: str) -> None:
        super().__init__(logging.INFO)
        self.status = status
        self.actor = actor

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.status.line(record.getMessage(), self.actor)
        except Exception:  # a status line must never break the supervisor
            self.handleError(record)


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """``-v`` (wamd's protocol log) and ``-vv`` (every library's too, frame dumps included)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show wamd's protocol log on stderr; twice (-vv) also the websocket library's "
        "frame dumps and every other library's debug log",
    )


def configure_logging(verbose: int, status: Status | None = None, actor: str = "") -> None:
    """Protocol logs to stderr; the reconnect supervisor's records to ``status``.

    ``verbose`` 0: warnings only. 1 (``-v``): wamd's own loggers (``wamd.*``) at DEBUG,
    other libraries at WARNING, so the websocket library's hex dump of every frame
    (``websockets.*`` at DEBUG) stays out. 2 (``-vv``): everything at DEBUG.

    Called once by each command (they own the process); a library user configures logging
    their own way.
    """
    verbose = int(verbose)
    logging.basicConfig(
        level=logging.DEBUG if verbose >= 2 else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger(WAMD_LOGGER).setLevel(logging.DEBUG if verbose else logging.NOTSET)
    if status is not None:
        supervisor = logging.getLogger(SUPERVISOR_LOGGER)
        for handler in list(supervisor.handlers):
            if isinstance(handler, _SupervisorLines):
                supervisor.removeHandler(handler)
        supervisor.addHandler(_SupervisorLines(status, actor))
        supervisor.setLevel(logging.DEBUG if verbose else logging.INFO)
        # without --verbose its lines are status lines only, not also stderr log records
        supervisor.propagate = bool(verbose)


_HINTS: dict[int, str] = {
    DisconnectReason.LOGGED_OUT: (
        "this device was logged out (removed under Linked devices on the phone, or the "
        "phone was offline for 14 days): start over with `wamd pair --reset`"
    ),
    DisconnectReason.CONNECTION_REPLACED: (
        "another connection with the same credentials took over: run one process per auth state"
    ),
    DisconnectReason.FORBIDDEN: "WhatsApp refused this account (403: banned or restricted)",
    DisconnectReason.CLIENT_OUTDATED: (
        "WhatsApp refused this client version (405): update wamd or pass version="
    ),
    DisconnectReason.BAD_SESSION: (
        "the session failed (500): a bad handshake or server certificate (with a sim: is "
        "the root key the one `wamd sim` printed?) or a corrupted auth state"
    ),
    DisconnectReason.MULTIDEVICE_MISMATCH: "multi-device mismatch (411): pair again",
}


def describe_reason(code: int, error: BaseException | None = None) -> str:
    """``"logged out (401): <what the error said>"`` for a ``LastDisconnect``."""
    try:
        name = DisconnectReason(code).name.lower().replace("_", " ")
    except ValueError:
        name = "closed"
    text = f"{name} ({code})"
    detail = str(error) if error is not None else ""
    if detail and detail != name and not detail.isdigit():
        text += f": {detail}"
    return text


def hint_for(code: int) -> str | None:
    """What a person can do about a final disconnect reason, if anything."""
    return _HINTS.get(code)
