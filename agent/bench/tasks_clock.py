"""Clock tasks: adding, switching, editing, deleting and reading alarms. Alarms the task needs are
made in setup through the Clock app itself (SimPhone's shell has no command for them)."""

from __future__ import annotations

from .task_checks import answer_matches, fail, new_records, ok, only_added
from .task_env import Env, find
from .task_plans import finish, open_app, seek, tap, type_text
from .tasks import Task

PACKAGE = "com.android.deskclock"
LABELS = ["Gym", "Pills", "Standup", "Call mom", "Bus", "Laundry", "Yoga", "Pick up kids", "Water plants"]


def random_time(rng, avoid: set[tuple[int, int]] = frozenset()) -> tuple[int, int]:
    while True:
        t = (rng.randint(5, 22), rng.choice(range(5, 60, 5)))
        if t not in avoid and t not in ((7, 0), (8, 0)):
            return t


def hhmm(t: tuple[int, int]) -> str:
    return f"{t[0]:02d}:{t[1]:02d}"


def taken_times(state: dict) -> set[tuple[int, int]]:
    return {(a["hour"], a["minute"]) for a in state["alarms"]}


def set_time_steps(t: tuple[int, int]) -> list:
    return [tap(rid="hour"), type_text(f"{t[0]:02d}"), tap(rid="minute"), type_text(f"{t[1]:02d}")]


def create_alarm(env: Env, t: tuple[int, int], label: str = "", enabled: bool = True) -> None:
    """Through the app: Add alarm, hour, minute, label, Save; then the switch when it must be off."""
    env.start(PACKAGE + "/.DeskClock")
    env.tap(desc="Add alarm")
    for rid, value in (("hour", f"{t[0]:02d}"), ("minute", f"{t[1]:02d}"), ("label", label)):
        if value:
            env.tap(rid=rid)
            env.type(value)
    env.key("KEYCODE_BACK")   # hide the keyboard so Save is where the dump says
    env.tap(rid="save")
    if not enabled:
        env.tap(desc=f"{hhmm(t)} alarm")


def _alarm(state: dict, t: tuple[int, int]) -> dict | None:
    return next((a for a in state["alarms"] if (a["hour"], a["minute"]) == tuple(t)), None)


class AddAlarm(Task):
    id = "clock.add_alarm"
    app = "clock"
    complexity = 2.0
    touches = ("alarms",)
    template = "Set an alarm for {time}."
    description = "exactly one new alarm, at that time, switched on"

    def params(self, rng, state):
        t = random_time(rng, taken_times(state))
        return {"t": t, "time": hhmm(t)}

    def verify(self, initial, final, p, answer):
        a, why = only_added(initial, final, "alarms")
        if a is None:
            return fail(why)
        if (a["hour"], a["minute"]) != tuple(p["t"]) or not a["enabled"]:
            return fail(f"the new alarm is {hhmm((a['hour'], a['minute']))}, enabled={a['enabled']}")
        return ok()

    def solution(self, p):
        return [open_app("Clock"), tap(desc="Add alarm"), *set_time_steps(p["t"]), tap(rid="save"), finish()]


class AddLabelledAlarm(AddAlarm):
    id = "clock.add_labelled_alarm"
    complexity = 2.5
    template = "Set an alarm for {time} labelled \"{label}\"."
    description = "exactly one new alarm, at that time, with that label, switched on"

    def params(self, rng, state):
        return {**super().params(rng, state), "label": rng.choice(LABELS)}

    def verify(self, initial, final, p, answer):
        check = super().verify(initial, final, p, answer)
        if not check.success:
            return check
        a = only_added(initial, final, "alarms")[0]
        return ok() if a["label"].strip() == p["label"] else fail(f"the label is {a['label']!r}, not {p['label']!r}")

    def solution(self, p):
        return [open_app("Clock"), tap(desc="Add alarm"), *set_time_steps(p["t"]), tap(rid="label"),
                type_text(p["label"]), tap(rid="save"), finish()]


class _Existing(Task):
    """Tasks about an alarm that setup creates."""

    app = "clock"
    touches = ("alarms",)
    start_enabled = True

    def params(self, rng, state):
        t = random_time(rng, taken_times(state))
        labels = [lb for lb in LABELS if lb not in {a["label"] for a in state["alarms"]}]
        return {"t": t, "time": hhmm(t), "label": rng.choice(labels)}

    def prepare(self, env, p):
        create_alarm(env, p["t"], p["label"], self.start_enabled)

    def target(self, initial: dict, final: dict, p: dict):
        """(the alarm before, after) when it is the only alarm that changed, else (None, why)."""
        before = _alarm(initial, p["t"])
        added, removed, changed = new_records(initial, final, "alarms")
        if added or removed or [a["id"] for a in changed] != [before["id"]]:
            return None, (f"{len(added)} alarms added, {len(removed)} removed, {len(changed)} changed; "
                          f"expected only the {p['time']} alarm changed")
        return (before, changed[0]), ""


class ToggleAlarm(_Existing):
    id = "clock.toggle_alarm"
    complexity = 1.5
    template = "Turn {state} the {time} alarm."
    description = "that alarm's switch is as asked, its time and label kept; no other alarm changes"

    def params(self, rng, state):
        on = rng.random() < 0.5
        return {**super().params(rng, state), "on": on, "state": "on" if on else "off"}

    def prepare(self, env, p):
        create_alarm(env, p["t"], p["label"], enabled=not p["on"])

    def verify(self, initial, final, p, answer):
        pair, why = self.target(initial, final, p)
        if pair is None:
            return fail(why)
        before, after = pair
        if after != {**before, "enabled": p["on"]}:
            return fail(f"the alarm became {after}")
        return ok()

    def solution(self, p):
        return [open_app("Clock"), tap(scroll=True, desc=f"{p['time']} alarm"), finish()]


class EditAlarm(_Existing):
    id = "clock.edit_alarm"
    complexity = 2.5
    template = "Change the {time} alarm to {new_time}."
    description = "that alarm (same id and label) now rings at the new time; no other alarm changes"

    def params(self, rng, state):
        p = super().params(rng, state)
        new = random_time(rng, taken_times(state) | {tuple(p["t"])})
        return {**p, "new": new, "new_time": hhmm(new)}

    def verify(self, initial, final, p, answer):
        pair, why = self.target(initial, final, p)
        if pair is None:
            return fail(why)
        before, after = pair
        want = {**before, "hour": p["new"][0], "minute": p["new"][1], "enabled": True}
        return ok() if after == want else fail(f"the alarm became {after}, expected {want}")

    def solution(self, p):
        return [open_app("Clock"), tap(scroll=True, text=p["time"]), *set_time_steps(p["new"]), tap(rid="save"),
                finish()]


class DeleteAlarm(_Existing):
    id = "clock.delete_alarm"
    asks = ("delete",)
    complexity = 1.5
    template = "Delete the alarm labelled \"{label}\"."
    description = "that alarm is gone and every other alarm is unchanged"

    def verify(self, initial, final, p, answer):
        before = _alarm(initial, p["t"])
        added, removed, changed = new_records(initial, final, "alarms")
        if added or changed or [a["id"] for a in removed] != [before["id"]]:
            return fail(f"{len(added)} alarms added, {len(changed)} changed, removed {removed}")
        return ok()

    def solution(self, p):
        return [open_app("Clock"), seek(text=p["label"]), tap(desc="Delete alarm", near={"text": p["label"]}),
                finish()]


class AlarmTime(_Existing):
    id = "clock.alarm_time"
    complexity = 1.2
    info = True
    touches = ()
    template = "At what time is my \"{label}\" alarm set? Answer with the time as HH:MM."
    description = "the answer is that alarm's time"

    def verify(self, initial, final, p, answer):
        return answer_matches("time", p["time"], answer)

    def solution(self, p):
        def read(nodes):
            n = find(nodes, near={"text": p["label"]}, rid="digital_clock")
            return n.text if n else ""
        return [open_app("Clock"), seek(text=p["label"]), finish(answer=read)]


TASKS = [AddAlarm, AddLabelledAlarm, ToggleAlarm, EditAlarm, DeleteAlarm, AlarmTime]
