"""Launcher tasks whose screen differs per seed: the home screen's icons are scattered over a grid
by a layout drawn from the seed (`settings put secure simphone_launcher_layout N`), so a model must
find the icon it is asked for on the screen; no fixed tap learned from other seeds lands on it.

`launcher.open_app` is the family `vlagent train` is benchmarked on (docs/training.md): trained
on some seeds' oracle runs, scored on seeds it never saw. `launcher.open_lone_app` is its first
lesson: one app, drawn from the seed, is the only icon on the home screen (the others removed
from it) and the goal does not name it, so a model learns where an icon is before it must learn
which one.
"""

from __future__ import annotations

from .task_checks import fail, ok
from .task_plans import finish, tap
from .tasks import Task

# label -> package, the apps on the home screen
APPS = {
    "Settings": "com.android.settings", "Contacts": "com.android.contacts",
    "Messages": "com.google.android.apps.messaging", "Clock": "com.android.deskclock",
    "Calculator": "com.android.calculator2", "Notes": "com.simphone.notes", "Browser": "com.android.chrome",
}
LAYOUT_SETTING = "secure simphone_launcher_layout"
HOME_APPS_SETTING = "secure simphone_launcher_home"


class OpenFromHome(Task):
    id = "launcher.open_app"
    app = "launcher"
    complexity = 1   # a tap and a terminate, within the suite's smallest budget (10 steps)
    template = "Open the {label} app."
    description = "that app is in front (its icon on a home screen laid out by the seed)"

    def params(self, rng, state):
        return {"label": rng.choice(sorted(APPS)), "layout": rng.randrange(10**6)}

    def prepare(self, env, p):
        env.shell(f"settings put {LAYOUT_SETTING} {p['layout']}")

    def verify(self, initial, final, p, answer):
        front = final["foreground"]["package"]
        if front != APPS[p["label"]]:
            return fail(f"{front} is in front, not {p['label']} ({APPS[p['label']]})")
        return ok(f"{p['label']} is in front")

    def solution(self, p):
        return [tap(desc=p["label"]), finish()]


class OpenLoneApp(OpenFromHome):
    id = "launcher.open_lone_app"
    # The goal does not name the app: with one icon on the screen the name says nothing about
    # where to tap, and the small model, trained from nothing, sat on the floor of a model that
    # does not look for as long as the name varied (docs/training.md, eighth pass).
    template = "Open the app on the home screen."
    description = "that app is in front (its icon alone on the home screen, in a cell drawn from the seed)"

    def prepare(self, env, p):
        super().prepare(env, p)
        env.shell(f"settings put {HOME_APPS_SETTING} {APPS[p['label']]}")


TASKS = [OpenFromHome, OpenLoneApp]
