"""Trusted-contact privacy tokens (``tctoken``): kept, attached to 1:1 messages, issued.

whatsmeow ``tctoken.go``, ``send.go`` sendDM and ``notification.go``; Baileys
``tc-token-utils.ts`` and ``messages-recv.ts``:

- a contact issues us a token; it arrives as ``<notification type="privacy_token"
  from=USER sender_lid=LID><tokens><token type="trusted_contact" t>TOKEN</token>`` (and in
  the history sync, per conversation: ``tcToken``, ``tcTokenTimestamp``). It is kept under
  the contact's LID when known (whatsmeow resolveTCTokenStorageLID), a newer one replacing
  an older one, in the auth store (``tctoken``: every backend);
- every 1:1 message to that contact carries ``<tctoken>TOKEN</tctoken>`` while the token is
  fresh: issued within the last 4 buckets of 7 days (whatsmeow currentTCTokenCutoffTimestamp);
- after a 1:1 send we issue *our* token to the contact — ``<iq xmlns="privacy" type="set">
  <tokens><token jid t type="trusted_contact"/></tokens>`` — at most once per 7-day
  bucket (whatsmeow shouldSendNewTCToken), remembering when in the store. As in whatsmeow
  (``go cli.issuePrivacyTokenAndSave``) the iq goes out in the background: the send
  returns once the server took the message, not after a second round trip. The bucket is
  claimed in memory before the iq leaves, so a burst of sends issues once; a failed iq
  gives the claim back (the next send tries again);
- the server refusing a message with ``<ack error="463">`` (no token for a contact who
  never wrote to us, as for restricted accounts) makes wamd issue its token at once and
  not retry (Baileys: a retry counts as another reach-out); the send raises ``SendError``.

Without a fresh token, a 1:1 message carries a ``<cstoken>`` instead, as whatsmeow's
``send.go`` does: HMAC-SHA256 keyed with the account's NCT salt over the recipient's LID
JID (``cstoken.go``; none when the LID is not known, none for groups, bots and the PSA
account). The salt comes in the history sync (``nctSalt``) and in the app state
(``nct_salt_sync``: set, or removed); wamd keeps it in the creds' ``account_settings``
(``nctSalt``, base64), so every auth store keeps it without a schema of its own. Baileys
has no cstoken. Tokens and the salt are credentials: they appear in no log line,
exception or repr.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import ConnectionClosed, ProtocolError, RequestError, RequestTimeout
from wamd.messaging import stanzas
from wamd.store.views import PrivacyTokens

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.devices import DeviceDirectory

__all__ = ["BUCKETS", "BUCKET_SECONDS", "NO_TOKEN", "TokenKeeper"]

BUCKET_SECONDS = 604800  # a token bucket: 7 days (whatsmeow tcTokenBucketDuration)
BUCKETS = 4  # a token is fresh for the current bucket and the 3 before (tcTokenNumBuckets)
NO_TOKEN = "463"  # <ack error>: a 1:1 message without the privacy token it needs
PSA_USER = "0"  # WhatsApp's announcements account (no tokens)
NCT_SALT_SETTING = "nctSalt"  # where the creds' account_settings keep the cstoken salt


def cutoff(now: float) -> int:
    """The oldest issue time of a fresh token."""
    return int((now // BUCKET_SECONDS - (BUCKETS - 1)) * BUCKET_SECONDS)


def wants_token(jid: JID) -> bool:
    """Users and LIDs get tokens; groups, the PSA account and bots do not."""
    return jid.server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER) and jid.user != PSA_USER


class TokenKeeper:
    def __init__(self, core: ClientCore, devices: DeviceDirectory) -> None:
        self.core = core
        self.devices = devices
        self.log = core.logger_for(__name__)
        self.tokens = PrivacyTokens(core.auth.keys)
        self.clock: Callable[[], float] = time.time  # tests move it across buckets
        self._claimed: dict[JID, int] = {}  # storage JID -> bucket of an issue under way
        self._tasks: set[asyncio.Task[None]] = set()

    async def storage_jid(self, jid: JID) -> JID:
        """Where a contact's token is kept: under its LID when the mapping is known."""
        user = jid.to_non_ad()
        if user.server == DEFAULT_USER_SERVER:
            lid = await self.devices.lid_for(user)
            if lid is not None:
                return lid.to_non_ad()
        return user

    # ------------------------------------------------------------------ receiving

    async def on_notification(self, node: Node) -> None:
        """``<notification type="privacy_token">``: keep each trusted-contact token."""
        tokens = node.get_child("tokens")
        try:
            sender = node.jid_attr("from")
            sender_lid = node.jid_attr("sender_lid")
        except (ProtocolError, InvalidJID):
            self.log.warning("privacy_token notification with a malformed sender")
            return
        if tokens is None or sender is None:
            self.log.warning("privacy_token notification without <tokens> or a sender")
            return
        if sender_lid is not None and sender_lid.server == HIDDEN_USER_SERVER:
            if sender.server == DEFAULT_USER_SERVER:
                await self.devices.learn(sender.to_non_ad(), sender_lid.to_non_ad())
            owner = sender_lid.to_non_ad()
        else:
            owner = await self.storage_jid(sender)
        for child in tokens.get_children("token"):
            token = child.content_bytes()
            if child.attrs.get("type") != "trusted_contact" or not token:
                self.log.warning("privacy_token notification with an unexpected token")
                continue
            try:
                issued = child.attr_int("t", 0) or 0
            except ProtocolError:
                issued = 0
            if not issued:
                continue  # a token without a time would count as expired (Baileys skips it)
            await self.tokens.put_token(str(owner), token, issued)

    async def from_history(self, tokens: dict[str, tuple[bytes, int]]) -> None:
        """Tokens of the history sync's conversations (chat JID -> token, issue time)."""
        for chat, (token, issued) in tokens.items():
            try:
                jid = JID.parse(chat)
            except InvalidJID:
                continue
            if token and issued and wants_token(jid):
                await self.tokens.put_token(str(await self.storage_jid(jid)), token, issued)

    # ------------------------------------------------------------------ sending

    async def token_node(self, to: JID) -> Node | None:
        """``<tctoken>`` for a 1:1 message to ``to`` when a fresh token is kept, else
        ``<cstoken>`` when the salt and the recipient's LID are known (whatsmeow)."""
        if not wants_token(to):
            return None
        held = await self.tokens.get(str(await self.storage_jid(to)))
        if held is None or held.token is None or held.timestamp < cutoff(self.clock()):
            return await self.cs_token_node(to)
        return Node("tctoken", {}, held.token)

    # ------------------------------------------------------------------ cstoken

    def salt(self) -> bytes | None:
        """The account's NCT salt, when the phone has shared it."""
        raw = self.core.auth.creds.account_settings.get(NCT_SALT_SETTING)
        if not isinstance(raw, str) or not raw:
            return None
        try:
            return base64.b64decode(raw, validate=True) or None
        except (binascii.Error, ValueError):
            return None

    def learn_salt(self, salt: bytes | None) -> None:
        """Keep a new NCT salt (history sync, app state); ``None`` removes it (the app
        state's remove). An empty salt from the history sync changes nothing."""
        current = self.salt()
        if salt == current:
            return
        settings = dict(self.core.auth.creds.account_settings)
        if salt is None:
            settings.pop(NCT_SALT_SETTING, None)
        else:
            settings[NCT_SALT_SETTING] = base64.b64encode(salt).decode()
        self.core.change_creds({"account_settings": settings})
        self.log.debug("NCT salt %s", "removed" if salt is None else "stored")

    async def cs_token_node(self, to: JID) -> Node | None:
        """``<cstoken>HMAC-SHA256(salt, recipient LID)</cstoken>`` (whatsmeow cstoken.go)."""
        salt = self.salt()
        if salt is None or not wants_token(to):
            return None
        lid = to.to_non_ad() if to.server == HIDDEN_USER_SERVER else None
        if to.server == DEFAULT_USER_SERVER:
            lid = await self.devices.lid_for(to.to_non_ad())
        if lid is None:
            return None
        digest = hmac.new(salt, str(lid.to_non_ad()).encode(), hashlib.sha256).digest()
        return Node("cstoken", {}, digest)

    async def after_send(self, to: JID) -> None:
        """A 1:1 message went out: issue our token to ``to`` once per bucket, in the
        background (see the module docstring)."""
        if not wants_token(to):
            return
        owner = await self.storage_jid(to)
        now = self.clock()
        bucket = int(now // BUCKET_SECONDS)
        if self._claimed.get(owner, -1) >= bucket:
            return
        held = await self.tokens.get(str(owner))
        if held is not None and held.sender_timestamp // BUCKET_SECONDS >= bucket:
            return
        if self._claimed.get(owner, -1) >= bucket:  # claimed while the store was read
            return
        self._claimed[owner] = bucket
        task = self.core.spawn(self._issue_claimed(owner, int(now), bucket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _issue_claimed(self, owner: JID, stamp: int, bucket: int) -> None:
        issued = False
        try:
            issued = await self.issue(owner, stamp)
        finally:
            if not issued and self._claimed.get(owner) == bucket:
                del self._claimed[owner]  # give the claim back: the next send tries again

    async def idle(self) -> None:
        """Wait for the token issues under way (tests; ``WASocket.idle``)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def issue(self, to: JID, now: int | None = None) -> bool:
        """Issue our token to ``to``; ``False`` when it failed (logged: a send never fails
        for it)."""
        stamp = int(self.clock()) if now is None else now
        target = to.to_non_ad()
        token = Node("token", {"jid": str(target), "t": str(stamp), "type": "trusted_contact"})
        try:
            await self.core.query(stanzas.iq("set", "privacy", [Node("tokens", {}, [token])]))
        except (RequestError, RequestTimeout, ConnectionClosed) as exc:
            self.log.warning("could not issue our privacy token to %s: %s", target, exc)
            return False
        await self.tokens.mark_issued(str(await self.storage_jid(target)), stamp)
        return True
