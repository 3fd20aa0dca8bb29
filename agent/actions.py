"""UI actions in device pixels: what a Device executes.

An action is a frozen pydantic model tagged by `type`, so a trajectory stores it as plain JSON
and `ACTION_ADAPTER.validate_python(d)` gives it back. Coordinates here are always device
pixels (pointer space); turning the model's coordinates into these is `vlagent.ui_tools`' job.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# Bounds on what a model may ask for, here once: the action models enforce them and the UI
# tools' JSON schema shows them to the model (a wait of days or a 10 MB string is a bad answer,
# told to the model, not a hung run).
MAX_WAIT_SECONDS = 60.0
MAX_PRESS_MS = 10_000
MAX_TEXT_CHARS = 4000
MAX_SCROLL_CLICKS = 100

SystemButtonName = Literal["back", "home", "menu", "enter", "app_switch"]
MouseButton = Literal["left", "right", "middle"]


class _Action(BaseModel):
    # defer_build: each model's validator is built on its first use, not at import, so that
    # `import vlagent` and `from vlagent import Agent` stay cheap (issue #20, cold start).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Tap(_Action):
    type: Literal["tap"] = "tap"
    x: int
    y: int


class LongPress(_Action):
    type: Literal["long_press"] = "long_press"
    x: int
    y: int
    duration_ms: int = Field(1000, ge=0, le=MAX_PRESS_MS)


class Swipe(_Action):
    type: Literal["swipe"] = "swipe"
    x1: int
    y1: int
    x2: int
    y2: int
    duration_ms: int = Field(300, ge=0, le=MAX_PRESS_MS)


class TypeText(_Action):
    type: Literal["type"] = "type"
    text: str = Field(max_length=MAX_TEXT_CHARS)


class Key(_Action):
    """One key or a combination pressed together, e.g. ["ctrl", "c"]; names as pyautogui's."""

    type: Literal["key"] = "key"
    keys: tuple[str, ...] = Field(min_length=1)


class SystemButton(_Action):
    type: Literal["system_button"] = "system_button"
    button: SystemButtonName


class OpenApp(_Action):
    type: Literal["open_app"] = "open_app"
    name: str = Field(min_length=1)


class Wait(_Action):
    type: Literal["wait"] = "wait"
    seconds: float = Field(1.0, ge=0, le=MAX_WAIT_SECONDS)


class Terminate(_Action):
    type: Literal["terminate"] = "terminate"
    status: Literal["success", "failure"]
    answer: str | None = None


class AskUser(_Action):
    type: Literal["ask_user"] = "ask_user"
    question: str


class MouseMove(_Action):
    type: Literal["mouse_move"] = "mouse_move"
    x: int
    y: int


class Click(_Action):
    """A mouse click at (x, y), or where the pointer is when they are None."""

    type: Literal["click"] = "click"
    x: int | None = None
    y: int | None = None
    button: MouseButton = "left"
    clicks: int = Field(1, ge=1, le=3)


class Drag(_Action):
    """Press at `start` (or where the pointer is, when None), move to (x, y), release."""

    type: Literal["drag"] = "drag"
    x: int
    y: int
    start: tuple[int, int] | None = None
    duration_ms: int = Field(500, ge=0, le=MAX_PRESS_MS)


class Scroll(_Action):
    """Wheel scroll by `amount` clicks: positive scrolls up, as in the Qwen computer_use tool."""

    type: Literal["scroll"] = "scroll"
    amount: int = Field(ge=-MAX_SCROLL_CLICKS, le=MAX_SCROLL_CLICKS)
    x: int | None = None
    y: int | None = None


Action = Annotated[
    Union[
        Tap, LongPress, Swipe, TypeText, Key, SystemButton, OpenApp, Wait, Terminate, AskUser,
        MouseMove, Click, Drag, Scroll,
    ],
    Field(discriminator="type"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action, config=ConfigDict(defer_build=True))

# Actions the loop handles itself rather than sending to the device.
CONTROL_ACTIONS = (Wait, Terminate, AskUser)


def points_of(action: _Action) -> list[tuple[int, int]]:
    """Every screen point an action touches, for bounds checks and tap markers."""
    match action:
        case Tap(x=x, y=y) | LongPress(x=x, y=y) | MouseMove(x=x, y=y):
            return [(x, y)]
        case Click(x=int() as x, y=int() as y):
            return [(x, y)]
        case Swipe(x1=x1, y1=y1, x2=x2, y2=y2):
            return [(x1, y1), (x2, y2)]
        case Drag(x=x, y=y, start=start):
            return ([start] if start else []) + [(x, y)]
        case Scroll(x=int() as x, y=int() as y):
            return [(x, y)]
    return []
