"""Contacts: a scrolling list, a contact's detail page, and the create/edit form."""

from __future__ import annotations

from ..phone import ui, widgets as w
from ..phone.glyphs import glyph
from ..phone.ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.contacts"
RID = PACKAGE + ":id/"


class PeopleActivity(Activity):
    package = PACKAGE
    name = ".activities.PeopleActivity"

    def build(self, f: Frame) -> list[View]:
        def row(c: dict, y: int) -> View:
            return w.nav_row(f, y, c["name"], None, lambda: self.host.tasks.push(ContactDetail(self.host, c["id"])),
                             avatar_name=c["name"], rid=RID + "contact_row", height=64)

        bar, lst = w.list_screen(f, self.scroll, "Contacts", rid=RID + "contact_list", items=self.world.contacts,
                                 row=row, empty="No contacts")
        fab = w.fab(f, "plus", "Create contact", lambda: self.host.tasks.push(ContactEditor(self.host, None)),
                    rid=RID + "floating_action_button")
        return [lst, bar, fab]


class ContactDetail(Activity):
    package = PACKAGE
    name = ".activities.QuickContactActivity"

    def __init__(self, host, contact_id: int):
        super().__init__(host)
        self.contact_id = contact_id

    def info(self) -> dict:
        return {"contact_id": self.contact_id}

    def build(self, f: Frame) -> list[View]:
        c = self.world.contact(self.contact_id)
        if c is None:  # deleted underneath us (e.g. through another path): nothing to show
            return [w.app_bar(f, "Contact", on_up=self.finish)]
        th = f.theme
        actions = [w.bar_action(f, icon="trash", desc="Delete", on_tap=self._confirm_delete, rid=RID + "menu_delete"),
                   w.bar_action(f, icon="edit", desc="Edit contact", rid=RID + "menu_edit",
                                on_tap=lambda: self.host.tasks.push(ContactEditor(self.host, self.contact_id)))]
        bar = w.app_bar(f, "", on_up=self.finish, actions=actions)
        top = bar.bounds[3]
        body = ui.Scroll((0, top, f.w, f.bottom), self.scroll, "detail", cls=ui.SCROLL_VIEW, fill=th.bg)
        r = f.dp(48)
        cy = top + f.dp(16) + r
        body.add(View((f.w // 2 - r, cy - r, f.w // 2 + r, cy + r), in_xml=False,
                      paint=lambda cv, v: w.avatar(cv, f.w // 2, (v.bounds[1] + v.bounds[3]) // 2, r, c["name"])))
        y = cy + r + f.dp(16)
        body.add(w.label(f, (f.dp(16), y, f.w - f.dp(16), y + f.dp(40)), c["name"], size=28, align="center",
                         rid=RID + "large_title"))
        y += f.dp(56)
        bw = f.dp(120)
        body.add(w.button(f, (f.w // 2 - bw // 2, y, f.w // 2 + bw // 2, y + f.dp(40)), "Message", self._message,
                          style="tonal", rid=RID + "message_button", enabled=bool(c["phone"])))
        y += f.dp(56)
        for icon, value, rid in (("phone", c["phone"], "phone"), ("mail", c["email"], "email")):
            if not value:
                continue
            row = w.nav_row(f, y, value, "Mobile" if icon == "phone" else "Email", None, icon=icon,
                            rid=RID + rid, height=72)
            body.add(row)
            y = row.bounds[3]
        body.finish(y + f.dp(16))
        return [body, bar]

    def _message(self) -> None:
        from .messages import Conversation
        c = self.world.contact(self.contact_id)
        if c is not None:
            self.host.tasks.launch("com.google.android.apps.messaging", lambda host: Conversation(host, c["name"]))

    def _confirm_delete(self) -> None:
        def answer(button: str) -> None:
            if button == "Delete":
                self.world.contacts[:] = [c for c in self.world.contacts if c["id"] != self.contact_id]
                self.finish()
        self.host.tasks.dialog("Delete this contact?", "It will be removed from this device.", ["Cancel", "Delete"],
                         answer, package=PACKAGE)


class ContactEditor(Activity):
    package = PACKAGE
    name = ".activities.ContactEditorActivity"

    def __init__(self, host, contact_id: int | None):
        super().__init__(host)
        self.contact_id = contact_id
        c = self.world.contact(contact_id) if contact_id is not None else None
        if c is not None:
            self.fields.update(name=c["name"], phone=c["phone"], email=c["email"])
        else:
            self.request_focus("name")   # a new contact opens with the keyboard on Name, as on Android

    def info(self) -> dict:
        return {"contact_id": self.contact_id, "fields": dict(self.fields)}

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        title = "Create contact" if self.contact_id is None else "Edit contact"
        save = w.bar_action(f, text="Save", on_tap=self.save, rid=RID + "editor_menu_save_button")
        bar = w.app_bar(f, title, on_up=self.finish, actions=[save])
        close = bar.children[0]
        close.desc = "Cancel"
        close.paint = lambda c, v: glyph(c, "close", (v.bounds[0] + v.bounds[2]) // 2,
                                         (v.bounds[1] + v.bounds[3]) // 2, f.dp(24), th.text, th.bg)
        top = bar.bounds[3]
        form = ui.Scroll((0, top, f.w, f.bottom), self.scroll, "form", reveal=self.reveal, cls=ui.SCROLL_VIEW,
                         fill=th.bg)
        y = top + f.dp(16)
        keys = ["name", "phone", "email"]
        for key, label_text in zip(keys, ["Name", "Phone", "Email"]):
            nxt = keys[keys.index(key) + 1] if key != "email" else None
            fld = w.text_field(f, self, key, f.dp(16), y, f.w - f.dp(32), label_text=label_text, rid=RID + key,
                               on_submit=(lambda k=nxt: self.request_focus(k)) if nxt else self.save)
            form.add(fld)
            y = fld.bounds[3] + f.dp(16)
        form.finish(y)
        return [form, bar]

    def save(self) -> None:
        name, phone, email = (self.fields.get(k, "").strip() for k in ("name", "phone", "email"))
        if not (name or phone or email):   # Android discards an empty contact
            self.finish()
            return
        name = name or phone or email
        if self.contact_id is None:
            c = self.world.add_contact(name, phone, email)
            self.host.tasks.replace(self, ContactDetail(self.host, c["id"]))
            return
        c = self.world.contact(self.contact_id)
        if c is not None:
            c.update(name=name, phone=phone, email=email)
            self.world.contacts.sort(key=lambda c: (c["name"].casefold(), c["id"]))
        self.finish()


APP = App("Contacts", PACKAGE, PeopleActivity, "person", (26, 115, 232),
          (".activities.PeopleActivity", ".ContactsListActivity"))
