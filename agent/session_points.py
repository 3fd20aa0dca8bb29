"""The device-pixel points a script gives a `Session`: exact coordinates, checked against the
screen, and the finger's start and end for a swipe named by its direction."""

from __future__ import annotations

from typing import Any

from .errors import UserError

DIRECTIONS = {  # finger start and end, as fractions of (width, height)
    "up": ((0.5, 0.7), (0.5, 0.3)), "down": ((0.5, 0.3), (0.5, 0.7)),
    "left": ((0.8, 0.5), (0.2, 0.5)), "right": ((0.2, 0.5), (0.8, 0.5)),
}


def as_given(given: Any, point: tuple[int, int]) -> Any:
    """How a step's record names a point: the description the script gave, else the point."""
    return given if isinstance(given, str) else [point[0], point[1]]


def exact_point(verb: str, point: Any, size: tuple[int, int]) -> tuple[int, int]:
    """`point`, an (x, y) in device pixels, rounded; UserError for anything else or a point off
    the `size` screen (`verb` names the step in the message)."""
    try:
        px, py = (int(round(float(v))) for v in point)
    except (TypeError, ValueError):
        raise UserError(f"{verb}: expected (x, y) in device pixels or a description, got {point!r}") from None
    w, h = size
    if not (0 <= px < w and 0 <= py < h):
        raise UserError(f"{verb}({px}, {py}) is off the {w}x{h} screen")
    return px, py


def direction_swipe(direction: Any, size: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The start and end of `swipe(direction)` on a `size` screen: "up" moves the finger up the
    middle of the screen (content scrolls down); UserError for anything but a direction."""
    if not isinstance(direction, str) or direction.lower() not in DIRECTIONS:
        raise UserError(f"swipe({direction!r}) needs an end point, or one of {', '.join(DIRECTIONS)}")
    w, h = size
    (fx, fy), (tx, ty) = DIRECTIONS[direction.lower()]
    return (int(fx * w), int(fy * h)), (int(tx * w), int(ty * h))
