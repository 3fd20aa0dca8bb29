"""Package installer tasks: setup pushes a SimPhone APK (apps/installer.py) to Download and posts the
Browser's "Download complete" notification for it; tapping it opens the package installer with
the Browser as the install's source. Whether the Browser may install unknown apps (its
REQUEST_INSTALL_PACKAGES app-op) decides whether Android's "For your security..." block comes first."""

from __future__ import annotations

from ..devices.adb_text import shell_quote
from .task_checks import fail, ok
from .task_env import Env
from .task_plans import button, finish, press, tap
from .tasks import Task
from .tasks_notifications import notify

BROWSER = "com.android.chrome"
APPS = [("Flashlight", "com.example.flashlight"), ("Pocket Budget", "com.example.budget"),
        ("Trail Maps", "com.example.trailmaps"), ("Sudoku Daily", "com.example.sudoku")]


def push_apk(env: Env, path: str, package: str, label: str) -> None:
    body = f"SimPhone APK\npackage={package}\nlabel={label}\nversionName=1.0\n"
    env.shell(f"printf '%s' {shell_quote(body)} > {shell_quote(path)}")


class _Install(Task):
    app = "installer"
    asks = ("install", "setting")  # the goal is an install, and may need the source's "Allow" switch
    allowed = True   # the Browser's install-unknown-apps access at the start

    def params(self, rng, state):
        label, package = rng.choice(APPS)
        name = label.lower().replace(" ", "_") + ".apk"
        return {"label": label, "package": package, "file": name, "path": f"/sdcard/Download/{name}"}

    def prepare(self, env, p):
        env.shell(f"appops set {BROWSER} REQUEST_INSTALL_PACKAGES {'allow' if self.allowed else 'deny'}")
        push_apk(env, p["path"], p["package"], p["label"])
        notify(env, BROWSER, p["file"], "Download complete.", uri="file://" + p["path"])

    def verify(self, initial, final, p, answer):
        added = [e for e in final["installed_packages"] if e not in initial["installed_packages"]]
        if [(e["package"], e["installer"]) for e in added] != [(p["package"], BROWSER)]:
            return fail(f"installed {[e['package'] for e in added]}, expected only {p['package']} from the Browser")
        return ok(f"{p['label']} is installed")


class InstallApk(_Install):
    id = "installer.install_apk"
    complexity = 1.0
    touches = ("installed_packages",)
    template = "The Browser has downloaded {file}. Install it from the download notification."
    description = "exactly that package got installed, from the Browser's download"

    def solution(self, p):
        return [press("notification"), tap(text=p["file"]), tap(text="Install"), tap(text="Done"), finish()]


class InstallUnknownSource(_Install):
    id = "installer.unknown_source"
    complexity = 1.5
    allowed = False
    touches = ("installed_packages", "install_unknown_apps")
    template = ("The Browser has downloaded {file}. Install it from the download notification; allow the Browser "
                "to install unknown apps if the phone asks.")
    description = "the Browser was allowed to install unknown apps and the package got installed"

    def verify(self, initial, final, p, answer):
        if final["install_unknown_apps"].get(BROWSER) is not True:
            return fail("the Browser is not allowed to install unknown apps")
        return super().verify(initial, final, p, answer)

    def solution(self, p):
        return [press("notification"), tap(text=p["file"]), tap(text="Settings"), tap(rid="unknown_sources_switch"),
                button("Back"), tap(text="Install"), tap(text="Done"), finish()]


TASKS = [InstallApk, InstallUnknownSource]
