"""What every SimPhone activity is: a screen that builds its view tree from state.

An activity keeps only screen-local state (form drafts in `fields`, scroll offsets in `scroll`,
which field has focus); records live in the phone's `World`. `host` is the Phone: apps navigate
through its tasks (`host.tasks.push`, `finish`, `replace`, `launch`, `dialog`; phone/tasks.py) and
call `host.start`, `host.clock` and the like.
"""

from __future__ import annotations

from typing import Any

from ..phone.ui import Frame, View


class Activity:
    package = ""
    name = ""

    def __init__(self, host: Any):
        self.host = host
        self.fields: dict[str, str] = {}
        self.scroll: dict[str, int] = {}
        self.focus: str | None = None
        self.select_all = False
        self.reveal = False   # scroll the focused field into view on the next build

    @property
    def world(self):
        return self.host.world

    def build(self, f: Frame) -> list[View]:
        """Views for the app window, laid out inside f.top..f.bottom (plus backgrounds)."""
        raise NotImplementedError

    def on_back(self) -> bool:
        """Handle BACK inside the screen (close a drawer, leave a mode); False pops the activity."""
        return False

    def on_key(self, key: str) -> bool:
        """A key event nobody else used (no focused field); True if consumed."""
        return False

    def on_home(self) -> None:
        """The task is leaving the foreground."""

    def request_focus(self, key: str, select_all: bool = False) -> None:
        if self.focus != key:
            self.select_all = select_all
        else:
            self.select_all = False   # a second tap on a focused field places the caret
        self.focus = key
        self.reveal = True

    def clear_focus(self) -> None:
        self.focus = None
        self.select_all = False

    def type_text(self, key: str, text: str) -> None:
        if self.select_all:
            self.fields[key] = ""
            self.select_all = False
        self.fields[key] = self.fields.get(key, "") + text
        self.reveal = True

    def delete_char(self, key: str) -> None:
        if self.select_all:
            self.fields[key] = ""
            self.select_all = False
        else:
            self.fields[key] = self.fields.get(key, "")[:-1]
        self.reveal = True

    def finish(self) -> None:
        self.host.tasks.finish(self)

    def info(self) -> dict:
        """Extra screen state that success checks may want (shown in Phone.state())."""
        return {}
