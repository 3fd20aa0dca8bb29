"""Settings tasks: radios, display and sound. Setup puts the opposite state with `settings put`."""

from __future__ import annotations

import random

from .task_checks import fail, ok
from .task_env import Env
from .task_plans import button, finish, open_app, slide, tap
from .tasks import Task

_ON_OFF = {True: "on", False: "off"}


class _Toggle(Task):
    """Turn one switch on or off (the seed picks which); setup puts it the other way."""

    app = "settings"
    complexity = 1.0
    key = ""
    label = ""
    page = ""
    switch = ""

    @property
    def touches(self):  # type: ignore[override]
        return (self.key,)

    @property
    def template(self):  # type: ignore[override]
        return "Turn " + self.label + " {state}."

    @property
    def description(self):  # type: ignore[override]
        return f"{self.key} is as asked"

    def params(self, rng: random.Random, state: dict) -> dict:
        on = rng.random() < 0.5
        return {"on": on, "state": _ON_OFF[on]}

    def prepare(self, env: Env, p: dict) -> None:
        env.put("airplane", False)
        env.put(self.key, not p["on"])

    def verify(self, initial, final, p, answer):
        if final[self.key] != p["on"]:
            return fail(f"{self.key} is {_ON_OFF[final[self.key]]}, expected {p['state']}")
        return ok(f"{self.key} is {p['state']}")

    def solution(self, p):
        return [open_app("Settings"), tap(text=self.page), tap(rid=self.switch), finish()]


class Wifi(_Toggle):
    id = "settings.wifi"
    key, label, page, switch = "wifi", "Wi-Fi", "Network & internet", "wifi_switch"


class Bluetooth(_Toggle):
    id = "settings.bluetooth"
    key, label, page, switch = "bluetooth", "Bluetooth", "Connected devices", "bluetooth_switch"


class DarkTheme(_Toggle):
    id = "settings.dark_theme"
    complexity = 1.2
    key, label, page, switch = "dark_theme", "the dark theme", "Display", "dark_theme_switch"


class AutoRotate(_Toggle):
    id = "settings.auto_rotate"
    complexity = 1.2
    key, label, page, switch = "auto_rotate", "auto-rotate screen", "Display", "auto_rotate_switch"


class Airplane(_Toggle):
    id = "settings.airplane"
    complexity = 1.2
    key, label, page, switch = "airplane", "airplane mode", "Network & internet", "airplane_switch"
    touches = ("airplane", "wifi", "bluetooth")   # Android's airplane mode switches the radios
    description = "airplane mode is as asked"

    def params(self, rng, state):
        return {**super().params(rng, state), "wifi": rng.random() < 0.5, "bluetooth": rng.random() < 0.5}

    def prepare(self, env, p):
        env.put("airplane", False)
        env.put("wifi", p["wifi"])
        env.put("bluetooth", p["bluetooth"])
        env.put("airplane", not p["on"])


class Radios(Task):
    id = "settings.radios"
    app = "settings"
    complexity = 2.0
    touches = ("wifi", "bluetooth")
    template = "Turn Wi-Fi {wifi_state} and Bluetooth {bt_state}."
    description = "wifi and bluetooth are both as asked"

    def params(self, rng, state):
        wifi, bt = rng.random() < 0.5, rng.random() < 0.5
        return {"wifi": wifi, "bluetooth": bt, "wifi_state": _ON_OFF[wifi], "bt_state": _ON_OFF[bt]}

    def prepare(self, env, p):
        env.put("airplane", False)
        env.put("wifi", not p["wifi"])
        env.put("bluetooth", not p["bluetooth"])

    def verify(self, initial, final, p, answer):
        if (final["wifi"], final["bluetooth"]) != (p["wifi"], p["bluetooth"]):
            return fail(f"wifi {_ON_OFF[final['wifi']]}, bluetooth {_ON_OFF[final['bluetooth']]}; expected "
                        f"{p['wifi_state']} and {p['bt_state']}")
        return ok()

    def solution(self, p):
        return [open_app("Settings"), tap(text="Network & internet"), tap(rid="wifi_switch"), button("Back"),
                tap(text="Connected devices"), tap(rid="bluetooth_switch"), finish()]


class Brightness(Task):
    id = "settings.brightness"
    app = "settings"
    complexity = 2.0
    touches = ("brightness",)
    template = "Set the screen brightness to {percent}%."
    description = "brightness shows exactly the percentage asked"

    def params(self, rng, state):
        percent = rng.choice([10, 20, 30, 40, 60, 70, 80, 90])
        start = rng.choice([p for p in (15, 50, 85) if abs(p - percent) > 10])
        return {"percent": percent, "start": round(start * 255 / 100)}

    def prepare(self, env, p):
        env.put("brightness", p["start"])

    def verify(self, initial, final, p, answer):
        shown = round(final["brightness"] * 100 / 255)
        return ok() if shown == p["percent"] else fail(f"brightness is {shown}%, expected {p['percent']}%")

    def solution(self, p):
        return [open_app("Settings"), tap(text="Display"),
                slide(round(p["percent"] * 255 / 100), 0, 255, rid="brightness_slider"), finish()]


class Volume(Task):
    id = "settings.volume"
    app = "settings"
    complexity = 2.0
    touches = ("volume",)
    template = "Set the media volume to {level} out of 15."
    description = "media volume is exactly the level asked"

    def params(self, rng, state):
        level = rng.choice([v for v in range(1, 15) if v != 8])
        return {"level": level, "start": rng.choice([v for v in (2, 8, 13) if v != level])}

    def prepare(self, env, p):
        env.put("volume", p["start"])

    def verify(self, initial, final, p, answer):
        return ok() if final["volume"] == p["level"] else fail(f"volume is {final['volume']}, expected {p['level']}")

    def solution(self, p):
        return [open_app("Settings"), tap(text="Sound & vibration"),
                slide(p["level"], 0, 15, rid="media_volume_slider"), finish()]


TASKS = [Wifi, Bluetooth, Airplane, DarkTheme, AutoRotate, Radios, Brightness, Volume]
