"""Reading uiautomator XML: the text fallback when a frame cannot be shown to the model."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .coords import Screen

_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")


def nodes(xml: str) -> list[dict[str, str]]:
    """Every node's attributes, in document order; [] for XML that does not parse."""
    try:
        root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except ET.ParseError:
        return []
    return [dict(n.attrib) for n in root.iter("node")]


def bounds(node: dict[str, str]) -> tuple[int, int, int, int] | None:
    match = _BOUNDS.fullmatch(node.get("bounds", ""))
    return tuple(int(v) for v in match.groups()) if match else None  # type: ignore[return-value]


def summarize(xml: str, screen: Screen, system: str, *, limit: int = 60) -> str:
    """One line per labelled node: its label, whether it is clickable, and its centre in the
    model's coordinates, so the model can still act on a screen it cannot see."""
    lines = []
    for node in nodes(xml):
        label = node.get("text") or node.get("content-desc")
        box = bounds(node)
        if not label or box is None or box[2] <= box[0] or box[3] <= box[1]:
            continue
        x, y = screen.from_device(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), system)
        kind = "button" if node.get("clickable") == "true" else "text"
        lines.append(f"- {label!r} ({kind}) at [{x}, {y}]")
        if len(lines) >= limit:
            lines.append("- ...")
            break
    return "\n".join(lines)
