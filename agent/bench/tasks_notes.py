"""Notes tasks: writing, appending to, deleting and reading notes. Notes a task needs are written
in setup through the Notes app."""

from __future__ import annotations

from .task_checks import answer_matches, fail, new_records, ok, only_added
from .task_env import Env, find
from .task_plans import finish, open_app, press, seek, tap, type_text
from .tasks import Task

PACKAGE = "com.simphone.notes"
TOPICS = ["Trip to Lisbon", "Book club", "Garden plan", "Birthday ideas", "Recipe swap", "Bike repair",
          "Reading list", "Move checklist"]
ITEMS = ["tent", "passport", "charger", "seeds", "candles", "rope", "stamps", "batteries", "gloves", "maps"]
CODES = ["Door", "Gate", "Locker", "Garage", "Alarm panel", "Bike lock"]


def free_title(rng, state: dict, choices: list[str]) -> str:
    taken = {n["title"] for n in state["notes"]}
    return rng.choice([c for c in choices if c not in taken])


def items(rng, n: int) -> list[str]:
    return rng.sample(ITEMS, n)


def create_note(env: Env, title: str, body: str) -> None:
    env.start(PACKAGE + "/.NotesActivity")
    env.tap(desc="New note")
    env.type(title)
    env.tap(rid="body")
    env.type(body)
    env.tap(rid="save")


def _note(state: dict, title: str) -> dict | None:
    return next((n for n in state["notes"] if n["title"] == title), None)


class CreateNote(Task):
    id = "notes.create"
    app = "notes"
    complexity = 2.0
    touches = ("notes",)
    template = "Create a note titled \"{title}\" whose text is: {body}"
    description = "exactly one new note with that title and text (ends trimmed)"

    def params(self, rng, state):
        return {"title": free_title(rng, state, TOPICS), "body": "Bring " + ", ".join(items(rng, 3))}

    def verify(self, initial, final, p, answer):
        n, why = only_added(initial, final, "notes")
        if n is None:
            return fail(why)
        if (n["title"].strip(), n["body"].strip()) != (p["title"], p["body"]):
            return fail(f"the new note is {n['title']!r}: {n['body']!r}")
        return ok()

    def solution(self, p):
        return [open_app("Notes"), tap(desc="New note"), type_text(p["title"]), tap(rid="body"),
                type_text(p["body"]), tap(rid="save"), finish()]


class AppendLine(Task):
    id = "notes.append"
    app = "notes"
    complexity = 2.5
    touches = ("notes",)
    template = "Add \"{item}\" as a new last line of my note \"{title}\"."
    description = "that note's text is the old lines plus the new one, title kept; no other note changes"

    def params(self, rng, state):
        first = items(rng, 4)
        return {"title": free_title(rng, state, TOPICS), "body": "\n".join(first[:3]), "item": first[3]}

    def prepare(self, env, p):
        create_note(env, p["title"], p["body"])

    def verify(self, initial, final, p, answer):
        added, removed, changed = new_records(initial, final, "notes")
        before = _note(initial, p["title"])
        if added or removed or [n["id"] for n in changed] != [before["id"]]:
            return fail(f"{len(added)} notes added, {len(removed)} removed, {len(changed)} changed; "
                        f"expected only \"{p['title']}\" changed")
        n = changed[0]
        want = p["body"] + "\n" + p["item"]
        if n["title"] != p["title"] or n["body"].rstrip() != want:
            return fail(f"the note now reads {n['body']!r}, expected {want!r}")
        return ok()

    def solution(self, p):
        return [open_app("Notes"), tap(scroll=True, text=p["title"]), tap(rid="body"), press("enter"),
                type_text(p["item"]), tap(rid="save"), finish()]


class DeleteNote(Task):
    id = "notes.delete"
    asks = ("delete",)
    app = "notes"
    complexity = 1.5
    touches = ("notes",)
    template = "Delete my note \"{title}\"."
    description = "that note is gone and every other note is unchanged"

    def params(self, rng, state):
        return {"title": free_title(rng, state, TOPICS), "body": "\n".join(items(rng, 2))}

    def prepare(self, env, p):
        create_note(env, p["title"], p["body"])

    def verify(self, initial, final, p, answer):
        added, removed, changed = new_records(initial, final, "notes")
        if added or changed or [n["id"] for n in removed] != [_note(initial, p["title"])["id"]]:
            return fail(f"{len(added)} notes added, {len(changed)} changed, removed {[n['title'] for n in removed]}")
        return ok()

    def solution(self, p):
        return [open_app("Notes"), tap(scroll=True, text=p["title"]), tap(desc="Delete note"), finish()]


class ReadCode(Task):
    id = "notes.read_code"
    app = "notes"
    complexity = 1.2
    info = True
    template = "What is the {what} code saved in my notes? Answer with the code."
    description = "the answer is the code written in the note"

    def params(self, rng, state):
        what = free_title(rng, state, [f"{c} code" for c in CODES]).removesuffix(" code")
        return {"what": what.lower(), "title": f"{what} code", "code": str(rng.randint(1000, 99999))}

    def prepare(self, env, p):
        create_note(env, p["title"], p["code"])

    def verify(self, initial, final, p, answer):
        return answer_matches("code", p["code"], answer)

    def solution(self, p):
        def read(nodes):
            n = find(nodes, near={"text": p["title"]}, rid="note_body")
            return n.text if n else ""
        return [open_app("Notes"), seek(text=p["title"]), finish(answer=read)]


TASKS = [CreateNote, AppendLine, DeleteNote, ReadCode]
