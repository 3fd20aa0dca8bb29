"""Phone (dialer) tasks: place a call on the keypad and hang up. Checks read the call log (`calls`)
and the call state (`call`, what `dumpsys telephony.registry` reports as mCallState)."""

from __future__ import annotations

from .task_checks import digits, fail, ok, only_added
from .task_plans import finish, open_app, tap
from .tasks import Task

_KEY_IDS = dict(zip("0123456789", ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")))


def keypad(number: str) -> list:
    return [tap(rid=_KEY_IDS[d]) for d in digits(number)]


class _Call(Task):
    app = "dialer"
    asks = ("call",)
    touches = ("calls",)

    def verify(self, initial, final, p, answer):
        call, why = only_added(initial, final, "calls")
        if call is None:
            return fail(why)
        if digits(call["number"]) != digits(p["number"]):
            return fail(f"called {call['number']}, not {p['number']}")
        if final["call"]["state"] != "idle":
            return fail("the call was not hung up")
        return ok(f"called {p['number']} and hung up")

    def solution(self, p):
        return [open_app("Phone"), *keypad(p["number"]), tap(desc="dial"), tap(desc="End call"), finish()]


class CallNumber(_Call):
    id = "dialer.call_number"
    complexity = 1.5
    template = "Call {number} with the Phone app, then hang up."
    description = "one outgoing call to that number in the call log, and no call going on"

    def params(self, rng, state):
        return {"number": f"555-{rng.randint(100, 999):03d}-{rng.randint(1000, 9999)}"}


class CallContact(_Call):
    id = "dialer.call_contact"
    complexity = 2.5
    template = "Call {name} (the number is in Contacts) with the Phone app, then hang up."
    description = "one outgoing call to that contact's number, and no call going on"

    def params(self, rng, state):
        contact = rng.choice([c for c in state["contacts"] if c["phone"]])
        return {"name": contact["name"], "number": contact["phone"]}


TASKS = [CallNumber, CallContact]
