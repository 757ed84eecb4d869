"""What the client does when its auth state fails while it runs.

Two kinds of failure, two answers:

- **one unreadable key** (a truncated session file, a prekey file that does not parse, a
  damaged row: ``CorruptedStore`` naming the key): the key is *set aside* — moved out of
  the way by the store (``set-aside/`` in a multi-file folder, the ``set_aside`` table in
  SQLite), never deleted — and the message that needed it becomes a stub with a retry
  receipt, exactly like a message that fails to decrypt. The sender answers the retry by
  building a new session from a fresh prekey, so the chat recovers by itself. A
  ``connection.update`` with ``store_error`` says what happened (the status line of
  ``wamd echo``);
- **a store that cannot be used** (a folder turned read-only, a full disk, a file that
  cannot be opened: any other ``StoreError`` or ``OSError`` while handling a stanza): the
  stanza is not acknowledged — the server delivers it again later — and the connection
  is closed with ``StoreFailed`` as the reason, which ``run_forever`` does not retry.
  Acknowledging messages whose Signal state could not be committed would lose them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from wamd.errors import CorruptedStore, DisconnectReason, StoreError, StoreFailed
from wamd.events import ConnectionUpdate

if TYPE_CHECKING:
    from wamd.client.core import Attempt, ClientCore

__all__ = ["guard_store", "set_aside_corrupted"]


async def set_aside_corrupted(core: ClientCore, error: CorruptedStore) -> None:
    """Move the key ``error`` names out of the way and say so; ``StoreFailed`` when the
    store cannot (it has no ``set_aside``, or moving fails): the stanza is then not acked."""
    log = core.logger_for(__name__)
    if error.key_type is None or error.key_id is None:
        raise StoreFailed(f"the auth state is damaged: {error}", cause=error)
    mover = getattr(core.auth.keys, "set_aside", None)
    if mover is None:
        raise StoreFailed(
            f"the auth state is damaged ({error}) and this store cannot set the key aside: "
            f"remove that {error.key_type} by hand and restart",
            cause=error,
        )
    try:
        where = await mover(error.key_type, error.key_id)
    except (StoreError, OSError) as exc:
        raise StoreFailed(
            f"cannot set aside the damaged {error.key_type}: {exc}", cause=exc
        ) from exc
    log.warning(
        "unreadable %s %s set aside to %s (%s); asking the sender to resend",
        error.key_type,
        error.key_id,
        where,
        error.reason,
    )
    core.ev.emit(
        "connection.update",
        ConnectionUpdate(
            store_error=CorruptedStore(
                str(where),
                f"the {error.key_type} {error.key_id} could not be read ({error.reason}) and "
                "was set aside there; the sender was asked to resend, so the chat recovers "
                "by itself",
                key_type=error.key_type,
                key_id=error.key_id,
            )
        ),
    )


async def guard_store(core: ClientCore, attempt: Attempt, work: Awaitable[None]) -> None:
    """Run the handling of one stanza; a store failure closes the connection (no ack)."""
    try:
        await work
    except (StoreError, OSError) as exc:
        failure = (
            exc
            if isinstance(exc, StoreFailed)
            else StoreFailed(
                f"the auth state cannot be used ({exc}): nothing more is acknowledged; fix it "
                "(permissions, disk space) and start again",
                cause=exc,
            )
        )
        core.logger_for(__name__).error("%s", failure)
        core.ev.emit("connection.update", ConnectionUpdate(store_error=failure))
        attempt.decide_close(DisconnectReason.BAD_SESSION, failure)
        if attempt.conn is not None:
            await attempt.conn.close(DisconnectReason.BAD_SESSION, "auth state failed")
