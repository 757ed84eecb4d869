"""The optional compiled codec (scripts/build_speedups.py) against the pure one, and the
switch that picks it. The pure codec is what every other test here runs: ``wamd.binary``
uses the compiled one only with ``WAMD_SPEEDUPS=1``. These tests run when it is built."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.binary.test_codec import ad_jid_frames, nodes, token, with_value
from tests.binary.test_vectors import VECTORS, node_from_json
from wamd.binary import CODEC, DecodeError, Node
from wamd.binary import codec as pure

ROOT = Path(__file__).resolve().parents[2]


def compiled() -> ModuleType:
    try:
        module = importlib.import_module("wamd.binary._codec_c")
        built_from = (ROOT / "wamd" / "binary" / "_codec_c.sha256").read_text().strip()
    except (ImportError, OSError):
        pytest.skip("the compiled codec is not built (python scripts/build_speedups.py)")
    if hashlib.sha256(Path(pure.__file__).read_bytes()).hexdigest() != built_from:
        pytest.skip("the compiled codec was built from another codec.py: build it again")
    assert module.__file__ is not None and not module.__file__.endswith(".py")
    return module


def outcome(decode: object, raw: bytes) -> object:
    try:
        return decode(raw)  # type: ignore[operator]
    except DecodeError as exc:
        return ("DecodeError", str(exc))


def test_the_pure_codec_is_the_default() -> None:
    code = "import wamd.binary as b, wamd.binary.codec as c; print(b.CODEC, b.decode_node is c.decode_node)"
    env = {k: v for k, v in os.environ.items() if k != "WAMD_SPEEDUPS"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["pure", "True"]
    assert CODEC == "pure" or os.environ.get("WAMD_SPEEDUPS") not in (None, "", "0")


def test_the_switch_picks_the_compiled_codec_when_asked() -> None:
    compiled()
    code = "import wamd.binary as b; print(b.CODEC, type(b.decode_node).__name__)"
    env = dict(os.environ, WAMD_SPEEDUPS="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[0] == "compiled"


def test_a_build_from_another_codec_is_not_used(tmp_path: Path) -> None:
    compiled()
    # a copy of the package whose codec.py differs from the one the build was made from
    package = tmp_path / "wamd"
    shutil.copytree(ROOT / "wamd", package, ignore=shutil.ignore_patterns("__pycache__"))
    codec = package / "binary" / "codec.py"
    codec.write_text(codec.read_text() + "\n# changed\n")
    code = "import wamd.binary as b; print(b.CODEC)"
    env = dict(os.environ, WAMD_SPEEDUPS="1", PYTHONPATH=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout.split() == ["pure"]
    assert "built from another codec.py" in out.stderr


@settings(max_examples=300, deadline=None)
@given(nodes(), st.sampled_from([2, 3]))
def test_both_encode_alike_and_decode_alike(node: Node, version: int) -> None:
    fast = compiled()
    raw = pure.encode_node(node, dict_version=version)
    assert fast.encode_node(node, dict_version=version) == raw
    assert fast.decode_node(raw, dict_version=version) == pure.decode_node(
        raw, dict_version=version
    )


@settings(max_examples=600, deadline=None)
@given(nodes(), st.data())
def test_both_fail_alike_on_damaged_frames(node: Node, data: st.DataObject) -> None:
    fast = compiled()
    raw = bytearray(pure.encode_node(node))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = bytes(raw[: data.draw(st.integers(1, len(raw)))])
    assert outcome(fast.decode_node, cut) == outcome(pure.decode_node, cut)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vectors_with_the_compiled_codec(vector: dict[str, object]) -> None:
    fast = compiled()
    raw = bytes.fromhex(str(vector["hex"]).replace(" ", ""))
    node = node_from_json(vector["node"])  # type: ignore[arg-type]
    assert fast.decode_node(raw) == node
    assert fast.encode_node(node) == raw


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from([0xFF, 0xFB]), st.integers(0, 255), st.binary(max_size=12), st.booleans())
def test_both_decode_packed_strings_alike(tag: int, start: int, body: bytes, cold: bool) -> None:
    fast = compiled()
    if cold:
        pure.clear_caches()
        fast.clear_caches()
    item = bytes((tag, start)) + body
    for raw in (with_value(item), b"\x00\xf8\x02" + token("iq") + item):
        assert outcome(fast.decode_node, raw) == outcome(pure.decode_node, raw)


def test_both_decode_ad_jids_alike() -> None:
    fast = compiled()
    for raw, _ in ad_jid_frames():
        assert fast.decode_node(raw) == pure.decode_node(raw)


def test_both_take_bytearray_and_memoryview() -> None:
    fast = compiled()
    raw = pure.encode_node(Node("iq", {"id": "1", "to": "123:4@s.whatsapp.net"}, b"ab"))
    for data in (bytearray(raw), memoryview(raw), memoryview(b"x" + raw)[1:]):
        assert fast.decode_node(data) == pure.decode_node(data) == pure.decode_node(raw)
        assert type(fast.decode_node(data).content) is bytes
    zipped = b"\x02" + zlib.compress(raw[1:])
    assert fast.decode_node(bytearray(zipped)) == pure.decode_node(raw)


def test_deep_nesting_and_bombs_with_the_compiled_codec() -> None:
    fast = compiled()
    with pytest.raises(DecodeError, match="nested too deeply"):
        fast.decode_node(b"\x00" + b"\xf8\x02\x19\xf8\x01" * 200 + b"\xf8\x01\x19")
    bomb = b"\x02" + zlib.compress(b"\x00" * (40 << 20), 9)
    with pytest.raises(DecodeError, match="size limit"):
        fast.decode_node(bomb)


jid_like = st.builds(
    lambda user, colon, device, server: f"{user}{colon}{device}@{server}",
    st.text(alphabet="0123456789abc.:@-", max_size=12),
    st.sampled_from(["", ":", "::"]),
    st.one_of(st.integers(0, 70_000).map(str), st.text(alphabet="0123456789:x²", max_size=6)),
    st.one_of(
        st.sampled_from(
            ["s.whatsapp.net", "lid", "hosted", "hosted.lid", "g.us", "msgr", "interop",
             "broadcast", "newsletter", "", "x@y"]
        ),
        st.text(alphabet="abc.@", max_size=6),
    ),
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(jid_like, st.sampled_from([2, 3]))
def test_the_quick_jid_encoding_is_the_parsed_one(text: str, version: int) -> None:
    from wamd.binary.jid import JID, InvalidJID

    enc = pure._ENCODERS[version]
    quick = enc.jid_text(text)
    try:
        parsed = JID.parse(text)
    except InvalidJID:
        assert quick is None
        return
    if quick is not None:
        assert quick == enc.jid(parsed)
    assert pure.encode_node(Node("x", {"a": text}), dict_version=version)  # either way
