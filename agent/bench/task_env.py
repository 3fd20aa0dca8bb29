"""A SimPhone task's only handle on the phone (`Env`): adb shell commands, as any adb client would
send them, and the screen's uiautomator dump read into `Node`s that setup steps and oracle plans
locate by text, description or resource id (`find`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .. import uitree
from ..actions import TypeText
from ..devices.adb_text import shell_quote
from ..errors import DeviceCommandError, VLAgentError

# state() key -> (namespace, name) of the `settings put` that sets it
SETTING_PUT = {"wifi": ("global", "wifi_on"), "bluetooth": ("global", "bluetooth_on"),
               "airplane": ("global", "airplane_mode_on"), "dark_theme": ("secure", "ui_night_mode"),
               "brightness": ("system", "screen_brightness"), "volume": ("system", "volume_music"),
               "auto_rotate": ("system", "accelerometer_rotation"), "location": ("secure", "location_mode"),
               "mobile_data": ("global", "mobile_data"), "developer_options": ("global", "development_settings_enabled"),
               "usb_debugging": ("global", "adb_enabled")}


class SetupError(VLAgentError):
    """A task could not put the phone in its starting state (an infrastructure failure)."""


@dataclass(frozen=True)
class Node:
    """One node of a uiautomator dump; `ancestors` are indices into the same list, root first."""

    index: int
    text: str
    desc: str
    rid: str
    cls: str
    bounds: tuple[int, int, int, int]
    clickable: bool
    checked: bool
    scrollable: bool
    focused: bool
    ancestors: tuple[int, ...]

    @property
    def center(self) -> tuple[int, int]:
        l, t, r, b = self.bounds
        return (l + r) // 2, (t + b) // 2


def parse_nodes(xml: str) -> list[Node]:
    """Every node of a `uiautomator dump`, in document order (read by `vlagent.uitree.parse`)."""
    parsed = uitree.parse(xml)
    index = {id(n): i for i, n in enumerate(parsed)}
    ancestors: dict[int, tuple[int, ...]] = {}
    nodes: list[Node] = []
    for i, n in enumerate(parsed):  # document order: a parent comes before its children
        ancestors[i] = () if n.parent is None else ancestors[index[id(n.parent)]] + (index[id(n.parent)],)
        nodes.append(Node(i, n.a.get("text", ""), n.a.get("content-desc", ""), n.a.get("resource-id", ""),
                          n.a.get("class", ""), n.bounds or (0, 0, 0, 0), n.flag("clickable"), n.flag("checked"),
                          n.flag("scrollable"), n.flag("focused"), ancestors[i]))
    return nodes


def matches(node: Node, *, text: str | None = None, desc: str | None = None, rid: str | None = None,
            contains: str | None = None, cls: str | None = None) -> bool:
    """`rid` matches the full id or its part after ':id/'; `contains` searches text and desc."""
    return ((text is None or node.text == text) and (desc is None or node.desc == desc)
            and (rid is None or node.rid == rid or node.rid.endswith("/" + rid))
            and (cls is None or node.cls.endswith(cls))
            and (contains is None or contains.casefold() in (node.text + "\n" + node.desc).casefold()))


def find(nodes: list[Node], near: dict | None = None, **match: Any) -> Node | None:
    """The first node matching `match`; with `near` (another match), the candidate sharing the
    deepest common ancestor with that node (the Delete button in the same card as "06:45")."""
    hits = [n for n in nodes if matches(n, **match)]
    if not hits or near is None:
        return hits[0] if hits else None
    anchor = find(nodes, **near)
    if anchor is None:
        return None
    chain = set(anchor.ancestors)
    return max(hits, key=lambda n: max((d for d, a in enumerate(n.ancestors) if a in chain), default=-1))


class Env:
    """A task's only handle on the phone: adb shell commands through an AdbDevice-like `device`
    (`shell()`, `ui_tree()`, `execute()`)."""

    def __init__(self, device: Any):
        self.device = device

    def shell(self, command: str, *, idempotent: bool = False) -> str:
        """Setup commands change the phone: one whose reply is lost is never sent twice."""
        return self.device.shell(command, idempotent=idempotent)

    def state(self) -> dict:
        out = self.shell("cmd simphone state", idempotent=True)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            raise DeviceCommandError(
                f"the device did not answer `cmd simphone state` with JSON ({out.strip()[:200]!r}): "
                "the SimPhone suite needs a SimPhone (vlagent sim), not a real phone") from None

    def put(self, key: str, value: Any) -> None:
        """Set a setting named as in state() (wifi, brightness, ...) with `settings put`."""
        ns, name = SETTING_PUT[key]
        if key == "dark_theme":
            value = 2 if value else 1
        elif isinstance(value, bool):
            value = int(value)
        self.shell(f"settings put {ns} {name} {value}")

    def key(self, name: str) -> None:
        self.shell(f"input keyevent {name}")

    def start(self, component: str) -> None:
        out = self.shell(f"am start -n {component}")
        if "Error" in out:
            raise SetupError(f"am start -n {component}: {out.strip()[:200]}")

    def reader(self, text: str) -> None:
        self.shell("cmd simphone reader " + shell_quote(text))

    def nodes(self) -> list[Node]:
        return parse_nodes(self.device.ui_tree())

    def tap(self, near: dict | None = None, **match: Any) -> None:
        node = find(self.nodes(), near, **match)
        if node is None:
            raise SetupError(f"setup found no node {match} on the screen")
        x, y = node.center
        self.shell(f"input tap {x} {y}")

    def type(self, text: str) -> None:
        self.device.execute(TypeText(text=text))

    def reset_phone(self, seed: int) -> None:
        """`cmd simphone reset SEED`: the phone as a fresh SimPhone seeded with `seed` (records,
        settings, no background tasks)."""
        self.shell(f"cmd simphone reset {int(seed)}")

    def reset_ui(self) -> None:
        """Home screen, no dialog, shade or background task (the overview's Clear all)."""
        state = self.state()
        if not state.get("screen_on", True):
            self.key("KEYCODE_WAKEUP")
        for _ in range(3):
            if state.get("popup") or state.get("shade_open"):
                self.key("KEYCODE_BACK")
                state = self.state()
        self.key("KEYCODE_HOME")
        if self.state()["background_tasks"]:
            self.key("KEYCODE_APP_SWITCH")
            self.tap(rid="clear_all")
            self.key("KEYCODE_HOME")
            if self.state()["background_tasks"]:
                raise SetupError("the overview's Clear all left background tasks")
