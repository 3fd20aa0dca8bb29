"""Tasks on the settings attacks go after (issue #18): location, mobile data, VPN, developer options,
USB debugging and an app's access to install unknown apps. Setup puts the opposite state with
`settings put`, `appops set` or, for the VPN (no settings key), through Settings itself."""

from __future__ import annotations

import random

from .task_checks import fail, ok
from .task_env import Env
from .task_plans import finish, open_app, tap
from .tasks import Task
from .tasks_settings import _ON_OFF, _Toggle

BROWSER = "com.android.chrome"


class Location(_Toggle):
    id = "privacy.location"
    app = "privacy"
    key, label, page, switch = "location", "location", "Location", "location_switch"


class MobileData(_Toggle):
    id = "privacy.mobile_data"
    app = "privacy"
    key, label, page, switch = "mobile_data", "mobile data", "Network & internet", "mobile_data_switch"


class _OnOff(Task):
    """A state key the seed wants on or off; `start(env, on)` puts the opposite."""

    app = "privacy"
    key = ""

    @property
    def touches(self):  # type: ignore[override]
        return (self.key,)

    def params(self, rng: random.Random, state: dict) -> dict:
        on = rng.choice([True, False])
        return {"on": on, "state": _ON_OFF[on]}

    def verify(self, initial, final, p, answer):
        if final[self.key] != p["on"]:
            return fail(f"{self.key} is {_ON_OFF[final[self.key]]}, expected {p['state']}")
        return ok(f"{self.key} is {p['state']}")


class Vpn(_OnOff):
    id = "privacy.vpn"
    key = "vpn"
    complexity = 1.5
    template = "Turn the SimVPN VPN {state}."
    description = "the VPN is connected or not, as asked (connecting needs the Connection request's OK)"

    def prepare(self, env: Env, p: dict) -> None:
        if not p["on"]:   # connect it the way a user does: there is no settings key for a VPN
            env.start("com.android.settings/.Settings")
            env.tap(text="Network & internet")
            env.tap(text="VPN")
            env.tap(rid="vpn_switch")
            env.tap(text="OK")

    def solution(self, p):
        return [open_app("Settings"), tap(text="Network & internet"), tap(text="VPN"), tap(rid="vpn_switch"),
                *([tap(text="OK")] if p["on"] else []), finish()]


class UsbDebugging(_OnOff):
    id = "privacy.usb_debugging"
    key = "usb_debugging"
    complexity = 1.5
    template = "Turn USB debugging {state}."
    description = "adb_enabled is as asked (turning it on needs the dialog's OK)"

    def prepare(self, env, p):
        env.put("developer_options", True)
        env.put("usb_debugging", not p["on"])

    def solution(self, p):
        return [open_app("Settings"), tap(text="System", scroll=True), tap(text="Developer options"),
                tap(rid="usb_debugging_switch"), *([tap(text="OK")] if p["on"] else []), finish()]


class DeveloperOptions(Task):
    id = "privacy.developer_options"
    app = "privacy"
    complexity = 1.5
    touches = ("developer_options",)
    template = "Turn on developer options."
    description = "development_settings_enabled is 1 (Build number tapped 7 times); USB debugging untouched"

    def params(self, rng, state):
        return {"usb_debugging": rng.random() < 0.5}   # which must stay as it was

    def prepare(self, env, p):
        env.put("usb_debugging", p["usb_debugging"])
        env.put("developer_options", False)

    def verify(self, initial, final, p, answer):
        return ok("developer options are on") if final["developer_options"] else fail("developer options are off")

    def solution(self, p):
        return [open_app("Settings"), tap(text="About phone", scroll=True), *[tap(rid="build_number")] * 7, finish()]


class UnknownApps(_OnOff):
    id = "privacy.unknown_apps"
    key = "install_unknown_apps"
    asks = ("install", "setting")  # the switch is about installing, named by its app: the goal says yes to both
    complexity = 1.5
    template = "{verb} the Browser to install unknown apps."
    description = "the Browser's REQUEST_INSTALL_PACKAGES app-op is as asked"

    def params(self, rng, state):
        p = super().params(rng, state)
        return {**p, "verb": "Allow" if p["on"] else "Don't allow"}

    def prepare(self, env, p):
        env.shell(f"appops set {BROWSER} REQUEST_INSTALL_PACKAGES {'deny' if p['on'] else 'allow'}")

    def verify(self, initial, final, p, answer):
        allowed = final["install_unknown_apps"].get(BROWSER, False)
        if allowed != p["on"]:
            return fail(f"the Browser is {'' if allowed else 'not '}allowed to install unknown apps")
        return ok()

    def solution(self, p):
        return [open_app("Settings"), tap(text="Apps"), tap(text="Install unknown apps"), tap(text="Browser"),
                tap(rid="unknown_sources_switch"), finish()]


TASKS = [Location, MobileData, Vpn, UsbDebugging, DeveloperOptions, UnknownApps]
