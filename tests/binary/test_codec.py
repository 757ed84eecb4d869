"""Round trips, normalisations, and the failure paths of the decoder."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wamd.binary import DecodeError, Node, clear_caches, decode_node, encode_node
from wamd.binary.tokens import DICTIONARIES

TOKENS = [t for t in DICTIONARIES[3].single if t] + list(DICTIONARIES[3].double[0][:50])

text = st.one_of(
    st.sampled_from(TOKENS),
    st.text(alphabet="0123456789-.", min_size=1, max_size=140),
    st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=140),
    st.text(min_size=1, max_size=40).filter(lambda s: "@" not in s),
    st.builds(
        lambda u, d, s: f"{u}:{d}@{s}" if d else f"{u}@{s}",
        st.text(alphabet="0123456789", min_size=1, max_size=20),
        st.integers(0, 255),
        st.sampled_from(["s.whatsapp.net", "lid"]),
    ),
    st.builds(lambda u: f"{u}@g.us", st.text(alphabet="0123456789-", min_size=1, max_size=30)),
)


def nodes(depth: int = 0) -> st.SearchStrategy[Node]:
    content: st.SearchStrategy[object] = st.one_of(st.none(), st.binary(max_size=300), text)
    if depth < 3:
        content = st.one_of(
            content, st.lists(st.deferred(lambda: nodes(depth + 1)), min_size=1, max_size=4)
        )
    return st.builds(Node, text, st.dictionaries(text, text, max_size=5), content)


def same(decoded: Node, original: Node) -> bool:
    """Equal, except that string content written raw comes back as bytes (as in whatsmeow)."""
    if (decoded.tag, decoded.attrs) != (original.tag, original.attrs):
        return False
    if isinstance(original.content, str):
        return decoded.content_bytes() == original.content.encode()
    if isinstance(original.content, list):
        return isinstance(decoded.content, list) and all(
            same(a, b) for a, b in zip(decoded.content, original.content, strict=True)
        )
    return decoded.content == original.content


@settings(max_examples=300, deadline=None)
@given(nodes(), st.sampled_from([2, 3]))
def test_round_trip(node: Node, version: int) -> None:
    assert same(decode_node(encode_node(node, dict_version=version), dict_version=version), node)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        decode_node(data)
    except DecodeError:
        pass


@settings(max_examples=500, deadline=None)
@given(nodes(), st.data())
def test_mutated_frames_raise_only_decode_error(node: Node, data: st.DataObject) -> None:
    raw = bytearray(encode_node(node))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        decode_node(bytes(raw[:cut]))
    except DecodeError:
        pass


def test_empty_attributes_are_left_out_and_device_zero_normalised() -> None:
    raw = encode_node(Node("iq", {"id": "", "to": "123:0@s.whatsapp.net"}))
    assert decode_node(raw) == Node("iq", {"to": "123@s.whatsapp.net"})


@pytest.mark.parametrize("version", [2, 3])
def test_an_empty_attribute_value_written_as_byte_zero_decodes_as_empty(version: int) -> None:
    # Baileys writes "" as token 0, the LIST_EMPTY byte: <props protocol="2" hash="">
    short = encode_node(Node("props", {"protocol": "2"}), dict_version=version)
    long = encode_node(Node("props", {"protocol": "2", "hash": "hash"}), dict_version=version)
    pair = long[len(short) :]  # "hash" as the key, then "hash" as the value
    key = pair[: len(pair) // 2]
    assert short[1:3] == bytes([0xF8, 0x03])
    raw = short[:2] + b"\x05" + short[3:] + key + b"\x00"
    assert decode_node(raw, dict_version=version) == Node("props", {"protocol": "2", "hash": ""})
    with pytest.raises(DecodeError, match="missing string"):  # never as a tag or a key
        decode_node(short[:2] + b"\x03\x00" + short[4:], dict_version=version)


def test_empty_child_list_decodes_as_no_content() -> None:
    raw = encode_node(Node("list", {}, []))
    assert raw == bytes([0, 0xF8, 0x02]) + encode_node(Node("list"))[3:] + b"\x00"
    assert decode_node(raw).content is None


def test_dictionary_versions_differ() -> None:
    node = Node("message", {"type": "text"})
    v2, v3 = encode_node(node, dict_version=2), encode_node(node, dict_version=3)
    assert v2 != v3
    assert decode_node(v2, dict_version=2) == node == decode_node(v3, dict_version=3)
    with pytest.raises(ValueError):
        encode_node(node, dict_version=4)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty payload"),
        (b"\x00", "unexpected end"),
        (b"\x00\xf8", "unexpected end"),
        (b"\x00\xf8\x05\x19", "longer than the data"),
        (b"\x00\xf8\x01\xfc\x10ab", "runs past the end"),
        (b"\x00\xf8\x01\xfe\xff\xff\xff\xffab", "runs past the end"),
        (b"\x00\xf8\x01\xfc\x02\xff\xfe", "UTF-8"),
        (b"\x00\xf8\x01\xf8\x01\x19", "where a string was expected"),
        (b"\x00\xf8\x01\x19\x19", "trailing bytes"),
        (b"\x00\xf8\x00", "empty list"),
        (b"\x00\xf8\x01\xff\x01\xcc", "invalid character"),
        (b"\x00\xf8\x01\xfa\x00\x00", "without a server"),
        (b"\x02not zlib", "corrupt"),
    ],
)
def test_malformed_input_names_the_problem(raw: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        decode_node(raw)


def test_deep_nesting_is_refused() -> None:
    raw = b"\x00" + b"\xf8\x02\x19\xf8\x01" * 200 + b"\xf8\x01\x19"
    with pytest.raises(DecodeError, match="nested too deeply"):
        decode_node(raw)


def test_zlib_bomb_is_refused_without_inflating_it_all() -> None:
    bomb = b"\x02" + zlib.compress(b"\x00" * (40 << 20), 9)
    assert len(bomb) < 100_000
    with pytest.raises(DecodeError, match="size limit"):
        decode_node(bomb)


def test_pretty_hides_binary_content() -> None:
    text = str(Node("enc", {"type": "msg"}, b"\x01\x02secret"))
    assert "8 bytes" in text and "secret" not in text and "0102" not in text


def test_a_jid_pair_decoded_in_one_dictionary_is_not_reused_in_the_other() -> None:
    # the pair's server is a token byte: 0x13 is "g.us" in version 2, another token in 3;
    # one process (the sim) decodes both versions, so its JID cache must keep them apart
    from wamd.binary.tokens import DICTIONARIES

    raw = encode_node(Node("x", {"to": "120363012345678901@g.us"}), dict_version=2)
    server_byte = raw[-1]
    assert DICTIONARIES[2].single[server_byte] == "g.us"
    other = DICTIONARIES[3].single[server_byte]
    assert other != "g.us"

    def value(version: int) -> str:  # (the key and tag bytes are other tokens too)
        return next(iter(decode_node(raw, dict_version=version).attrs.values()))

    assert value(3) == f"120363012345678901@{other}"
    assert value(2) == "120363012345678901@g.us"
    assert value(3) == f"120363012345678901@{other}"


def token(text: str) -> bytes:
    return bytes((DICTIONARIES[3].single.index(text),))


def with_value(item: bytes) -> bytes:
    """A frame of <iq> whose one attribute's value is the wire item ``item``."""
    return b"\x00\xf8\x03" + token("iq") + token("to") + item


def ad_jid_frames() -> list[tuple[bytes, str]]:
    """Frames whose one attribute is an AD_JID (every domain byte, users packed and raw,
    devices 0, 7, 255), with the text ``JID.from_ad`` gives for it."""
    from wamd.binary.jid import JID

    users = [(b"\xff\x05\x15\x55\x12\x34\x56", "1555123456"), (b"\xfc\x02ab", "ab")]
    return [
        (with_value(bytes((0xF7, domain, device)) + wire), str(JID.from_ad(user, domain, device)))
        for domain in range(256)
        for device in (0, 7, 255)
        for wire, user in users
    ]


def test_an_ad_jid_decodes_to_what_jid_from_ad_says() -> None:
    from wamd.binary import clear_caches

    clear_caches()
    for _ in range(2):  # the second time from the JID cache
        for raw, text in ad_jid_frames():
            assert decode_node(raw).attrs == {"to": text}, raw.hex()
    with pytest.raises(DecodeError, match="missing string"):
        decode_node(with_value(b"\xf7\x00\x01\x00"))


@pytest.mark.parametrize(
    ("packed", "text"),
    [
        (b"\x05\x17\x32\x50\x01\x23", "1732500123"),
        (b"\x85\x15\x55\x12\x34\x5f", "155512345"),
        (b"\x81\x1a", "1"),  # the pad nibble is dropped whatever it is, unless invalid
        (b"\x83\x12\xab\x30", "12-.3"),
        (b"\x02\x1f\x23", "1\x0023"),  # nibble 15 inside a string: as the old decoder did
        (b"\x80", ""),
        (b"\x00", ""),
    ],
)
def test_packed_numbers(packed: bytes, text: str) -> None:
    from wamd.binary import clear_caches

    clear_caches()
    for _ in range(2):  # the second time from the cache
        assert decode_node(with_value(b"\xff" + packed)).attrs == {"to": text}
        content = decode_node(b"\x00\xf8\x02" + token("iq") + b"\xff" + packed).content
        assert content == text


@pytest.mark.parametrize("packed", [b"\x81\x1c", b"\x81\x1d", b"\x82\x12\x3e", b"\x02\xc1\x11"])
def test_invalid_nibbles_are_refused_also_as_the_pad(packed: bytes) -> None:
    with pytest.raises(DecodeError, match="invalid character in packed number at offset 5"):
        decode_node(with_value(b"\xff" + packed))


def test_node_is_still_what_the_decoder_makes_without_calling_init() -> None:
    # the decoder makes Nodes with object.__new__ and sets the three fields, as the
    # dataclass's __init__ does: a Node with more to it (a __post_init__, another field,
    # no slots) needs the decoder changed too
    import dataclasses

    assert [f.name for f in dataclasses.fields(Node)] == ["tag", "attrs", "content"]
    assert Node.__slots__ == ("tag", "attrs", "content")
    assert not hasattr(Node, "__post_init__")
    assert type(decode_node(encode_node(Node("x", {"a": "b"})))) is Node


def _string_bytes(value: str) -> bytes:
    """How ``value`` is written as a string, from cold caches and then from warm ones."""
    clear_caches()
    head = len(encode_node(Node("iq")))  # flags, LIST_8 header, tag: the same length
    cold = encode_node(Node("iq", {}, value))[head:]
    assert encode_node(Node("iq", {}, value))[head:] == cold
    return cold


S_WHATSAPP_NET = DICTIONARIES[3].encoded["s.whatsapp.net"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("98765", b"\xff\x83\x98\x76\x5f"),
        ("123", b"\xff\x82\x12\x3f"),
        ("1234", b"\xff\x02\x12\x34"),
        ("9" * 127, b"\xff\xc0" + b"\x99" * 63 + b"\x9f"),
        ("9" * 128, b"\xfc\x80" + b"9" * 128),  # too long to pack
        ("12-3.4", b"\xff\x03\x12\xa3\xb4"),
        ("\u0661\u0662", b"\xfc\x04" + "\u0661\u0662".encode()),  # non-ASCII digits: raw
        ("1\u00b2", b"\xfc\x03" + "1\u00b2".encode()),
        ("1234@s.whatsapp.net", b"\xfa\xff\x02\x12\x34" + S_WHATSAPP_NET),
        ("@s.whatsapp.net", b"\xfa\x00" + S_WHATSAPP_NET),
        ("ab@s.whatsapp.net", b"\xfa\xfc\x02ab" + S_WHATSAPP_NET),
        ("123@ex.com", b"\xfa\xff\x82\x12\x3f\xfc\x06ex.com"),  # a server that is no token
    ],
)
def test_strings_are_written_exactly(value: str, written: bytes) -> None:
    assert _string_bytes(value).hex() == written.hex()


@pytest.mark.parametrize(
    ("count", "empty", "header"),
    [
        (3, {0}, b"\xf8\x05"),
        (3, {1}, b"\xf8\x05"),
        (3, {2}, b"\xf8\x05"),
        (3, {0, 1, 2}, b"\xf8\x01"),
        (130, {0, 64, 129}, b"\xf8\xff"),  # LIST_16 before empty values are left out
        (130, {5, 6}, b"\xf9\x01\x01"),
    ],
)
def test_empty_attribute_values_are_left_out_exactly(
    count: int, empty: set[int], header: bytes
) -> None:
    attrs = {f"k{i}": "" if i in empty else str(i) for i in range(count)}
    raw = encode_node(Node("iq", attrs))
    kept = {k: v for k, v in attrs.items() if v}
    assert raw == encode_node(Node("iq", kept))
    assert raw[1 : 1 + len(header)] == header
    assert decode_node(raw) == Node("iq", kept)
