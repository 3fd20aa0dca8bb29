"""Tasks across apps, and the simplest one of all (open an app)."""

from __future__ import annotations

from fractions import Fraction

from .task_checks import digits, fail, ok, only_added
from .task_plans import finish, open_app, tap, type_text
from .tasks import Task
from .tasks_browser import page
from .tasks_calculator import key_steps, shown
from .tasks_contacts import open_contact
from .tasks_messages import compose_to, sent_one

APPS = {"Settings": "com.android.settings", "Contacts": "com.android.contacts",
        "Messages": "com.google.android.apps.messaging", "Clock": "com.android.deskclock",
        "Calculator": "com.android.calculator2", "Notes": "com.simphone.notes", "Browser": "com.android.chrome"}


class OpenApp(Task):
    id = "system.open_app"
    app = "system"
    complexity = 1.0
    template = "Open the {label} app."
    description = "that app is in the foreground"

    def params(self, rng, state):
        label = rng.choice(sorted(APPS))
        return {"label": label, "package": APPS[label]}

    def verify(self, initial, final, p, answer):
        front = final["foreground"]["package"]
        return ok() if front == p["package"] else fail(f"{front} is in the foreground, not {p['package']}")

    def solution(self, p):
        return [open_app(p["label"]), finish()]


class NoteFromBrowser(Task):
    id = "cross.note_from_browser"
    app = "cross"
    complexity = 3.0
    touches = ("notes",)
    template = ("Find the booking code on the page open in the Browser and save it in a new note titled "
                "\"Booking\" whose text is just the code.")
    description = "exactly one new note titled Booking whose text is the code from the page"

    def params(self, rng, state):
        code = f"{rng.choice('KLMNPQRSTVWXZ')}{rng.choice('KLMNPQRSTVWXZ')}-{rng.randint(1000, 9999)}"
        fact = f"Your booking code for the workshop is {code}; show it at the door."
        return {"code": code, "page": page(rng, fact, at_end=False, paragraphs=2)}

    def prepare(self, env, p):
        env.reader(p["page"])

    def verify(self, initial, final, p, answer):
        n, why = only_added(initial, final, "notes")
        if n is None:
            return fail(why)
        if n["title"].strip() != "Booking" or n["body"].strip() != p["code"]:
            return fail(f"the new note is {n['title']!r}: {n['body']!r}, expected 'Booking': {p['code']!r}")
        return ok()

    def solution(self, p):
        return [open_app("Browser"), open_app("Notes"), tap(desc="New note"), type_text("Booking"),
                tap(rid="body"), type_text(p["code"]), tap(rid="save"), finish()]


class TextCalcResult(Task):
    id = "cross.text_calc_result"
    asks = ("send",)
    app = "cross"
    complexity = 3.0
    touches = ("messages",)
    template = "Compute {expr} with the Calculator and text the result to {name}."
    description = "exactly one new message, to that contact, whose text is the result"

    def params(self, rng, state):
        a, b = rng.randint(12, 99), rng.randint(12, 99)
        return {"expr": f"{a} × {b}", "result": shown(Fraction(a * b)), "name": rng.choice(state["contacts"])["name"]}

    def verify(self, initial, final, p, answer):
        return sent_one(initial, final, p["name"], p["result"])

    def solution(self, p):
        return [open_app("Calculator"), *key_steps(p["expr"]),
                *compose_to(p["name"], {"text": p["name"], "rid": "title"}), type_text(p["result"]),
                tap(desc="Send SMS"), finish()]


class SharePhone(Task):
    id = "cross.share_number"
    asks = ("send",)
    app = "cross"
    complexity = 3.0
    touches = ("messages",)
    template = "Text {name} the phone number of {other}."
    description = "exactly one new message, to that contact, whose digits are the other contact's number"

    def params(self, rng, state):
        a, b = rng.sample(state["contacts"], 2)
        return {"name": a["name"], "other": b["name"], "number": b["phone"]}

    def verify(self, initial, final, p, answer):
        m, why = only_added(initial, final, "messages")
        if m is None:
            return fail(why)
        if m["from"] != "me" or m["to"] != p["name"]:
            return fail(f"the new message went to {m['to']!r}, not {p['name']!r}")
        if digits(m["text"]) not in (digits(p["number"]), digits(p["number"])[1:]):
            return fail(f"the message says {m['text']!r}, not {p['other']}'s number {p['number']}")
        return ok()

    def solution(self, p):
        return [*open_contact(p["other"]), *compose_to(p["name"], {"text": p["name"], "rid": "title"}),
                type_text(p["number"]), tap(desc="Send SMS"), finish()]


TASKS = [OpenApp, NoteFromBrowser, TextCalcResult, SharePhone]
