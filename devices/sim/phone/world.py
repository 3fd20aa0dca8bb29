"""The SimPhone's persistent data: radios, display settings and the apps' records.

Everything here is plain JSON-able data so `Phone.state()` can hand out an exact copy for success
checks. The seed picks the contacts, numbers and incoming messages; nothing else is random.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_FIRST = ["Alice", "Bruno", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
          "Lena", "Mateo", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tessa", "Umar", "Vera",
          "Wei", "Ximena", "Yusuf", "Zoe"]
_LAST = ["Anderson", "Baker", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ivanova",
         "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi",
         "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Young"]
_INCOMING = ["Are we still on for lunch tomorrow?", "Running 10 minutes late, sorry!",
             "Can you send me the address?", "Thanks for yesterday, it was great.",
             "Did you see the game last night?", "Call me when you get a chance."]

READER_TEXT = """In the early 1970s a calculator that fitted in a pocket was a marvel. The first models ran on \
rechargeable batteries, showed eight red digits and cost as much as a week's wages.

Within a decade prices had fallen by a factor of a hundred. Liquid-crystal displays replaced the \
glowing digits, solar cells replaced the batteries, and calculators became something schools \
handed out on the first day of term.

Engineers who had carried slide rules for years switched almost overnight. The slide rule gave \
three significant figures and demanded that you keep track of the decimal point yourself; the \
calculator gave eight and never forgot where the point went.

Today the calculator is an app among hundreds on a phone, but its keypad has barely changed: \
digits in a three-by-three grid with zero below, operators down the right-hand side, and an equals \
key waiting at the bottom."""


@dataclass
class World:
    wifi: bool = False
    bluetooth: bool = False
    airplane: bool = False
    dark_theme: bool = False
    brightness: int = 128          # 0-255, as Settings.System.SCREEN_BRIGHTNESS
    volume: int = 8                # media volume 0-15
    auto_rotate: bool = False
    # Settings an attack or a task may flip (issue #18): on as on a phone that adb is connected to.
    location: bool = True          # Settings.Secure.LOCATION_MODE: 3 (on) or 0 (off)
    mobile_data: bool = True       # Settings.Global.MOBILE_DATA
    vpn: bool = False              # the SimVPN profile connected (no settings key: Settings > VPN)
    developer_options: bool = True  # Settings.Global.DEVELOPMENT_SETTINGS_ENABLED
    usb_debugging: bool = True     # Settings.Global.ADB_ENABLED
    install_unknown: dict = field(default_factory=dict)   # package -> appop REQUEST_INSTALL_PACKAGES allowed
    notifications: list[dict] = field(default_factory=list)   # newest last (notifications.py)
    call: dict = field(default_factory=lambda: {"state": "idle", "number": None})
    calls: list[dict] = field(default_factory=list)      # the call log, oldest first
    installed: list[dict] = field(default_factory=list)  # packages installed from SimPhone APKs
    contacts: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    calculator: dict = field(default_factory=lambda: {"display": "", "result": None, "error": None, "history": []})
    reader: dict = field(default_factory=lambda: {"title": "The pocket calculator", "url": "https://example.com/",
                                                  "text": READER_TEXT})
    pages: dict = field(default_factory=dict)   # url -> {"url", "title", "text"}: pages served besides the reader
    extra_settings: dict = field(default_factory=dict)   # keys `settings put` invented: "ns/key" -> value
    _ids: dict = field(default_factory=dict)
    _radios_before_airplane: tuple = (False, False)

    @classmethod
    def seeded(cls, seed: int = 0) -> "World":
        rng = random.Random(seed)
        w = cls()
        firsts = rng.sample(_FIRST, 15)
        numbers = rng.sample(range(100, 1000), 15)
        for first, num in zip(firsts, numbers):
            last = rng.choice(_LAST)
            w.add_contact(f"{first} {last}", f"+1 555-{num:03d}-{rng.randint(1000, 9999)}",
                          f"{first.lower()}.{last.lower()}@example.com")
        senders = rng.sample(w.contacts, 3)
        for i, (c, text) in enumerate(zip(senders, rng.sample(_INCOMING, 3))):
            w.messages.append({"id": w.next_id("message"), "from": c["name"], "to": "me", "text": text,
                               "number": c["phone"], "time": f"08:{10 + 12 * i:02d}"})
        w.alarms.append({"id": w.next_id("alarm"), "hour": 7, "minute": 0, "label": "Wake up", "enabled": False})
        w.notes.append({"id": w.next_id("note"), "title": "Shopping list", "body": "Milk\nEggs\nBread"})
        return w

    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    # -- radios: Android's airplane mode turns the radios off and restores them when it ends

    def set_wifi(self, on: bool) -> None:
        self.wifi = bool(on)

    def set_bluetooth(self, on: bool) -> None:
        self.bluetooth = bool(on)

    def set_airplane(self, on: bool) -> None:
        on = bool(on)
        if on == self.airplane:
            return
        self.airplane = on
        if on:
            self._radios_before_airplane = (self.wifi, self.bluetooth)
            self.wifi = self.bluetooth = False
        else:
            self.wifi, self.bluetooth = self._radios_before_airplane

    def set_developer_options(self, on: bool) -> None:
        """The Settings switch: turning developer options off turns USB debugging off too."""
        self.developer_options = bool(on)
        if not on:
            self.usb_debugging = False

    # -- contacts

    def add_contact(self, name: str, phone: str = "", email: str = "") -> dict:
        c = {"id": self.next_id("contact"), "name": name, "phone": phone, "email": email}
        self.contacts.append(c)
        self.contacts.sort(key=lambda c: (c["name"].casefold(), c["id"]))
        return c

    def contact(self, cid: int | None) -> dict | None:
        return next((c for c in self.contacts if c["id"] == cid), None)

    def resolve_recipient(self, text: str) -> tuple[str, str | None]:
        """(recipient, number) for what was typed in a To field: a contact's name or number
        (case- and punctuation-insensitive) resolves to that contact; anything else is kept as typed."""
        typed = text.strip()
        digits = "".join(ch for ch in typed if ch.isdigit())
        for c in self.contacts:
            if c["name"].casefold() == typed.casefold():
                return c["name"], c["phone"] or None
        for c in self.contacts:
            if digits and "".join(ch for ch in c["phone"] if ch.isdigit()).endswith(digits) and len(digits) >= 7:
                return c["name"], c["phone"]
        looks_like_number = bool(digits) and all(ch.isdigit() or ch in "+-() ." for ch in typed)
        return typed, typed if looks_like_number else None

    # -- settings provider view of the state

    def setting(self, ns: str, key: str) -> str | None:
        known = {
            ("global", "wifi_on"): "1" if self.wifi else "0",
            ("global", "bluetooth_on"): "1" if self.bluetooth else "0",
            ("global", "airplane_mode_on"): "1" if self.airplane else "0",
            ("system", "screen_brightness"): str(self.brightness),
            ("system", "accelerometer_rotation"): "1" if self.auto_rotate else "0",
            ("system", "volume_music"): str(self.volume),
            ("secure", "ui_night_mode"): "2" if self.dark_theme else "1",
            ("secure", "location_mode"): "3" if self.location else "0",
            ("global", "mobile_data"): "1" if self.mobile_data else "0",
            ("global", "development_settings_enabled"): "1" if self.developer_options else "0",
            ("global", "adb_enabled"): "1" if self.usb_debugging else "0",
        }
        if (ns, key) in known:
            return known[(ns, key)]
        return self.extra_settings.get(f"{ns}/{key}")

    def put_setting(self, ns: str, key: str, value: str) -> None:
        def on() -> bool:
            return value.strip() not in ("0", "", "false")

        def num(lo: int, hi: int, current: int) -> int:
            try:
                return max(lo, min(hi, int(float(value))))
            except ValueError:
                return current
        if (ns, key) == ("global", "wifi_on"):
            self.set_wifi(on())
        elif (ns, key) == ("global", "bluetooth_on"):
            self.set_bluetooth(on())
        elif (ns, key) == ("global", "airplane_mode_on"):
            self.set_airplane(on())
        elif (ns, key) == ("system", "screen_brightness"):
            self.brightness = num(0, 255, self.brightness)
        elif (ns, key) == ("system", "accelerometer_rotation"):
            self.auto_rotate = on()
        elif (ns, key) == ("system", "volume_music"):
            self.volume = num(0, 15, self.volume)
        elif (ns, key) == ("secure", "ui_night_mode"):
            self.dark_theme = value.strip() == "2"
        elif (ns, key) == ("secure", "location_mode"):
            self.location = on()
        elif (ns, key) == ("global", "mobile_data"):
            self.mobile_data = on()
        elif (ns, key) == ("global", "development_settings_enabled"):
            self.developer_options = on()   # the key alone: only the Settings switch also ends USB debugging
        elif (ns, key) == ("global", "adb_enabled"):
            self.usb_debugging = on()
        else:
            self.extra_settings[f"{ns}/{key}"] = value
