"""WhatsApp's binary XML: nodes, their codec and JIDs (sans-IO)."""

from wamd.binary.codec import decode_node, encode_node
from wamd.binary.jid import JID, InvalidJID
from wamd.binary.node import Node, NodeContent
from wamd.errors import DecodeError

__all__ = ["JID", "DecodeError", "InvalidJID", "Node", "NodeContent", "decode_node", "encode_node"]
