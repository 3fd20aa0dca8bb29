"""Typed secrets kept out of pixels.

`Secrets` keeps a secret's value out of text. Once `{{PIN}}` is typed, though, the field on the
screen draws the value (a password field draws one dot per character, which still gives away how
long it is). So from the moment a secret is typed, `SecretMasks.capture` fills that field's
rectangle with a flat colour in every frame the loop captures. The frame saved beside the
trajectory and the image sent to the model both come from that capture, so both are masked.

Which region, and for how long:
- A device with a UI tree (a phone): the focused node when the secret is typed. The tree is read
  again just before each capture while a mask is active. The field counts as still on screen
  while that tree has a node from the same app with the same resource-id (or, for a node without
  one, the same class at the same bounds). Its bounds at that moment are masked, since a
  multi-line field grows as it fills. Once the node is gone, or the app in front changed, the
  mask ends. If a tree cannot be read, every mask stays where it last was.
- A device without a tree (a desktop), or a typing with no focused node in the tree: a band the
  width of the screen and about a text field high around the last point tapped or clicked.
  Nothing tells us when that field leaves the screen, so the band stays until the run ends. With
  neither a tree nor a tapped point, nothing can be masked, and a warning says so.

Boxes are in device pixels (the tree's coordinates, the `size` space) and are scaled to the
frame just before filling, before the frame is resized for the model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageColor

from . import actions as A
from .devices.base import ui_tree
from .guards import is_black
from .uitree import UiNode, parse

# Mid grey. It stands out from both light and dark themes, so the model sees that something covers
# the field instead of mistaking it for an empty field or for background. It is also far from
# black, so a mostly masked frame is never taken for a secure screen by `is_black` (and a black
# frame, which shows nothing, is left black: the loop must still recognise it).
MASK_COLOUR = "#808080"
_TEXT_INPUTS = ("EditText", "AutoCompleteTextView", "SearchView")

log = logging.getLogger("vlagent.secrets")
Box = tuple[int, int, int, int]


@dataclass
class _Field:
    boxes: list[Box]         # where it is now, in device pixels
    package: str = ""
    resource_id: str = ""
    cls: str = ""
    tracked: bool = False    # found in the UI tree (a mask that ends); False: a band kept for the run


class SecretMasks:
    """The fields that hold a typed secret, and the capture that hides them."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.fields: list[_Field] = []
        self._pointer: tuple[int, int] | None = None  # the last point tapped or clicked, device pixels

    def before(self, action: A._Action, *, types_secret: bool) -> None:
        """Call with each action just before the device runs it. It remembers where the pointer
        went and, for an action that types a secret, which field will hold the value."""
        if isinstance(action, (A.Tap, A.LongPress, A.MouseMove, A.Drag)) or (
                isinstance(action, A.Click) and action.x is not None and action.y is not None):
            self._pointer = (action.x, action.y)  # type: ignore[assignment]
        if not types_secret:
            return
        tree = self._tree()
        field = _focused_field(parse(tree)) if tree else None
        if field is None and self._pointer is not None:
            field = _Field([_band(self._pointer, tuple(self.device.size))])
        if field is None:
            log.warning("a secret was typed with no known field (no UI tree, no tapped point): "
                        "screenshots may show it")
        elif field not in self.fields:
            self.fields.append(field)

    def capture(self) -> Image.Image:
        """`device.screenshot()` with every field that holds a typed secret filled with
        MASK_COLOUR. With no such field there is no extra work."""
        if any(f.tracked for f in self.fields):
            tree = self._tree()  # read before the frame: a field in the tree now is in the frame too
            if tree:
                self._follow(parse(tree))
        frame = self.device.screenshot()
        if self.fields and not is_black(frame):  # a black frame shows nothing, and must stay black
            sx, sy = (frame.width / self.device.size[0], frame.height / self.device.size[1])
            colour = ImageColor.getcolor(MASK_COLOUR, frame.mode)
            for field in self.fields:
                for l, t, r, b in field.boxes:
                    frame.paste(colour, (math.floor(l * sx), math.floor(t * sy), math.ceil(r * sx), math.ceil(b * sy)))
        return frame

    def _follow(self, tree: tuple[UiNode, ...]) -> None:
        """Move each tracked field to where the tree has it now; drop those no longer there."""
        kept = []
        for field in self.fields:
            if field.tracked:
                field.boxes = [box for node in tree if _same_field(field, node) and (box := _box(node))]
                if not field.boxes:
                    continue
            kept.append(field)
        self.fields = kept

    def _tree(self) -> str | None:
        try:
            return ui_tree(self.device)
        except Exception as e:  # a tree that cannot be read now: keep the masks as they are
            log.debug("UI tree unavailable for secret masks: %s", e)
            return None


def _focused_field(tree: tuple[UiNode, ...]) -> _Field | None:
    """The deepest focused node (a text input first), as a tracked field."""
    focused = [n for n in tree if n.flag("focused") and _box(n)]
    inputs = [n for n in focused if n.a.get("class", "").endswith(_TEXT_INPUTS)]
    node = (inputs or focused or [None])[-1]
    if node is None:
        return None
    return _Field([_box(node)], node.a.get("package", ""), node.a.get("resource-id", ""),  # type: ignore[list-item]
                  node.a.get("class", ""), tracked=True)


def _same_field(field: _Field, node: UiNode) -> bool:
    if node.a.get("package", "") != field.package:
        return False
    if field.resource_id:
        return node.a.get("resource-id") == field.resource_id
    return node.a.get("class", "") == field.cls and _box(node) in field.boxes


def _box(node: UiNode) -> Box | None:
    box = node.bounds
    return box if box is not None and box[2] > box[0] and box[3] > box[1] else None


def _band(point: tuple[int, int], size: tuple[int, int]) -> Box:
    """The whole width of the screen, about one text field high, centred on `point`: typed text
    starts at the field's left edge, wherever in the field the tap landed."""
    width, height = size
    half = max(48, max(width, height) // 20) // 2
    return (0, max(0, point[1] - half), width, min(height, point[1] + half))
