"""WhatsApp's binary XML: nodes, their codec and JIDs (sans-IO).

The codec is pure Python. ``scripts/build_speedups.py`` can build a compiled copy of the
same source (mypyc); it is used only with ``WAMD_SPEEDUPS=1`` in the environment when
this package is first imported, and ``CODEC`` says which one runs.
"""

import hashlib
import importlib
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from wamd.binary import codec as _pure
from wamd.binary.jid import JID, InvalidJID
from wamd.binary.node import Node, NodeContent
from wamd.errors import DecodeError


def _implementation() -> ModuleType:
    if os.environ.get("WAMD_SPEEDUPS", "") in ("", "0"):
        return _pure
    # the compiled copy is used only while it was built from this very codec.py
    here = Path(__file__).resolve().parent
    try:
        built_from = (here / "_codec_c.sha256").read_text().strip()
        compiled = importlib.import_module("wamd.binary._codec_c")
    except (OSError, ImportError):  # not built: the pure codec
        return _pure
    if hashlib.sha256((here / "codec.py").read_bytes()).hexdigest() != built_from:
        warnings.warn(
            "WAMD_SPEEDUPS=1: the compiled codec was built from another codec.py; using the "
            "pure one (run python scripts/build_speedups.py)",
            stacklevel=2,
        )
        return _pure
    return compiled


_codec = _implementation()
CODEC = "pure" if _codec is _pure else "compiled"
if TYPE_CHECKING:
    from wamd.binary.codec import clear_caches, decode_node, encode_node
else:
    clear_caches, decode_node, encode_node = (
        _codec.clear_caches,
        _codec.decode_node,
        _codec.encode_node,
    )

__all__ = ["JID", "DecodeError", "InvalidJID", "Node", "NodeContent", "decode_node", "encode_node"]
