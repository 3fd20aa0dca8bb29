"""Notes: a list of notes and an editor with a title and a multi-line body.

Text is stored exactly as typed (no trimming): a note is {"id", "title", "body"}. Save is explicit;
BACK or the up arrow leaves the editor without saving, like a form.
"""

from __future__ import annotations

from ..phone import ui, widgets as w
from ..phone.ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.simphone.notes"
RID = PACKAGE + ":id/"


class NotesList(Activity):
    package = PACKAGE
    name = ".NotesActivity"

    def build(self, f: Frame) -> list[View]:
        bar, lst = w.list_screen(f, self.scroll, "Notes", rid=RID + "notes_list", items=self.world.notes,
                                 row=lambda n, y: self._card(f, n, y), empty="No notes yet", pad=8, gap=12)
        fab = w.fab(f, "plus", "New note", lambda: self.host.tasks.push(NoteEditor(self.host, None)),
                    rid=RID + "new_note")
        return [lst, bar, fab]

    def _card(self, f: Frame, n: dict, y: int) -> View:
        th = f.theme
        l, r = f.dp(16), f.w - f.dp(16)
        title = w.label(f, (l + f.dp(16), y + f.dp(12), r - f.dp(16), y + f.dp(40)), n["title"] or "Untitled", size=18,
                        rid=RID + "note_title")
        body = w.paragraph(f, l + f.dp(16), y + f.dp(44), r - l - f.dp(32), n["body"], size=14, color=th.muted,
                           rid=RID + "note_body", max_lines=3)
        bottom = max(body.bounds[3], y + f.dp(44)) + f.dp(12)
        card = View((l, y, r, bottom), cls=ui.FRAME, rid=RID + "note_card", clickable=True, focusable=True,
                    paint=lambda c, v: c.rect(v.bounds, fill=th.surface, outline=th.divider, radius=f.dp(16)),
                    on_tap=lambda nid=n["id"]: self.host.tasks.push(NoteEditor(self.host, nid)))
        return card.add(title, body)


class NoteEditor(Activity):
    package = PACKAGE
    name = ".EditNoteActivity"

    def __init__(self, host, note_id: int | None):
        super().__init__(host)
        self.note_id = note_id
        n = next((n for n in self.world.notes if n["id"] == note_id), None)
        if n is not None:
            self.fields.update(title=n["title"], body=n["body"])
        else:
            self.request_focus("title")

    def info(self) -> dict:
        return {"note_id": self.note_id, "fields": dict(self.fields)}

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        actions = [w.bar_action(f, text="Save", on_tap=self.save, rid=RID + "save")]
        if self.note_id is not None:
            actions.append(w.bar_action(f, icon="trash", desc="Delete note", on_tap=self.delete, rid=RID + "delete"))
        bar = w.app_bar(f, "New note" if self.note_id is None else "Edit note", on_up=self.finish, actions=actions)
        top = bar.bounds[3]
        form = ui.Scroll((0, top, f.w, f.bottom), self.scroll, "form", reveal=self.reveal, cls=ui.SCROLL_VIEW,
                         fill=th.bg)
        y = top + f.dp(12)
        title = w.text_field(f, self, "title", f.dp(16), y, f.w - f.dp(32), label_text="Title", rid=RID + "title",
                             on_submit=lambda: self.request_focus("body"))
        body = w.text_field(f, self, "body", f.dp(16), title.bounds[3] + f.dp(16), f.w - f.dp(32), label_text="Note",
                            rid=RID + "body", multiline=True, min_lines=6)
        form.add(title, body)
        form.finish(body.bounds[3] + f.dp(16))
        return [form, bar]

    def save(self) -> None:
        title, body = self.fields.get("title", ""), self.fields.get("body", "")
        n = next((n for n in self.world.notes if n["id"] == self.note_id), None)
        if n is not None:
            n.update(title=title, body=body)
        elif title or body:   # an empty new note is discarded, as note apps do
            self.world.notes.append({"id": self.world.next_id("note"), "title": title, "body": body})
        self.finish()

    def delete(self) -> None:
        self.world.notes[:] = [n for n in self.world.notes if n["id"] != self.note_id]
        self.finish()


APP = App("Notes", PACKAGE, NotesList, "note", (227, 116, 0), (".NotesActivity",))
