"""Golden vectors: hand-derived bytes decode to the expected node and encode back exactly."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from wamd.binary import Node, decode_node, encode_node

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "binary" / "stanzas.json").read_text()
)["vectors"]


def node_from_json(data: dict[str, Any]) -> Node:
    content = data["content"]
    if isinstance(content, list):
        value: Any = [node_from_json(child) for child in content]
    elif isinstance(content, dict):
        value = bytes.fromhex(content["bytes_hex"])
    else:
        value = content
    return Node(data["tag"], dict(data["attrs"]), value)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_decodes(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"].replace(" ", ""))
    assert decode_node(raw) == node_from_json(vector["node"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_encodes_byte_for_byte(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"].replace(" ", ""))
    assert encode_node(node_from_json(vector["node"])).hex() == raw.hex()


def test_compressed_payload_is_inflated() -> None:
    raw = bytes.fromhex(VECTORS[0]["hex"].replace(" ", ""))
    compressed = b"\x02" + zlib.compress(raw[1:])
    assert decode_node(compressed) == node_from_json(VECTORS[0]["node"])


def test_binary_20_and_32_lengths() -> None:
    body = bytes(range(256)) * 2  # 512 bytes: BINARY_20 with length 00 02 00
    raw = encode_node(Node("enc", {}, body))
    assert raw[:7] == bytes([0x00, 0xF8, 0x02, 29, 0xFD, 0x00, 0x02]) and raw[7] == 0x00
    assert decode_node(raw).content == body
    big = b"\x01" * (1 << 20)  # BINARY_32 from 2^20 bytes on
    raw = encode_node(Node("enc", {}, big))
    assert raw[4:9] == bytes([0xFE, 0x00, 0x10, 0x00, 0x00])
    assert decode_node(raw).content == big


def test_list_16_for_many_children() -> None:
    children = [Node("user", {"jid": f"{n}@s.whatsapp.net"}) for n in range(300)]
    raw = encode_node(Node("list", {}, children))
    assert raw[4:7] == bytes([0xF9, 0x01, 0x2C])  # LIST_16, 300
    assert decode_node(raw).content == children


def test_string_content_uses_string_encoding() -> None:
    # string content (e.g. a numeric string) is packed like any string, not written raw
    raw = encode_node(Node("companion_platform_id", {}, "1234"))
    assert raw.endswith(bytes([0xFF, 0x02, 0x12, 0x34]))
    assert decode_node(raw).content == "1234"
