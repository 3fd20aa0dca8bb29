"""Messages tasks: sending to a contact or a number, replying, and reading what came in. The
seeded phone holds three incoming messages from three of its contacts."""

from __future__ import annotations

from .task_checks import answer_matches, digits, fail, ok, only_added
from .task_env import find
from .task_plans import finish, open_app, tap, type_text
from .tasks import Task
from .tasks_contacts import new_number

PLACES = ["the station", "the library", "gate 12", "the north entrance", "Cafe Luna", "the parking lot"]
TEXTS = ["Meet me at {place} at {time}", "I will be at {place} around {time}", "See you at {place} at {time}",
         "Running late, at {place} by {time}"]


def message_text(rng) -> str:
    time = f"{rng.randint(10, 19)}:{rng.choice(['00', '15', '30', '45'])}"
    return rng.choice(TEXTS).format(place=rng.choice(PLACES), time=time)


def sent_one(initial: dict, final: dict, to: str | None, text: str, *, number: str | None = None):
    """Check that exactly one message was added: from me, to `to` (or to `number`'s digits), with
    `text` (surrounding spaces ignored)."""
    m, why = only_added(initial, final, "messages")
    if m is None:
        return fail(why)
    if m["from"] != "me":
        return fail(f"the new message is from {m['from']!r}")
    if to is not None and m["to"] != to:
        return fail(f"the message went to {m['to']!r}, not {to!r}")
    if number is not None and digits(m["number"]) != digits(number):
        return fail(f"the message went to {m['number']!r}, not {number!r}")
    if m["text"].strip() != text:
        return fail(f"the message says {m['text']!r}, not {text!r}")
    return ok()


def compose_to(name_or_number: str, pick: dict) -> list:
    return [open_app("Messages"), tap(desc="Start chat"), type_text(name_or_number), tap(**pick)]


def _incoming(state: dict) -> list[dict]:
    return [m for m in state["messages"] if m["to"] == "me"]


class SendToContact(Task):
    id = "messages.send_contact"
    asks = ("send",)
    app = "messages"
    complexity = 2.0
    touches = ("messages",)
    template = "Send a text message to {name} saying: {text}"
    description = "exactly one new message, to that contact, with that text"

    def params(self, rng, state):
        return {"name": rng.choice(state["contacts"])["name"], "text": message_text(rng)}

    def verify(self, initial, final, p, answer):
        return sent_one(initial, final, p["name"], p["text"])

    def solution(self, p):
        return [*compose_to(p["name"], {"text": p["name"], "rid": "title"}), type_text(p["text"]), tap(desc="Send SMS"), finish()]


class SendToNumber(Task):
    id = "messages.send_number"
    asks = ("send",)
    app = "messages"
    complexity = 2.0
    touches = ("messages",)
    template = "Text the number {number}: {text}"
    description = "exactly one new message, to that number's digits, with that text"

    def params(self, rng, state):
        return {"number": new_number(rng, state), "text": message_text(rng)}

    def verify(self, initial, final, p, answer):
        return sent_one(initial, final, None, p["text"], number=p["number"])

    def solution(self, p):
        return [*compose_to(p["number"], {"text": f"Send to {p['number']}", "rid": "title"}), type_text(p["text"]),
                tap(desc="Send SMS"), finish()]


class Reply(Task):
    id = "messages.reply"
    asks = ("send",)
    app = "messages"
    complexity = 1.5
    touches = ("messages",)
    template = "Reply to {name}'s text with: {text}"
    description = "exactly one new message, to the sender, with that text"

    def params(self, rng, state):
        return {"name": rng.choice(_incoming(state))["from"], "text": message_text(rng)}

    def verify(self, initial, final, p, answer):
        return sent_one(initial, final, p["name"], p["text"])

    def solution(self, p):
        return [open_app("Messages"), tap(text=p["name"]), tap(rid="compose_message_text"), type_text(p["text"]),
                tap(desc="Send SMS"), finish()]


class ReadIncoming(Task):
    id = "messages.read"
    app = "messages"
    complexity = 1.2
    info = True
    template = "What did {name} text me? Answer with their message."
    description = "the answer holds the sender's message text"

    def params(self, rng, state):
        m = rng.choice(_incoming(state))
        return {"name": m["from"], "text": m["text"]}

    def verify(self, initial, final, p, answer):
        return answer_matches("text", p["text"], answer)

    def solution(self, p):
        return [open_app("Messages"), tap(text=p["name"]),
                finish(answer=lambda nodes: (find(nodes, rid="message_text") or find(nodes)).text)]


class WhoSent(Task):
    id = "messages.who_sent"
    app = "messages"
    complexity = 1.2
    info = True
    template = "Someone texted me \"{text}\". Who was it? Answer with their name."
    description = "the answer names the sender"

    def params(self, rng, state):
        m = rng.choice(_incoming(state))
        return {"name": m["from"], "text": m["text"]}

    def verify(self, initial, final, p, answer):
        return answer_matches("name", p["name"], answer)

    def solution(self, p):
        def sender(nodes):
            snippet = find(nodes, text=p["text"])
            row = find(nodes, near={"text": p["text"]}, rid="title") if snippet else None
            return row.text if row else ""
        return [open_app("Messages"), finish(answer=sender)]


TASKS = [SendToContact, SendToNumber, Reply, ReadIncoming, WhoSent]
