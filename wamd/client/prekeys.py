"""Keeping the server stocked with our one-time prekeys (whatsmeow ``prekeys.go``).

At login, and when the server says it is running low (an ``encrypt`` notification with
``<count>``), the client asks for the server's count and uploads a batch when fewer than
``MIN_PREKEYS`` are left: ``INITIAL_PREKEYS`` (812) the first time, ``REFILL_PREKEYS``
(50) later (both references). One upkeep runs at a time.

Three rules keep the private halves safe (issue 22):

- an uploaded prekey is never overwritten: new keys are stored under ids that hold no
  key yet (``SignalRepository.new_prekeys``), whatever the creds' counter says;
- the advanced counter is handed to the ``creds.update`` handlers (``save_creds``) and
  their work awaited *before* the public halves are uploaded;
- a server that keeps saying "none left" gets at most ``MAX_UPLOADS_PER_WINDOW``
  uploads per ``UPLOAD_WINDOW`` seconds (whatsmeow lets such a server ask without end).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from wamd.binary import Node
from wamd.client.core import ClientCore
from wamd.messaging import stanzas
from wamd.signal.prekeys import upload_children

__all__ = [
    "INITIAL_PREKEYS",
    "MAX_UPLOADS_PER_WINDOW",
    "MIN_PREKEYS",
    "REFILL_PREKEYS",
    "PreKeyUpkeep",
]

INITIAL_PREKEYS = 812  # first upload (whatsmeow and Baileys)
REFILL_PREKEYS = 50  # later uploads (whatsmeow WantedPreKeyCount)
MIN_PREKEYS = 5  # refill when the server has fewer (both)
UPLOAD_WINDOW = 600.0  # seconds (whatsmeow's 10-minute race guard)
MAX_UPLOADS_PER_WINDOW = 4


class PreKeyUpkeep:
    def __init__(self, core: ClientCore, clock: Callable[[], float] = time.monotonic) -> None:
        self.core = core
        self._clock = clock
        self._lock = asyncio.Lock()  # a login and a low-prekey notification may overlap
        self._uploads: deque[float] = deque()  # when recent uploads happened

    async def server_count(self) -> int:
        answer = await self.core.query(stanzas.iq("get", "encrypt", [Node("count")]))
        count = answer.get_child("count")
        return (count.attr_int("value", 0) or 0) if count is not None else 0

    async def upkeep(self) -> int:
        """Refill when the server runs low; the number of prekeys uploaded (0: none)."""
        async with self._lock:
            server_count = await self.server_count()
            if server_count >= MIN_PREKEYS:
                return 0
            now = self._clock()
            while self._uploads and now - self._uploads[0] > UPLOAD_WINDOW:
                self._uploads.popleft()
            if len(self._uploads) >= MAX_UPLOADS_PER_WINDOW:
                self.core.log.warning(
                    "the server asked for prekeys %d times in %d s; not uploading more now",
                    len(self._uploads) + 1,
                    int(UPLOAD_WINDOW),
                )
                return 0
            creds = self.core.auth.creds
            first = creds.first_unuploaded_pre_key_id <= 1 and not server_count
            wanted = INITIAL_PREKEYS if first else REFILL_PREKEYS
            keys = await self.core.signal.new_prekeys(creds.next_pre_key_id, wanted)
            last = keys[-1][0]
            # the counter is saved before any public half leaves: a crash between the two
            # must not let the next start hand out these ids again
            await self.core.change_creds({"next_pre_key_id": last + 1})
            children = upload_children(
                creds.registration_id, creds.signed_identity_key.public, keys, creds.signed_pre_key
            )
            await self.core.query(stanzas.iq("set", "encrypt", children))
            self._uploads.append(now)
            self.core.change_creds({"first_unuploaded_pre_key_id": last + 1})
            self.core.log.info("uploaded %d prekeys", len(keys))
            return len(keys)
