"""Tasks and activities for the SimPhone, the way Android 12+ keeps them: what is in front.

`stack` is the launcher plus the foreground task's activities; `background` holds background tasks
(least recent first). HOME moves the foreground task to the background, launching an app resumes
its task, BACK closes the dialog / shade / overview / keyboard first, then lets the screen handle
it, then pops the activity; BACK on a task's root moves the task to the background.

`push`, `replace`, `finish`, `launch` and `dialog` are what the apps call to navigate
(`host.tasks.push(...)`). A dialog can also be armed to show when a package next comes to the front
(`arm_popup`): how an injected pop-up appears in the middle of a task, once the agent opens the app.
"""

from __future__ import annotations

from typing import Any, Callable

from ..apps.base import Activity
from ..apps.launcher import Launcher
from .lock import locked

LAUNCHER = "com.android.launcher3"
RECENTS_ACTIVITY = "com.android.quickstep.RecentsActivity"


class Tasks:
    """A Phone's part: the activity stack, background tasks, the overview, the shade and dialogs."""

    def __init__(self, phone: Any):
        self.phone = phone
        self._lock = phone._lock

    def reset(self) -> None:
        self.launcher = Launcher(self.phone)
        self.stack: list[Activity] = [self.launcher]
        self.background: dict[str, list[Activity]] = {}   # background tasks, least recent first
        self.overview = False
        self.overview_prev: str | None = None     # the app the overview was opened from
        self.recents_scroll: dict[str, int] = {}
        self.shade = False
        self.popup: dict | None = None
        self.popup_log: list[dict] = []
        self.armed_popups: dict[str, dict] = {}    # package -> a dialog to show when it comes to the front

    def top(self) -> Activity:
        return self.stack[-1]

    def current(self) -> tuple[str, str]:
        """(package, activity) in front."""
        if self.overview:
            return (LAUNCHER, RECENTS_ACTIVITY)
        top = self.top()
        return (top.package, top.name)

    def stacks(self) -> tuple[list[Activity], ...]:
        """The foreground stack and every background task's."""
        return (self.stack, *self.background.values())

    # ------------------------------------------------------------------ what the apps call

    def push(self, activity: Activity) -> None:
        self.stack.append(activity)

    def replace(self, old: Activity, new: Activity) -> None:
        for stack in self.stacks():
            if old in stack:
                stack[stack.index(old)] = new

    def finish(self, activity: Activity) -> None:
        if activity is self.launcher:
            return
        if len(self.stack) == 2 and self.stack[1] is activity:
            self.to_background()     # the task's root: the task goes to the background
            return
        if activity in self.stack:
            self.stack.remove(activity)
            return
        for pkg, stack in list(self.background.items()):
            if activity in stack:
                stack.remove(activity)
                if not stack:
                    del self.background[pkg]

    def launch(self, package: str, factory: Callable[[Any], Activity]) -> None:
        """Bring `package`'s task to the front and open a new activity in it (an app-to-app intent)."""
        self.bring_to_front(package)
        self.stack.append(factory(self.phone))

    def dialog(self, title: str, text: str, buttons: list[str], answer: Callable[[str], None] | None = None,
               package: str = "android") -> None:
        self.popup = {"title": title, "text": text, "buttons": list(buttons) or ["OK"], "answer": answer,
                      "package": package}

    def arm_popup(self, package: str, title: str, text: str, buttons: list[str]) -> None:
        """Show this dialog the next time `package` comes to the front (once)."""
        self.armed_popups[package] = {"title": title, "text": text, "buttons": list(buttons)}

    @locked
    def disarm_popups(self) -> None:
        self.armed_popups.clear()

    # ------------------------------------------------------------------ tasks

    def to_background(self) -> None:
        if len(self.stack) > 1:
            top = self.top()
            top.clear_focus()
            top.on_home()
            pkg = self.stack[1].package
            self.background.pop(pkg, None)
            self.background[pkg] = self.stack[1:]
            self.stack = [self.launcher]

    def bring_to_front(self, package: str) -> None:
        self.shade = self.overview = False
        if len(self.stack) > 1 and self.stack[1].package == package:
            return
        self.to_background()
        if package in self.background:
            self.stack = [self.launcher, *self.background.pop(package)]
        else:
            self.stack = [self.launcher, self.phone.apps_by_package[package].root(self.phone)]
        armed = self.armed_popups.pop(package, None)
        if armed is not None and self.popup is None:
            self.dialog(armed["title"], armed["text"], armed["buttons"])

    def start_new_task(self, package: str, factory: Callable[[Any], Activity]) -> None:
        """A fresh task for `package` in front (the installer is not a launcher app: each VIEW
        intent starts a new task for it)."""
        self.background.pop(package, None)
        if len(self.stack) > 1 and self.stack[1].package == package:
            self.stack = [self.launcher]
        self.shade = self.overview = False
        self.to_background()
        self.stack = [self.launcher, factory(self.phone)]

    @locked
    def start(self, target: str) -> str | None:
        pkg, _, activity = target.strip().partition("/")
        if pkg == LAUNCHER:
            self.go_home()
            self.phone.changed()
            return None
        app = self.phone.apps_by_package.get(pkg)
        if app is None:
            return (f"Error: Activity not started, unable to resolve Intent {{ act=android.intent.action.MAIN "
                    f"cat=[android.intent.category.LAUNCHER] flg=0x10000000 pkg={pkg} }}")
        if activity:
            short = activity[len(pkg):] if activity.startswith(pkg + ".") else activity
            if short not in app.activities and activity not in app.activities:
                full = pkg + activity if activity.startswith(".") else activity
                return f"Error type 3\nError: Activity class {{{pkg}/{full}}} does not exist."
        self.bring_to_front(pkg)
        self.phone.changed()
        return None

    @locked
    def force_stop(self, package: str) -> bool:
        """`am force-stop`: the app's task (and its drafts) is gone; True if it was running."""
        if len(self.stack) > 1 and self.stack[1].package == package:
            self.stack = [self.launcher]
            self.phone.changed()
            return True
        if self.background.pop(package, None) is not None:
            self.phone.changed()
            return True
        return False

    # ------------------------------------------------------------------ navigation

    def back(self) -> None:
        if self.popup is not None:
            self.answer_popup(None)    # dialogs are cancelable with BACK
            return
        if self.shade:
            self.shade = False
            return
        if self.overview:
            self.leave_overview()
            return
        top = self.top()
        if top.focus is not None:
            top.clear_focus()           # first BACK hides the keyboard
            return
        if top.on_back():
            return
        if len(self.stack) > 2:
            self.stack.pop()
        elif len(self.stack) == 2:
            self.to_background()

    def go_home(self) -> None:
        self.shade = self.overview = False
        self.to_background()
        self.launcher.on_home()
        self.phone.input.reset_keyboard()

    def app_switch(self) -> None:
        """APP_SWITCH: into the overview (or back out of it)."""
        if self.overview:
            self.leave_overview()
        elif self.popup is None:
            self.shade = False
            self.overview_prev = self.stack[1].package if len(self.stack) > 1 else None
            self.to_background()
            self.overview = True
            self.recents_scroll.clear()

    def leave_overview(self) -> None:
        """BACK (or APP_SWITCH again) in the overview returns to the app it was opened from."""
        self.overview = False
        if self.overview_prev in self.background:
            self.bring_to_front(self.overview_prev)

    def close_shade(self) -> None:
        self.shade = False

    def open_task(self, package: str) -> None:
        self.overview = False
        self.bring_to_front(package)

    def clear_tasks(self) -> None:
        self.background.clear()
        self.overview = False

    def answer_popup(self, button: str | None) -> None:
        p, self.popup = self.popup, None
        if p is None:
            return
        self.popup_log.append({"title": p["title"], "button": button})
        if p["answer"] is not None and button is not None:
            p["answer"](button)
