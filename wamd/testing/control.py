"""``ControlClient``: drive a running ``wamd sim`` through its control interface from Python.

For a sim in another process (``wamd sim --control-port N`` prints ``control:`` and
``token:``); in the same process ``SimPhone`` does the same directly::

    async with ControlClient("http://127.0.0.1:8766/", token) as sim:
        await sim.add_phone("15550003333", "Carol")
        await sim.scan("15550001111", qr_text)  # link the bot
        sent = await sim.send("15550003333", "15550001111", "hello")
        reply = await sim.next_message("15550003333", timeout=10)

Each method is one route (``docs/sim.md``) and returns its JSON answer; a refusal raises
``ControlError`` with the status and the interface's message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from wamd.errors import ControlError

__all__ = ["ControlClient"]

Json = dict[str, Any]


class ControlClient:
    """A client of the sim's control interface (``url`` as printed, with its ``token``)."""

    def __init__(self, url: str, token: str, *, timeout: float = 90.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the token is a credential
        return f"ControlClient({self.url!r})"

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        *,
        params: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> Any:
        """One request: the JSON answer (bytes for a media route); ``ControlError`` else."""
        options: dict[str, Any] = {"params": params}
        if data is not None:
            options["data"] = data
            options["headers"] = {"Content-Type": "application/octet-stream"}
        elif body is not None:
            options["json"] = body
        try:
            async with self._http().request(method, self.url + path, **options) as response:
                if response.content_type != "application/json":
                    if response.status >= 400:
                        raise ControlError(response.status, await response.text())
                    return await response.read()
                payload = await response.json()
                if response.status >= 400:
                    raise ControlError(response.status, str(payload.get("error", payload)))
                return payload
        except aiohttp.ClientError as exc:
            raise ControlError(0, f"cannot reach the sim's control interface: {exc}") from None

    # ------------------------------------------------------------------ accounts

    async def info(self) -> Json:
        result: Json = await self.request("GET", "/")
        return result

    async def phones(self) -> list[Json]:
        return list((await self.request("GET", "/phones"))["phones"])

    async def phone(self, number: str) -> Json:
        result: Json = await self.request("GET", f"/phones/{number}")
        return result

    async def add_phone(
        self, number: str, name: str | None = None, *, business: bool = False
    ) -> Json:
        body: Json = {"number": number, "business": business}
        if name is not None:
            body["name"] = name
        result: Json = await self.request("POST", "/phones", body)
        return result

    async def scan(self, number: str, qr: str) -> Json:
        """``number``'s phone scans the QR text a companion printed: it is linked."""
        result: Json = await self.request("POST", f"/phones/{number}/scan", {"qr": qr})
        return result

    async def link_with_code(self, number: str, code: str) -> Json:
        result: Json = await self.request("POST", f"/phones/{number}/code", {"code": code})
        return result

    async def unlink(self, number: str, device: str | int) -> Json:
        result: Json = await self.request("POST", f"/phones/{number}/unlink", {"device": device})
        return result

    async def offline(self, number: str) -> Json:
        result: Json = await self.request("POST", f"/phones/{number}/offline")
        return result

    async def online(self, number: str) -> Json:
        result: Json = await self.request("POST", f"/phones/{number}/online")
        return result

    async def set_clock(self, offset: float) -> Json:
        """Move the sim's clock ``offset`` seconds from real time (15 days: expiry)."""
        result: Json = await self.request("POST", "/clock", {"offset": offset})
        return result

    # ------------------------------------------------------------------ messaging

    async def send(
        self,
        number: str,
        to: str,
        text: str,
        *,
        quoted: str | None = None,
        mentions: Sequence[str] = (),
    ) -> Json:
        body: Json = {"to": to, "text": text}
        if quoted is not None:
            body["quoted"] = quoted
        if mentions:
            body["mentions"] = list(mentions)
        result: Json = await self.request("POST", f"/phones/{number}/send", body)
        return result

    async def send_media(
        self,
        number: str,
        to: str,
        data: bytes | str | Path,
        kind: str = "document",
        *,
        caption: str | None = None,
        file_name: str | None = None,
        mimetype: str | None = None,
        ptt: bool = False,
        seconds: int | None = None,
    ) -> Json:
        """Send a file (bytes or a path) as ``kind``: image, video, audio, document, sticker."""
        if isinstance(data, str | Path):
            path = Path(data)
            file_name = file_name or path.name
            data = await asyncio.to_thread(path.read_bytes)
        params = {"to": to, "kind": kind}
        for name, value in (("caption", caption), ("file_name", file_name), ("mimetype", mimetype)):
            if value is not None:
                params[name] = value
        if ptt:
            params["ptt"] = "1"
        if seconds is not None:
            params["seconds"] = str(seconds)
        result: Json = await self.request(
            "POST", f"/phones/{number}/send-media", params=params, data=data
        )
        return result

    async def media(self, number: str, message_id: str) -> bytes:
        """The decrypted bytes of a media message the phone received or sent."""
        result: bytes = await self.request("GET", f"/phones/{number}/media/{message_id}")
        return result

    async def react(self, number: str, message_id: str, emoji: str) -> Json:
        body = {"id": message_id, "emoji": emoji}
        result: Json = await self.request("POST", f"/phones/{number}/react", body)
        return result

    async def read(self, number: str, message_id: str) -> Json:
        result: Json = await self.request("POST", f"/phones/{number}/read", {"id": message_id})
        return result

    async def typing(self, number: str, to: str, state: str = "composing") -> Json:
        body = {"to": to, "state": state}
        result: Json = await self.request("POST", f"/phones/{number}/typing", body)
        return result

    async def edit(self, number: str, message_id: str, text: str) -> Json:
        body = {"id": message_id, "text": text}
        result: Json = await self.request("POST", f"/phones/{number}/edit", body)
        return result

    async def revoke(self, number: str, message_id: str) -> Json:
        result: Json = await self.request("POST", f"/phones/{number}/revoke", {"id": message_id})
        return result

    async def poll(
        self, number: str, to: str, name: str, options: Sequence[str], selectable: int = 1
    ) -> Json:
        body = {"to": to, "name": name, "options": list(options), "selectable": selectable}
        result: Json = await self.request("POST", f"/phones/{number}/poll", body)
        return result

    async def vote(self, number: str, poll_id: str, options: Sequence[str]) -> Json:
        body = {"id": poll_id, "options": list(options)}
        result: Json = await self.request("POST", f"/phones/{number}/vote", body)
        return result

    async def chat_action(self, number: str, chat: str, action: str) -> Json:
        """archive, unarchive, pin, unpin, mute, unmute, mark-read, mark-unread, clear, delete."""
        body = {"chat": chat, "action": action}
        result: Json = await self.request("POST", f"/phones/{number}/chat", body)
        return result

    async def messages(self, number: str, after: int = 0) -> list[Json]:
        answer = await self.request(
            "GET", f"/phones/{number}/messages", params={"after": str(after)}
        )
        return list(answer["messages"])

    async def next_message(self, number: str, timeout: float = 10.0) -> Json:
        """The next message the phone receives (``ControlError`` 408 when none comes)."""
        result: Json = await self.request(
            "GET", f"/phones/{number}/messages/next", params={"timeout": f"{timeout:g}"}
        )
        return result

    async def history(self, number: str, after: int = 0) -> list[Json]:
        answer = await self.request(
            "GET", f"/phones/{number}/history", params={"after": str(after)}
        )
        return list(answer["messages"])

    # ------------------------------------------------------------------ groups

    async def groups(self) -> list[Json]:
        return list((await self.request("GET", "/groups"))["groups"])

    async def create_group(self, number: str, subject: str, members: Sequence[str]) -> Json:
        body = {"subject": subject, "members": list(members)}
        result: Json = await self.request("POST", f"/phones/{number}/groups", body)
        return result

    async def group_members(
        self, number: str, group: str, action: str, members: Sequence[str]
    ) -> Json:
        """``action``: add, remove, promote or demote."""
        path = f"/phones/{number}/groups/{group.split('@')[0]}/{action}"
        result: Json = await self.request("POST", path, {"members": list(members)})
        return result

    async def set_subject(self, number: str, group: str, subject: str) -> Json:
        path = f"/phones/{number}/groups/{group.split('@')[0]}/subject"
        result: Json = await self.request("POST", path, {"subject": subject})
        return result

    # ------------------------------------------------------------------ faults

    async def faults(self) -> Json:
        result: Json = await self.request("GET", "/faults")
        return result

    async def add_fault(self, kind: str, **rule: Any) -> Json:
        """A fault rule (``docs/sim.md``): ``add_fault("drop", tags=["receipt"], count=2)``."""
        result: Json = await self.request("POST", "/faults", {"kind": kind, **rule})
        return result

    async def clear_faults(self) -> Json:
        result: Json = await self.request("POST", "/faults/clear")
        return result

    async def disconnect(self, device: str) -> Json:
        result: Json = await self.request("POST", "/faults/disconnect", {"device": device})
        return result

    async def stream_error(self, device: str, code: int = 515) -> Json:
        body = {"device": device, "code": code}
        result: Json = await self.request("POST", "/faults/stream-error", body)
        return result

    async def refuse_logins(
        self, count: int | None = None, seconds: float | None = None, reason: int = 503
    ) -> Json:
        body: Json = {"reason": reason}
        if count is not None:
            body["count"] = count
        if seconds is not None:
            body["seconds"] = seconds
        result: Json = await self.request("POST", "/faults/refuse-logins", body)
        return result
