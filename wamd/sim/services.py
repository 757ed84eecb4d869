"""The sim's answers to usync, prekey-bundle and account queries (groups: ``groups.py``).

Shapes as the public clients send and read them:

- usync (whatsmeow ``user.go`` usync/parseDeviceList, Baileys ``USyncQuery``):
  ``<iq xmlns="usync" type="get"><usync sid mode context last index><query>PROTOCOLS</query>
  <list><user jid=J/>|<user><contact>+N</contact></user>...</list></usync></iq>``. The
  answer echoes ``<usync>`` with ``<result/>`` and ``<list>`` holding one ``<user jid>``
  per queried user, with a child per protocol: ``<devices><device-list><device id
  [key-index]/>..</device-list><key-index-list ts>signed</key-index-list></devices>``,
  ``<lid val=L@lid/>``, ``<contact type="in"|"out">query</contact>``, ``<status t>text</status>``.
- Prekey bundles (whatsmeow ``prekeys.go`` fetchPreKeys): ``<key><user jid=DEVICE
  reason="identity"/>..</key>`` answered by ``<list><user jid><registration/><type/>
  <identity/><skey/>[<key/>]</user>..</list>``; each one-time prekey is handed out once;
  a device the server does not know gets ``<error code="404" text="item-not-found"/>``.
- Account queries after login (props, A/B props, blocklist, privacy, app state,
  media_conn, privacy tokens): see each function.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.crypto import DJB_TYPE
from wamd.messaging import stanzas
from wamd.proto import adv_pb2, vname_cert_pb2

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router
    from wamd.sim.state import SimDevice, SimState

__all__ = [
    "answer_account",
    "answer_keys",
    "answer_media_conn",
    "answer_privacy_tokens",
    "answer_usync",
    "bundle_node",
    "carries_token",
    "issue_privacy_token",
    "key_index_list",
]

SERVER = DEFAULT_USER_SERVER
KEY_INDEX_LIST_PREFIX = b"\x06\x02"  # signature prefix of an ADV key-index list (WhatsApp Web)


def _error(request: Node, code: int, text: str) -> Node:
    return stanzas.iq_error(request, code, text, as_server=True)


def _result(request: Node, children: list[Node] | None = None) -> Node:
    return stanzas.iq_result(request, children, as_server=True)


# ---------------------------------------------------------------------- usync


def key_index_list(state: SimState, phone: SimPhone) -> Node:
    """The account-signed list of valid key indexes (ADVSignedKeyIndexList)."""
    details = adv_pb2.ADVKeyIndexList(
        rawID=int(phone.number) & 0xFFFFFFFF,
        timestamp=state.now(),
        currentIndex=phone.key_index,
        validIndexes=[d.key_index for d in phone.devices() if d.key_index],
    ).SerializeToString()
    signature = phone.account_key.sign(KEY_INDEX_LIST_PREFIX + details)
    signed = adv_pb2.ADVSignedKeyIndexList(details=details, accountSignature=signature)
    return Node("key-index-list", {"ts": str(state.now())}, signed.SerializeToString())


def answer_usync(state: SimState, node: Node) -> Node:
    usync = node.get_child("usync")
    query = usync.get_child("query") if usync is not None else None
    users = usync.get_child("list") if usync is not None else None
    if usync is None or query is None or users is None:
        return _error(node, 400, "bad-request")
    protocols = {child.tag: child for child in query.get_children()}
    out: list[Node] = []
    for user in users.get_children("user"):
        contact = user.get_child("contact")
        phone: SimPhone | None = None
        query_text = ""
        asked: JID | None = None
        if "jid" in user.attrs:
            try:
                asked = JID.parse(user.attrs["jid"]).to_non_ad()
            except InvalidJID:
                return _error(node, 400, "bad-request")
            phone = state.account_of(asked)
        elif contact is not None:
            raw = contact.content
            query_text = raw.decode() if isinstance(raw, bytes) else str(raw or "")
            number = query_text.split("@")[0].lstrip("+").replace(" ", "")
            phone = state.phones.get(number)
            asked = JID(number, SERVER) if number.isdigit() else None
        if asked is None:
            continue
        lid_mode = protocols.get("contact") is not None and (
            protocols["contact"].attrs.get("addressing_mode") == "lid"
        )
        attrs = {"jid": str(asked)}
        if phone is not None and lid_mode and contact is not None:
            attrs = {"jid": str(phone.lid), "pn_jid": str(phone.jid)}
        children: list[Node] = []
        if "devices" in protocols:
            devices: list[Node] = []
            if phone is not None:
                for device in phone.devices():
                    device_attrs = {"id": str(device.jid.device)}
                    if device.key_index:
                        device_attrs["key-index"] = str(device.key_index)
                    devices.append(Node("device", device_attrs))
            content = [Node("device-list", {}, devices)]
            if phone is not None:
                content.append(key_index_list(state, phone))
            children.append(Node("devices", {}, content))
        if "lid" in protocols and phone is not None:
            children.append(Node("lid", {"val": str(phone.lid)}))
        if "contact" in protocols:
            kind = "in" if phone is not None else "out"
            children.append(Node("contact", {"type": kind}, query_text or None))
        if "business" in protocols and phone is not None and phone.business:
            children.append(Node("business", {}, [verified_name_node(state, phone)]))
        if "disappearing_mode" in protocols and phone is not None:
            children.append(
                Node("disappearing_mode", {"duration": str(phone.disappearing), "t": "0"})
            )
        if "status" in protocols and phone is not None:
            children.append(
                Node("status", {"t": str(phone.status_time)}, phone.status.encode() or None)
            )
        out.append(Node("user", attrs, children))
    answer = Node("usync", dict(usync.attrs), [Node("result"), Node("list", {}, out)])
    return _result(node, [answer])


def verified_name_node(state: SimState, phone: SimPhone) -> Node:
    """A business account's ``<verified_name>``: a ``VerifiedNameCertificate`` naming it
    (whatsmeow user.go parseVerifiedNameContent reads the details' ``verifiedName`` and
    the ``verified_level`` and ``v`` attributes)."""
    details = vname_cert_pb2.VerifiedNameCertificate.Details(
        serial=state.rng.getrandbits(63), issuer="smb:wa", verifiedName=phone.name
    ).SerializeToString()
    cert = vname_cert_pb2.VerifiedNameCertificate(
        details=details, signature=state.rng.randbytes(64)
    ).SerializeToString()
    return Node("verified_name", {"verified_level": "unknown", "v": "1"}, cert)


# ---------------------------------------------------------------------- prekey bundles


def bundle_node(device: SimDevice, jid: str) -> Node:
    """A device's prekey bundle as a fetch answers it (uses up one one-time prekey; the
    caller tells ``Router.prekey_taken`` so that a companion running low is warned)."""
    children = [
        Node("registration", {}, device.registration_id.to_bytes(4, "big")),
        Node("type", {}, bytes((DJB_TYPE,))),
        Node("identity", {}, device.identity),
        Node(
            "skey",
            {},
            [
                Node("id", {}, device.signed_prekey_id.to_bytes(3, "big")),
                Node("value", {}, device.signed_prekey),
                Node("signature", {}, device.signed_prekey_signature),
            ],
        ),
    ]
    if device.prekeys:
        key_id = min(device.prekeys)
        value = device.prekeys.pop(key_id)  # a one-time prekey is handed out once
        children.append(
            Node("key", {}, [Node("id", {}, key_id.to_bytes(3, "big")), Node("value", {}, value)])
        )
    return Node("user", {"jid": jid}, children)


async def answer_keys(state: SimState, router: Router, node: Node) -> Node:
    key = node.get_child("key")
    if key is None:
        return _error(node, 400, "bad-request")
    out = []
    for user in key.get_children("user"):
        jid_text = user.attrs.get("jid", "")
        try:
            device = state.device_of(JID.parse(jid_text))
        except InvalidJID:
            device = None
        if device is None:
            error = Node("error", {"code": "404", "text": "item-not-found"})
            out.append(Node("user", {"jid": jid_text}, [error]))
        else:
            if device.phone.endpoint is not None and device is device.phone.primary:
                await device.phone.endpoint.refill_prekeys()
            bundle = bundle_node(device, jid_text)
            if bundle.get_child("key") is not None:
                router.prekey_taken(device)
            out.append(bundle)
    return _result(node, [Node("list", {}, out)])


# ---------------------------------------------------------------------- account queries

PROPS_HASH = "sim1"  # the version of the (empty) server property set
AB_PROPS_HASH = "simab1"  # the version of the (empty) A/B experiment set
MEDIA_CONN_TTL = 300  # seconds a media_conn answer may be cached (whatsmeow, Baileys: ttl)
MEDIA_AUTH_TTL = 21600  # seconds the upload auth token is valid
MEDIA_MAX_BUCKETS = 12
PRIVACY_TOKEN_SIZE = 24  # bytes of a trusted-contact token (opaque to clients)


def answer_account(node: Node) -> Node | None:
    """Props, blocklist and privacy queries, which clients send after login (app-state
    queries: ``wamd.sim.appstate``).

    - ``<iq xmlns="w" type="get"><props protocol="2" hash/></iq>`` (Baileys fetchProps):
      ``<props protocol="2" hash=H>`` with ``<prop name value/>`` children (none here);
    (the blocklist and privacy settings are the account's: ``profile.py``)
    - ``<iq xmlns="abt" type="get"><props protocol="1" [hash]/></iq>`` (Baileys
      fetchAbProps): ``<props protocol="1" hash=H>`` with no ``<prop/>`` (no experiments).


    ``None`` for anything else (the caller answers 501).
    """
    xmlns = node.attrs.get("xmlns")
    if node.attrs.get("type") != "get":
        return None
    if xmlns == "w" and node.get_child("props") is not None:
        return _result(node, [Node("props", {"protocol": "2", "hash": PROPS_HASH})])
    if xmlns == "abt" and node.get_child("props") is not None:
        # the A/B experiment props (Baileys fetchAbProps, every login): the same answer
        # shape, protocol 1, no experiments set
        return _result(node, [Node("props", {"protocol": "1", "hash": AB_PROPS_HASH})])
    return None


def answer_media_conn(state: SimState, node: Node) -> Node | None:
    """``<iq xmlns="w:m" type="set"><media_conn/></iq>``: where to upload and download.

    whatsmeow mediaconn.go queryMediaConn reads ``auth``, ``ttl``, ``auth_ttl``,
    ``max_buckets`` and one ``<host hostname/>`` per host; Baileys refreshMediaConn reads
    ``auth``, ``ttl`` and the hosts (``hostname``, ``maxContentLengthBytes``). The host
    is the sim's media host on loopback (``wamd/sim/media.py``), ``127.0.0.1:PORT``: both
    references put the hostname straight into ``https://<hostname>/...``.
    """
    if node.attrs.get("type") != "set" or node.get_child("media_conn") is None:
        return None
    attrs = {
        "auth": state.media_auth,
        "ttl": str(MEDIA_CONN_TTL),
        "auth_ttl": str(MEDIA_AUTH_TTL),
        "max_buckets": str(MEDIA_MAX_BUCKETS),
    }
    hosts = [
        Node("host", {"hostname": name, "maxContentLengthBytes": str(100 << 20)})
        for name in state.media_hosts or [state.host]
    ]
    return _result(node, [Node("media_conn", attrs, hosts)])


async def answer_privacy_tokens(
    state: SimState, router: Router, device: SimDevice, node: Node
) -> Node | None:
    """``<iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/>..``.

    A client issues its trusted-contact token to the peers it writes to (whatsmeow
    tctoken.go issuePrivacyToken, Baileys getPrivacyTokens). The server answers with an
    empty result and hands each named user a token from the issuer:
    ``<notification type="privacy_token" from=ISSUER sender_lid=ISSUER_LID><tokens><token
    type="trusted_contact" t>TOKEN</token></tokens>`` (whatsmeow notification.go
    handlePrivacyTokenNotification reads exactly these). With ``require_tctoken`` the
    router checks them on companions' 1:1 messages.
    """
    tokens = node.get_child("tokens")
    if node.attrs.get("type") != "set" or tokens is None:
        return None
    issued: list[tuple[SimPhone, str]] = []
    for token in tokens.get_children("token"):
        try:
            jid = JID.parse(token.attrs.get("jid", ""))
        except InvalidJID:
            return _error(node, 400, "bad-request")
        if jid.server not in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
            return _error(node, 400, "bad-request")
        if token.attrs.get("type", "trusted_contact") != "trusted_contact":
            return _error(node, 400, "bad-request")
        target = state.account_of(jid)
        if target is not None and target is not device.phone:
            issued.append((target, token.attrs.get("t") or str(state.now())))
    for target, stamp in issued:
        await issue_privacy_token(state, router, device.phone, target, stamp)
    return _result(node)


async def issue_privacy_token(
    state: SimState, router: Router, issuer: SimPhone, target: SimPhone, stamp: str
) -> None:
    """``issuer``'s trusted-contact token for ``target``: kept (a 1:1 message from
    ``target`` to ``issuer`` may carry it) and delivered to every device of ``target``."""
    value = state.rng.randbytes(PRIVACY_TOKEN_SIZE)
    state.tc_tokens[(issuer.number, target.number)] = (value, int(stamp) if stamp.isdigit() else 0)
    child = Node("token", {"type": "trusted_contact", "t": stamp}, value)
    stanza = state.notification(
        str(issuer.jid), "privacy_token", [Node("tokens", {}, [child])], sender_lid=str(issuer.lid)
    )
    for target_device in target.devices():
        await router.deliver(target_device, stanza)


def nct_salt(state: SimState, phone: SimPhone) -> bytes:
    """An account's NCT salt: what its phone puts in the history sync (``nctSalt``) and
    its companions key their ``<cstoken>`` with (fixed per account and sim)."""
    return hmac.new(state.media_auth.encode(), b"nct:" + phone.number.encode(), "sha256").digest()


def carries_token(state: SimState, sender: SimPhone, recipient: SimPhone, node: Node) -> bool:
    """Does a 1:1 message from ``sender`` carry ``recipient``'s token for it, or, without
    one, a ``<cstoken>`` (whatsmeow cstoken.go: HMAC-SHA256 of the recipient's LID JID
    keyed with the sender account's NCT salt)? How WhatsApp checks a cstoken is not
    public; the sim, which knows every account's salt, recomputes it."""
    held = state.tc_tokens.get((recipient.number, sender.number))
    token = node.get_child("tctoken")
    if held is not None and token is not None and token.content_bytes() == held[0]:
        return True
    cs = node.get_child("cstoken")
    expected = hmac.new(nct_salt(state, sender), str(recipient.lid).encode(), "sha256").digest()
    return cs is not None and hmac.compare_digest(cs.content_bytes() or b"", expected)
