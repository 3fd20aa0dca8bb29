"""Tasks and activities for the SimPhone, the way Android 12+ keeps them.

`_stack` is the launcher plus the foreground task's activities; `_tasks` holds background tasks
(least recent first). HOME moves the foreground task to the background, launching an app resumes
its task, BACK closes the dialog / shade / overview / keyboard first, then lets the screen handle
it, then pops the activity; BACK on a task's root moves the task to the background.

`push`, `replace`, `finish`, `launch` and `dialog` are what the apps call to navigate. A dialog
can also be armed to show when a package next comes to the front (`arm_popup`): how an injected
pop-up appears in the middle of a task, once the agent opens the app.
"""

from __future__ import annotations

from typing import Any, Callable

from .apps import Activity
from .input import locked

LAUNCHER = "com.android.launcher3"


class TasksMixin:
    """Part of `Phone`: the activity stack, background tasks, the overview and dialogs."""

    def _top(self) -> Activity:
        return self._stack[-1]

    def push(self, activity: Activity) -> None:
        self._stack.append(activity)

    def replace(self, old: Activity, new: Activity) -> None:
        for stack in (self._stack, *self._tasks.values()):
            if old in stack:
                stack[stack.index(old)] = new

    def finish(self, activity: Activity) -> None:
        if activity is self._launcher:
            return
        if len(self._stack) == 2 and self._stack[1] is activity:
            self._to_background()     # the task's root: the task goes to the background
            return
        if activity in self._stack:
            self._stack.remove(activity)
            return
        for pkg, stack in list(self._tasks.items()):
            if activity in stack:
                stack.remove(activity)
                if not stack:
                    del self._tasks[pkg]

    def launch(self, package: str, factory: Callable[[Any], Activity]) -> None:
        """Bring `package`'s task to the front and open a new activity in it (an app-to-app intent)."""
        self._bring_to_front(package)
        self._stack.append(factory(self))

    def dialog(self, title: str, text: str, buttons: list[str], answer: Callable[[str], None] | None = None,
               package: str = "android") -> None:
        self._popup = {"title": title, "text": text, "buttons": list(buttons) or ["OK"], "answer": answer,
                       "package": package}

    def arm_popup(self, package: str, title: str, text: str, buttons: list[str]) -> None:
        """Show this dialog the next time `package` comes to the front (once)."""
        self._armed_popups[package] = {"title": title, "text": text, "buttons": list(buttons)}

    @locked
    def disarm_popups(self) -> None:
        self._armed_popups.clear()

    def _to_background(self) -> None:
        if len(self._stack) > 1:
            top = self._top()
            top.clear_focus()
            top.on_home()
            pkg = self._stack[1].package
            self._tasks.pop(pkg, None)
            self._tasks[pkg] = self._stack[1:]
            self._stack = [self._launcher]

    def _bring_to_front(self, package: str) -> None:
        self._shade = self._overview = False
        if len(self._stack) > 1 and self._stack[1].package == package:
            return
        self._to_background()
        if package in self._tasks:
            self._stack = [self._launcher, *self._tasks.pop(package)]
        else:
            self._stack = [self._launcher, self._apps[package].root(self)]
        armed = self._armed_popups.pop(package, None)
        if armed is not None and self._popup is None:
            self.dialog(armed["title"], armed["text"], armed["buttons"])

    @locked
    def start(self, target: str) -> str | None:
        pkg, _, activity = target.strip().partition("/")
        if pkg == LAUNCHER:
            self._go_home()
            self._changed()
            return None
        app = self._apps.get(pkg)
        if app is None:
            return (f"Error: Activity not started, unable to resolve Intent {{ act=android.intent.action.MAIN "
                    f"cat=[android.intent.category.LAUNCHER] flg=0x10000000 pkg={pkg} }}")
        if activity:
            short = activity[len(pkg):] if activity.startswith(pkg + ".") else activity
            if short not in app.activities and activity not in app.activities:
                full = pkg + activity if activity.startswith(".") else activity
                return f"Error type 3\nError: Activity class {{{pkg}/{full}}} does not exist."
        self._bring_to_front(pkg)
        self._changed()
        return None

    @locked
    def force_stop(self, package: str) -> bool:
        """`am force-stop`: the app's task (and its drafts) is gone; True if it was running."""
        if len(self._stack) > 1 and self._stack[1].package == package:
            self._stack = [self._launcher]
            self._changed()
            return True
        if self._tasks.pop(package, None) is not None:
            self._changed()
            return True
        return False

    def _back(self) -> None:
        if self._popup is not None:
            self._answer_popup(None)    # dialogs are cancelable with BACK
            return
        if self._shade:
            self._shade = False
            return
        if self._overview:
            self._leave_overview()
            return
        top = self._top()
        if top.focus is not None:
            top.clear_focus()           # first BACK hides the keyboard
            return
        if top.on_back():
            return
        if len(self._stack) > 2:
            self._stack.pop()
        elif len(self._stack) == 2:
            self._to_background()

    def _go_home(self) -> None:
        self._shade = self._overview = False
        self._to_background()
        self._launcher.on_home()
        self._kbd = {"shift": False, "symbols": False}

    def _leave_overview(self) -> None:
        """BACK (or APP_SWITCH again) in the overview returns to the app it was opened from."""
        self._overview = False
        if self._overview_prev in self._tasks:
            self._bring_to_front(self._overview_prev)

    def _close_shade(self) -> None:
        self._shade = False

    def _open_task(self, package: str) -> None:
        self._overview = False
        self._bring_to_front(package)

    def _clear_tasks(self) -> None:
        self._tasks.clear()
        self._overview = False

    def _answer_popup(self, button: str | None) -> None:
        p, self._popup = self._popup, None
        if p is None:
            return
        self._popup_log.append({"title": p["title"], "button": button})
        if p["answer"] is not None and button is not None:
            p["answer"](button)
