"""`mobile_use` and `computer_use`: UI actions as function-calling tools, and the step from a
model's call to a device `Action`.

What Qwen2.5-VL was trained with (the Qwen2.5-VL cookbook's mobile/computer-use agents) is kept
as it was: the tool and action names, the action enum in its order, the parameter names and
types, and the sentence "The screen's resolution is WxH." in the tool description, W x H being
the extent of the model's coordinates (the resized image's pixels, or 1000x1000 for a 0-1000
model). The descriptions are our own words. Our extra actions and buttons (ask_user, App Switch)
come after the trained ones.

The schema is rebuilt per screen because the resolution sentence depends on it.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic  # needed at import anyway: the actions are pydantic models

from . import actions as A
from .coords import Screen
from .errors import ToolArgumentsError
from .tools.arguments import argument_error, validate_arguments

_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}

MOBILE_ACTIONS = {
    "key": "Press a key: `text` names it (e.g. volume_up, enter, del).",
    "click": "Tap the point `coordinate`.",
    "long_press": "Press the point `coordinate` for `time` seconds.",
    "swipe": "Swipe from `coordinate` to `coordinate2`.",
    "type": "Type `text` into the focused input box.",
    "system_button": "Press the system `button`.",
    "open": "Open the app named in `text`.",
    "wait": "Wait `time` seconds for the screen to change.",
    "terminate": "End the task with `status`; put any answer the user asked for in `text`.",
    "ask_user": "Ask the user the question in `text` and stop; use it when only the user can decide.",
}
COMPUTER_ACTIONS = {
    "key": "Press the keys in `keys` together, in order (e.g. [\"ctrl\", \"c\"]).",
    "type": "Type `text`.",
    "mouse_move": "Move the pointer to `coordinate`.",
    "left_click": "Left-click at `coordinate` (or where the pointer is).",
    "left_click_drag": "Press at the pointer, drag to `coordinate`, release.",
    "right_click": "Right-click at `coordinate` (or where the pointer is).",
    "middle_click": "Middle-click at `coordinate` (or where the pointer is).",
    "double_click": "Double-click at `coordinate` (or where the pointer is).",
    "scroll": "Scroll the wheel by `pixels` clicks: positive up, negative down.",
    "wait": "Wait `time` seconds for the screen to change.",
    "terminate": "End the task with `status`; put any answer the user asked for in `text`.",
    "ask_user": "Ask the user the question in `text` and stop; use it when only the user can decide.",
}
SYSTEM_BUTTONS = {"Back": "back", "Home": "home", "Menu": "menu", "Enter": "enter", "App Switch": "app_switch"}
UI_TOOL_NAMES = ("mobile_use", "computer_use")



def ui_tool_schema(name: str, screen: Screen, system: str) -> dict[str, Any]:
    """The OpenAI-style function schema for `mobile_use` or `computer_use` on this screen."""
    mobile = name == "mobile_use"
    table = MOBILE_ACTIONS if mobile else COMPUTER_ACTIONS
    where = "a mobile device's touchscreen" if mobile else "the computer's mouse and keyboard"
    coord = f"(x, y) {screen.units(system)}."
    props: dict[str, Any] = {
        "action": {
            "type": "string",
            "enum": list(table),
            "description": "The action to perform:\n" + "\n".join(f"* `{k}`: {v}" for k, v in table.items()),
        },
        "coordinate": {**_POINT, "description": f"Point to act on, {coord}"},
        "text": {"type": "string", "maxLength": A.MAX_TEXT_CHARS,
                 "description": "Text for `type`, `key`, `open`, `ask_user`, `terminate`."},
        "time": {"type": "number", "minimum": 0, "maximum": A.MAX_WAIT_SECONDS,
                 "description": f"Seconds, for `wait`, and for `long_press` (at most {A.MAX_PRESS_MS // 1000:g})."},
        "status": {"type": "string", "enum": ["success", "failure"], "description": "For `terminate`."},
    }
    if mobile:
        props["coordinate2"] = {**_POINT, "description": f"End point of `swipe`, {coord}"}
        props["button"] = {"type": "string", "enum": list(SYSTEM_BUTTONS), "description": "For `system_button`."}
    else:
        props["keys"] = {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "For `key`."}
        props["pixels"] = {"type": "number", "minimum": -A.MAX_SCROLL_CLICKS, "maximum": A.MAX_SCROLL_CLICKS,
                           "description": "For `scroll`: wheel clicks, positive up, negative down."}
    w, h = screen.model_extent(system)
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Use {where} to act on the screen you see in the screenshots. "
                           f"The screen's resolution is {w:g}x{h:g}.",
            "parameters": {"type": "object", "properties": props, "required": ["action"]},
        },
    }


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _coerce(arguments: dict[str, Any]) -> dict[str, Any]:
    """Repair harmless slips real models make: "[120, 80]" or "120,80" given as a string."""
    out = dict(arguments)
    for key in ("coordinate", "coordinate2"):
        if isinstance(out.get(key), str):
            nums = _NUMBER.findall(out[key])
            if len(nums) == 2:
                out[key] = [float(n) for n in nums]
    if isinstance(out.get("keys"), str):
        out["keys"] = [k.strip() for k in out["keys"].split("+") if k.strip()]
    return out


def _need(args: dict[str, Any], name: str, action: str, *fields: str) -> None:
    missing = [f for f in fields if args.get(f) in (None, "", [])]
    if missing:
        raise argument_error(name, missing[0], f"required for action={action}"
                             + (f" (and {', '.join(missing[1:])})" if missing[1:] else ""))


def to_action(name: str, arguments: dict[str, Any], screen: Screen, system: str) -> A._Action:
    """Turn a `mobile_use`/`computer_use` call into an Action in device pixels.

    Raises ToolArgumentsError or ActionOutOfBounds, both written for the model to read.
    """
    try:
        return _to_action(name, _coerce(arguments), screen, system)
    except pydantic.ValidationError as e:  # the action models' bounds (a press held for days)
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        raise ToolArgumentsError(f"{name}: {where}: {first['msg']}") from None


def _to_action(name: str, args: dict[str, Any], screen: Screen, system: str) -> A._Action:
    validate_arguments(ui_tool_schema(name, screen, system), args)
    action = args["action"]

    def point(key: str = "coordinate") -> tuple[int, int]:
        return screen.to_device(tuple(args[key]), system)

    def opt_point() -> tuple[int | None, int | None]:
        return point() if args.get("coordinate") is not None else (None, None)

    if action == "terminate":
        _need(args, name, action, "status")
        return A.Terminate(status=args["status"], answer=args.get("text"))
    if action == "wait":
        return A.Wait(seconds=float(args.get("time", 1.0)))
    if action == "ask_user":
        _need(args, name, action, "text")
        return A.AskUser(question=args["text"])
    if action == "type":
        _need(args, name, action, "text")
        return A.TypeText(text=args["text"])
    if name == "mobile_use":
        if action == "key":
            _need(args, name, action, "text")
            return A.Key(keys=(args["text"],))
        if action in ("click", "long_press"):
            _need(args, name, action, "coordinate")
            x, y = point()
            if action == "click":
                return A.Tap(x=x, y=y)
            seconds = float(args.get("time", 1.0))
            if seconds * 1000 > A.MAX_PRESS_MS:
                raise ToolArgumentsError(f"{name}: time: a long_press lasts at most {A.MAX_PRESS_MS // 1000} seconds")
            return A.LongPress(x=x, y=y, duration_ms=int(1000 * seconds))
        if action == "swipe":
            _need(args, name, action, "coordinate", "coordinate2")
            (x1, y1), (x2, y2) = point(), point("coordinate2")
            return A.Swipe(x1=x1, y1=y1, x2=x2, y2=y2)
        if action == "system_button":
            _need(args, name, action, "button")
            return A.SystemButton(button=SYSTEM_BUTTONS[args["button"]])
        if action == "open":
            _need(args, name, action, "text")
            return A.OpenApp(name=args["text"])
    else:
        if action == "key":
            _need(args, name, action, "keys")
            return A.Key(keys=tuple(args["keys"]))
        if action == "mouse_move":
            _need(args, name, action, "coordinate")
            x, y = point()
            return A.MouseMove(x=x, y=y)
        if action in ("left_click", "right_click", "middle_click", "double_click"):
            x, y = opt_point()
            button = {"right_click": "right", "middle_click": "middle"}.get(action, "left")
            return A.Click(x=x, y=y, button=button, clicks=2 if action == "double_click" else 1)
        if action == "left_click_drag":
            _need(args, name, action, "coordinate")
            x, y = point()
            return A.Drag(x=x, y=y)
        if action == "scroll":
            _need(args, name, action, "pixels")
            x, y = opt_point()
            return A.Scroll(amount=round(args["pixels"]), x=x, y=y)
    raise ToolArgumentsError(f"{name} has no action {action!r}")  # unreachable past the enum check
