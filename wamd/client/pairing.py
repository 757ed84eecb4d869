"""Linking this device to an account: QR codes and phone-number pairing codes.

QR (whatsmeow ``pair.go`` handlePairDevice, ``qrchan.go``): the server's ``pair-device``
iq is acknowledged, and one QR string is shown per ``<ref>``, the first for
``qr_timeout[0]`` seconds and each later one for ``qr_timeout[1]``; when the refs run out
the connection closes with ``TIMED_OUT``.

``pair-success`` (whatsmeow handlePairSuccess): the ADV identity is checked with our
secret (``wamd.pairing.verify_pair_success``), the device's JID and lid are checked to be
what a server would send (a user device on ``s.whatsapp.net`` and a ``lid`` user; the
attributes are outside the HMAC, so a bad one must not reach the store), the creds are
updated, and the signed identity goes back in ``pair-device-sign``. Anything wrong is
answered with an iq error and closes the connection with the ``PairingError``.

Pairing code (whatsmeow ``pair-code.go``): ``companion_hello`` returns a ref and we show
the 8-character code; the phone's ``link_code_companion_reg`` notification completes
the exchange (``companion_finish``) and a normal ``pair-success`` follows.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.client.core import Attempt, ClientCore
from wamd.defaults import DEFAULT_BROWSER, WA_VERSION
from wamd.errors import (
    ConnectionClosed,
    DisconnectReason,
    PairingError,
    RequestError,
    WamdError,
)
from wamd.events import ConnectionUpdate
from wamd.messaging import stanzas
from wamd.noise.payload import registration_payload
from wamd.pairing import (
    PAIR_CLIENT_CHROME,
    CodePairingCompanion,
    make_qr_string,
    verify_pair_success,
)
from wamd.store.creds import AuthenticationCreds, Me

__all__ = ["Pairing", "checked_device_ids", "registration_for"]


def registration_for(
    creds: AuthenticationCreds,
    *,
    version: tuple[int, int, int] = WA_VERSION,
    browser: tuple[str, str, str] = DEFAULT_BROWSER,
) -> bytes:
    """The client payload of a device that is not linked yet (the server sends QR refs)."""
    spk = creds.signed_pre_key
    return registration_payload(
        creds.registration_id,
        creds.signed_identity_key.public,
        spk.key_id,
        spk.key_pair.public,
        spk.signature,
        version=version,
        browser=browser,
    )


def checked_device_ids(jid: str, lid: str | None) -> tuple[str, str | None]:
    """The device JID and lid of a ``pair-success``, refused when they are not what a
    server sends (``PairingError``): both are stored and every later login uses them."""
    try:
        device = JID.parse(jid)
        parsed_lid = JID.parse(lid) if lid else None
    except InvalidJID as exc:
        raise PairingError(f"pair-success names a malformed device: {exc}", code=400) from None
    if device.server != DEFAULT_USER_SERVER or not device.user.isdigit() or device.device == 0:
        raise PairingError(f"pair-success names {device}, not a companion device", code=400)
    if parsed_lid is not None and (
        parsed_lid.server != HIDDEN_USER_SERVER or not parsed_lid.user.isdigit()
    ):
        raise PairingError(f"pair-success names {parsed_lid} as the lid", code=400)
    return str(device), str(parsed_lid) if parsed_lid is not None else None


class Pairing:
    def __init__(self, core: ClientCore) -> None:
        self.core = core
        self._code: tuple[CodePairingCompanion, str, bytes] | None = None
        self._registered = asyncio.Event()  # the server sent pair-device: a code may be asked
        self._qr_task: asyncio.Task[Any] | None = None

    def attempt_started(self) -> None:
        self._registered.clear()  # (cleared, not replaced: a caller may be waiting on it)

    # ------------------------------------------------------------------ QR

    async def on_pair_device(self, attempt: Attempt, iq: Node, child: Node) -> None:
        self._registered.set()
        await self.core.send_node(stanzas.iq_result(iq))
        refs = [(ref.content_bytes() or b"").decode() for ref in child.get_children("ref")]
        self.stop_qr()
        self._qr_task = self.core.spawn(self._show_qrs(attempt, refs), attempt)

    async def _show_qrs(self, attempt: Attempt, refs: list[str]) -> None:
        creds = self.core.auth.creds
        first, later = self.core.options.qr_timeout
        for n, ref in enumerate(refs):
            qr = make_qr_string(
                ref,
                creds.noise_key.public,
                creds.signed_identity_key.public,
                creds.adv_secret_key,
                PAIR_CLIENT_CHROME,
            )
            if self.core.options.print_qr_in_terminal:
                self._print_qr(qr)
            self.core.ev.emit("connection.update", ConnectionUpdate(qr=qr))
            await asyncio.sleep(first if n == 0 else later)
        error = ConnectionClosed(DisconnectReason.TIMED_OUT, "QR refs ended")
        attempt.decide_close(DisconnectReason.TIMED_OUT, error)
        if attempt.conn is not None:
            await attempt.conn.close(DisconnectReason.TIMED_OUT, "QR refs ended")

    def _print_qr(self, qr: str) -> None:
        output = self.core.options.qr_output or print
        try:
            import qrcode

            code = qrcode.QRCode(border=1)
            code.add_data(qr)
            buffer = io.StringIO()
            code.print_ascii(out=buffer, invert=True)
            output(buffer.getvalue())
        except Exception:  # a terminal QR is a convenience: never fail the pairing on it
            self.core.log.exception("could not render the QR code")

    def stop_qr(self) -> None:
        if self._qr_task is not None:
            self._qr_task.cancel()
            self._qr_task = None

    # ------------------------------------------------------------------ pair-success

    async def on_pair_success(self, attempt: Attempt, iq: Node, node: Node) -> None:
        self.stop_qr()
        creds = self.core.auth.creds
        identity_node = node.get_child("device-identity")
        device = node.get_child("device")
        try:
            if identity_node is None or device is None or "jid" not in device.attrs:
                raise PairingError("pair-success lacks device-identity or device", code=500)
            jid, lid = checked_device_ids(device.attrs["jid"], device.attrs.get("lid"))
            result = verify_pair_success(
                identity_node.content_bytes() or b"",
                creds.adv_secret_key,
                creds.signed_identity_key,
            )
        except PairingError as exc:
            self.core.log.warning("refusing pair-success: %s", exc)
            await self.core.send_quietly(stanzas.iq_error(iq, exc.code, exc.text))
            attempt.decide_close(DisconnectReason.BAD_SESSION, exc)
            if attempt.conn is not None:
                await attempt.conn.close(DisconnectReason.BAD_SESSION, f"pairing refused: {exc}")
            return
        platform = node.get_child("platform")
        changes: dict[str, Any] = {
            "me": Me(jid, lid, None),
            "account": result.account,
            "platform": platform.attrs.get("name") if platform is not None else None,
            "registered": True,
        }
        if lid:
            primary = str(JID.parse(lid).with_device(0))
            changes["signal_identities"] = [
                *creds.signal_identities,
                {"identifier": primary, "identifierKey": b"\x05" + result.account_signature_key},
            ]
        self.core.change_creds(changes)
        attempt.new_login = True
        await self.core.send_node(
            stanzas.iq_result(
                iq,
                [
                    Node(
                        "pair-device-sign",
                        {},
                        [
                            Node(
                                "device-identity",
                                {"key-index": str(result.key_index)},
                                result.reply_identity,
                            )
                        ],
                    )
                ],
            )
        )

    # ------------------------------------------------------------------ pairing code

    async def request_code(self, phone_number: str, show_push_notification: bool) -> str:
        digits = "".join(ch for ch in phone_number if ch.isdigit())
        if len(digits) <= 6:
            raise ValueError("phone number is too short: give it in international form")
        if digits.startswith("0"):
            raise ValueError(
                "phone number must be international (country code first, no leading 0)"
            )
        if self.core.auth.creds.me is not None:
            raise PairingError("this device is already paired")
        await asyncio.wait_for(self._registered.wait(), self.core.options.connect_timeout)
        companion = CodePairingCompanion.start()
        os_name, browser_name, _ = self.core.options.browser
        jid = f"{digits}@{DEFAULT_USER_SERVER}"
        hello = Node(
            "link_code_companion_reg",
            {
                "jid": jid,
                "stage": "companion_hello",
                "should_show_push_notification": "true" if show_push_notification else "false",
            },
            [
                Node(
                    "link_code_pairing_wrapped_companion_ephemeral_pub",
                    {},
                    companion.wrapped_ephemeral,
                ),
                Node("companion_server_auth_key_pub", {}, self.core.auth.creds.noise_key.public),
                Node("companion_platform_id", {}, PAIR_CLIENT_CHROME),
                Node("companion_platform_display", {}, f"{browser_name} ({os_name})"),
                Node("link_code_pairing_nonce", {}, b"\x00"),
            ],
        )
        answer = await self.core.query(stanzas.iq("set", "md", [hello]))
        reg = answer.get_child("link_code_companion_reg")
        ref_node = reg.get_child("link_code_pairing_ref") if reg is not None else None
        ref = ref_node.content_bytes() if ref_node is not None else None
        if not ref:
            raise PairingError("the server did not return a pairing reference")
        self._code = (companion, jid, ref)
        self.core.change_creds({"pairing_code": companion.code})
        return companion.code

    async def on_code_notification(self, node: Node) -> None:
        reg = node.get_child("link_code_companion_reg")
        if reg is None or self._code is None:
            self.core.log.warning("pairing-code notification without a pending request")
            return
        companion, jid, ref = self._code
        got_ref = reg.get_child("link_code_pairing_ref")
        wrapped = reg.get_child("link_code_pairing_wrapped_primary_ephemeral_pub")
        primary = reg.get_child("primary_identity_pub")
        if got_ref is None or got_ref.content_bytes() != ref or wrapped is None or primary is None:
            self.core.log.warning("pairing-code notification does not match our request")
            return
        creds = self.core.auth.creds
        try:
            bundle, adv_secret = companion.finish(
                wrapped.content_bytes() or b"",
                primary.content_bytes() or b"",
                creds.signed_identity_key,
            )
        except PairingError as exc:  # the phone wrapped its key with another code
            self._rejected(f"the phone's answer does not decode with this code ({exc})")
            return
        # pair-success is authenticated with this secret
        self.core.change_creds({"adv_secret_key": adv_secret})
        finish = Node(
            "link_code_companion_reg",
            {"jid": jid, "stage": "companion_finish"},
            [
                Node("link_code_pairing_wrapped_key_bundle", {}, bundle),
                Node("companion_identity_public", {}, creds.signed_identity_key.public),
                Node("link_code_pairing_ref", {}, ref),
            ],
        )
        try:
            await self.core.query(stanzas.iq("set", "md", [finish]))
        except RequestError as exc:
            # the phone could not open our key bundle: the code typed there is not ours.
            # The request stays (whatsmeow keeps its pairing cache too): the phone may
            # type the code again, or the application asks for a new one.
            self._rejected(f"the phone refused the code ({exc.code} {exc.text})")
            return
        except WamdError:
            return  # the connection went away: its close says why
        self._code = None

    def _rejected(self, why: str) -> None:
        self.core.log.warning("pairing code rejected: %s", why)
        self.core.ev.emit(
            "connection.update",
            ConnectionUpdate(pairing_code_rejected=PairingError(f"pairing code rejected: {why}")),
        )
