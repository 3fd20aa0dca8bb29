"""Contacts tasks. The seeded phone has 15 contacts (names from the seed); new names come from lists
that never meet the phone's own, so a new contact cannot collide with an old one."""

from __future__ import annotations

from .task_checks import answer_matches, digits, fail, new_records, ok, only_added
from .task_env import Env, find
from .task_plans import finish, open_app, tap, type_text
from .tasks import Task

FIRST = ["Aiden", "Beatriz", "Carmen", "Dmitri", "Esme", "Felix", "Gita", "Hugo", "Isla", "Jamal", "Keiko",
         "Liam", "Maya", "Nico", "Olga", "Pablo", "Ravi", "Sofia", "Tomas", "Uma", "Viktor", "Wanda", "Yara"]
LAST = ["Abbott", "Brennan", "Carver", "Delgado", "Ellis", "Fontaine", "Gupta", "Holm", "Iversen", "Keller",
        "Lindqvist", "Mendes", "Novak", "Ortega", "Park", "Reyes", "Sato", "Thorne", "Vogel"]
PACKAGE = "com.android.contacts"
PEOPLE = PACKAGE + "/.activities.PeopleActivity"


def new_name(rng, state: dict) -> str:
    taken = {c["name"] for c in state["contacts"]}
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in taken:
            return name


def new_number(rng, state: dict) -> str:
    """A +1 555-01X-XXXX number whose last 7 digits no contact has."""
    taken = {digits(c["phone"])[-7:] for c in state["contacts"]}
    while True:
        number = f"+1 555-01{rng.randint(0, 9)}-{rng.randint(1000, 9999)}"
        if digits(number)[-7:] not in taken:
            return number


def open_contact(name: str) -> list:
    return [open_app("Contacts"), tap(scroll=True, text=name)]


def create_contact(env: Env, name: str) -> None:
    """Through the app: Create contact, type the name, Save."""
    env.start(PEOPLE)
    env.tap(desc="Create contact")
    env.type(name)
    env.tap(rid="editor_menu_save_button")


class Create(Task):
    id = "contacts.create"
    app = "contacts"
    complexity = 2.5
    touches = ("contacts",)
    template = "Add a new contact named {name} with the phone number {phone}."
    description = "exactly one new contact, with that name and the number's digits; no other change"

    def params(self, rng, state):
        return {"name": new_name(rng, state), "phone": new_number(rng, state)}

    def verify(self, initial, final, p, answer):
        c, why = only_added(initial, final, "contacts")
        if c is None:
            return fail(why)
        if c["name"].strip() != p["name"]:
            return fail(f"the new contact is named {c['name']!r}, not {p['name']!r}")
        if digits(c["phone"]) != digits(p["phone"]):
            return fail(f"the new contact's number is {c['phone']!r}, not {p['phone']!r}")
        return ok()

    def solution(self, p):
        return [open_app("Contacts"), tap(desc="Create contact"), tap(rid="name"), type_text(p["name"]),
                tap(rid="phone"), type_text(p["phone"]), tap(rid="editor_menu_save_button"), finish()]


class AddPhone(Task):
    id = "contacts.add_phone"
    app = "contacts"
    complexity = 2.5
    touches = ("contacts",)
    template = "The contact {name} has no phone number yet. Add the number {phone} to it."
    description = "that contact's number has the digits asked, its name is kept; no other contact changes"

    def params(self, rng, state):
        return {"name": new_name(rng, state), "phone": new_number(rng, state)}

    def prepare(self, env, p):
        create_contact(env, p["name"])

    def verify(self, initial, final, p, answer):
        added, removed, changed = new_records(initial, final, "contacts")
        if added or removed or len(changed) != 1:
            return fail(f"{len(added)} contacts added, {len(removed)} removed, {len(changed)} changed; "
                        "expected one changed")
        c = changed[0]
        if c["name"] != p["name"] or digits(c["phone"]) != digits(p["phone"]):
            return fail(f"the changed contact is {c['name']!r} with number {c['phone']!r}")
        return ok()

    def solution(self, p):
        return [*open_contact(p["name"]), tap(desc="Edit contact"), tap(rid="phone"), type_text(p["phone"]),
                tap(rid="editor_menu_save_button"), finish()]


class Delete(Task):
    id = "contacts.delete"
    asks = ("delete",)
    app = "contacts"
    complexity = 2.0
    touches = ("contacts",)
    template = "Delete the contact {name}."
    description = "that contact is gone and every other contact is unchanged"

    def params(self, rng, state):
        c = rng.choice(state["contacts"])
        return {"name": c["name"], "id": c["id"]}

    def verify(self, initial, final, p, answer):
        added, removed, changed = new_records(initial, final, "contacts")
        if added or changed or [c["id"] for c in removed] != [p["id"]]:
            return fail(f"removed {[c['name'] for c in removed]}, added {len(added)}, changed {len(changed)}; "
                        f"expected only {p['name']} removed")
        return ok()

    def solution(self, p):
        return [*open_contact(p["name"]), tap(desc="Delete"), tap(text="Delete", rid="button1"), finish()]


class _Lookup(Task):
    app = "contacts"
    complexity = 1.5
    info = True
    field = ""
    kind = ""

    def params(self, rng, state):
        c = rng.choice(state["contacts"])
        return {"name": c["name"], "value": c[self.field]}

    def verify(self, initial, final, p, answer):
        return answer_matches(self.kind, p["value"], answer)

    def solution(self, p):
        return [*open_contact(p["name"]), finish(answer=lambda nodes: _row_title(nodes, self.field))]


def _row_title(nodes, rid: str) -> str:
    """The title text inside the detail row `rid` (phone or email)."""
    row = find(nodes, rid=rid)
    if row is None:
        return ""
    inside = [n for n in nodes if row.index in n.ancestors and n.rid.endswith("/title")]
    return inside[0].text if inside else row.text


class PhoneLookup(_Lookup):
    id = "contacts.phone_lookup"
    field, kind = "phone", "phone"
    template = "What is {name}'s phone number? Answer with the number."
    description = "the answer has the contact's phone digits"


class EmailLookup(_Lookup):
    id = "contacts.email_lookup"
    field, kind = "email", "email"
    template = "What is the email address of {name}? Answer with the address."
    description = "the answer is the contact's email address"


TASKS = [Create, AddPhone, Delete, PhoneLookup, EmailLookup]
