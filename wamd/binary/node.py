"""The ``Node`` type: one element of WhatsApp's binary XML."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from wamd.binary.jid import JID, InvalidJID
from wamd.errors import ProtocolError

__all__ = ["Node", "NodeContent"]

NodeContent = list["Node"] | bytes | str | None


@dataclass(slots=True)
class Node:
    """A stanza or one of its children.

    ``attrs`` maps names to string values (JIDs in their text form). ``content`` is a
    list of child nodes, raw ``bytes``, a ``str`` (what the wire carried as a token,
    packed number or JID), or ``None``.
    """

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    content: NodeContent = None

    # ------------------------------------------------------------------ children

    def get_children(self, tag: str | None = None) -> list[Node]:
        """Child nodes (all, or those with ``tag``); empty when content is not a list."""
        content = self.content
        if not isinstance(content, list):
            return []
        if tag is None:
            return content
        return [child for child in content if child.tag == tag]

    def get_child(self, tag: str) -> Node | None:
        """The first child with ``tag``, or None."""
        content = self.content
        if isinstance(content, list):
            for child in content:
                if child.tag == tag:
                    return child
        return None

    def require_child(self, tag: str) -> Node:
        """The first child with ``tag``; ``ProtocolError`` naming both when missing."""
        child = self.get_child(tag)
        if child is None:
            raise ProtocolError(f"<{self.tag}> has no <{tag}> child")
        return child

    def __iter__(self) -> Iterator[Node]:
        return iter(self.get_children())

    # ------------------------------------------------------------------ attributes

    def attr(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def require_attr(self, name: str) -> str:
        value = self.attrs.get(name)
        if value is None:
            raise ProtocolError(f"<{self.tag}> lacks the attribute {name!r}")
        return value

    def attr_int(self, name: str, default: int | None = None) -> int | None:
        """An integer attribute; ``ProtocolError`` when present but not a number."""
        value = self.attrs.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ProtocolError(
                f"<{self.tag}> attribute {name!r} is not a number: {value[:32]!r}"
            ) from None

    def jid_attr(self, name: str) -> JID | None:
        """A JID attribute parsed; None when absent, ``ProtocolError`` when malformed."""
        value = self.attrs.get(name)
        if value is None:
            return None
        try:
            return JID.parse(value)
        except InvalidJID as exc:
            raise ProtocolError(f"<{self.tag}> attribute {name!r}: {exc}") from None

    def content_bytes(self) -> bytes | None:
        """Content as bytes (a ``str`` content is UTF-8 encoded), None for lists/empty."""
        content = self.content
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode()
        return None

    # ------------------------------------------------------------------ text form

    def pretty(self, indent: int = 0, max_bytes: int = 0) -> str:
        """A readable XML-like form for logs.

        Binary content shows only its length unless ``max_bytes`` asks for a hex prefix
        (content can be key material or ciphertext: keep it out of logs by default).
        """
        pad = "  " * indent
        attrs = "".join(f' {k}="{v}"' for k, v in self.attrs.items())
        content = self.content
        if content is None:
            return f"{pad}<{self.tag}{attrs}/>"
        if isinstance(content, list):
            if not content:
                return f"{pad}<{self.tag}{attrs}></{self.tag}>"
            inner = "\n".join(child.pretty(indent + 1, max_bytes) for child in content)
            return f"{pad}<{self.tag}{attrs}>\n{inner}\n{pad}</{self.tag}>"
        if isinstance(content, bytes):
            shown = f": {content[:max_bytes].hex()}" if max_bytes else ""
            more = "..." if 0 < max_bytes < len(content) else ""
            return (
                f"{pad}<{self.tag}{attrs}><!-- {len(content)} bytes{shown}{more} --></{self.tag}>"
            )
        return f"{pad}<{self.tag}{attrs}>{content}</{self.tag}>"

    def __str__(self) -> str:
        return self.pretty()
