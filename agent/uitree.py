"""Reading uiautomator XML, in one place: the tree the guard and the secret masks walk, and the
text fallback when a frame cannot be shown to the model."""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .coords import Screen

_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")


@dataclass(eq=False)
class UiNode:
    """One node: its attributes (`a`), bounds in device pixels, place in the tree, and the
    window (top-level node) it belongs to."""

    a: dict[str, str]
    bounds: tuple[int, int, int, int] | None
    parent: "UiNode | None"
    window: int
    in_clickable: bool  # this node or an ancestor is clickable: its text labels a control
    children: list["UiNode"] = field(default_factory=list)

    def flag(self, name: str) -> bool:
        return self.a.get(name) == "true"

    def has(self, x: int, y: int) -> bool:
        b = self.bounds
        return b is not None and b[0] <= x < b[2] and b[1] <= y < b[3]

    def area(self) -> int:
        l, t, r, b = self.bounds or (0, 0, 0, 0)
        return max(0, r - l) * max(0, b - t)

    @property
    def editable(self) -> bool:
        return any(k in self.a.get("class", "") for k in ("EditText", "AutoCompleteTextView"))

    @property
    def rid(self) -> str:
        """The resource id's name, without its package: `send_button`."""
        return self.a.get("resource-id", "").rpartition(":id/")[2]


@functools.lru_cache(maxsize=8)
def parse(xml: str) -> tuple[UiNode, ...]:
    """Every node, in document order (shared between callers: read, never change them); () for
    XML that does not parse."""
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, ValueError):
        return ()
    found: list[UiNode] = []
    stack = [(el, None, i) for i, el in reversed(list(enumerate(e for e in root if e.tag == "node")))]
    while stack:  # iterative: a hostile tree may nest deeper than Python's recursion limit
        el, parent, window = stack.pop()
        m = _BOUNDS.fullmatch(el.get("bounds", "").strip())
        node = UiNode(dict(el.attrib), tuple(map(int, m.groups())) if m else None, parent, window,  # type: ignore[arg-type]
                      el.get("clickable") == "true" or bool(parent and parent.in_clickable))
        found.append(node)
        if parent is not None:
            parent.children.append(node)
        stack.extend((c, node, window) for c in reversed(list(el)) if c.tag == "node")
    return tuple(found)


def summarize(xml: str, screen: Screen, system: str, *, limit: int = 60) -> str:
    """One line per labelled node: its label, whether it is clickable, and its centre in the
    model's coordinates, so the model can still act on a screen it cannot see."""
    lines = []
    for node in parse(xml):
        label = node.a.get("text") or node.a.get("content-desc")
        box = node.bounds
        if not label or box is None or box[2] <= box[0] or box[3] <= box[1]:
            continue
        x, y = screen.from_device(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), system)
        kind = "button" if node.flag("clickable") else "text"
        lines.append(f"- {label!r} ({kind}) at [{x}, {y}]")
        if len(lines) >= limit:
            lines.append("- ...")
            break
    return "\n".join(lines)
