"""Messages: conversation list, a conversation thread, and composing to a contact or a number.

A sent message is recorded as {"id", "from": "me", "to", "text", "number", "time"}: `to` is the
contact's full name when the To field named a contact (or its number), else exactly what was typed.
"""

from __future__ import annotations

from ..phone import ui, widgets as w
from ..phone.text import text_width, wrap
from ..phone.ui import Canvas, Frame, View
from . import App
from .base import Activity

PACKAGE = "com.google.android.apps.messaging"
RID = PACKAGE + ":id/"


def peer_of(m: dict) -> str:
    return m["to"] if m["from"] == "me" else m["from"]


class ConversationList(Activity):
    package = PACKAGE
    name = ".ui.ConversationListActivity"

    def build(self, f: Frame) -> list[View]:
        latest: dict[str, dict] = {}
        for m in self.world.messages:   # newest message per peer, newest conversation first
            latest[peer_of(m)] = m
        convs = sorted(latest.values(), key=lambda m: -m["id"])

        def row(m: dict, y: int) -> View:
            peer = peer_of(m)
            snippet = ("You: " if m["from"] == "me" else "") + m["text"]
            return w.nav_row(f, y, peer, snippet, lambda: self.host.tasks.push(Conversation(self.host, peer)),
                             avatar_name=peer, rid=RID + "conversation_row", height=80)

        bar, lst = w.list_screen(f, self.scroll, "Messages", rid=RID + "conversation_list", items=convs, row=row,
                                 empty="No conversations yet")
        fab = w.fab(f, "chat", "Start chat", lambda: self.host.tasks.push(Conversation(self.host, None)),
                    rid=RID + "start_chat_fab", text="Start chat")
        return [lst, bar, fab]


class Conversation(Activity):
    package = PACKAGE
    name = ".ui.conversation.ConversationActivity"

    def __init__(self, host, peer: str | None):
        super().__init__(host)
        self.peer = peer
        if peer is None:
            self.request_focus("to")

    def info(self) -> dict:
        return {"peer": self.peer, "fields": dict(self.fields)}

    def build(self, f: Frame) -> list[View]:
        bar = w.app_bar(f, self.peer or "New conversation", on_up=self.finish, rid=RID + "conversation_title")
        top = bar.bounds[3]
        views: list[View] = []
        if self.peer is None:
            to = w.text_field(f, self, "to", f.dp(16), top + f.dp(8), f.w - f.dp(32), label_text="To",
                              rid=RID + "recipient_text_view", on_submit=lambda: self.request_focus("message"))
            views.append(to)
            top = to.bounds[3] + f.dp(8)
        compose = self._compose_bar(f)
        bottom = compose.bounds[1]
        body = self._suggestions(f, top, bottom) if self.peer is None else self._thread(f, top, bottom)
        return [body, *views, compose, bar]

    def _compose_bar(self, f: Frame) -> View:
        th = f.theme
        send_w = f.dp(56)
        field = w.text_field(f, self, "message", f.dp(12), 0, f.w - f.dp(24) - send_w, label_text="Text message",
                             rid=RID + "compose_message_text", multiline=True)
        h = field.bounds[3] + f.dp(16)
        top = f.bottom - h
        field.shift(top + f.dp(8))
        bar = View((0, top, f.w, f.bottom), cls=ui.LINEAR, rid=RID + "compose_container",
                   paint=lambda c, v: c.rect(v.bounds, fill=th.bg))
        can_send = bool(self.fields.get("message", "").strip()) and bool(self.peer or self.fields.get("to", "").strip())
        send = w.icon_button(f, f.w - f.dp(12) - send_w // 2, field.bounds[3] - f.dp(28), "send", "Send SMS",
                             self.send, rid=RID + "send_message_button", enabled=can_send,
                             color=th.primary)
        return bar.add(field, send)

    def _suggestions(self, f: Frame, top: int, bottom: int) -> View:
        th = f.theme
        typed = self.fields.get("to", "").strip()
        lst = ui.Scroll((0, top, f.w, bottom), self.scroll, "suggestions", rid=RID + "contact_picker", fill=th.bg)
        y = top
        matches = [c for c in self.world.contacts if _matches(c, typed)]
        for c in matches:
            row = w.nav_row(f, y, c["name"], c["phone"], lambda n=c["name"]: self._pick(n), avatar_name=c["name"],
                            rid=RID + "contact_suggestion", height=72)
            lst.add(row)
            y = row.bounds[3]
        if typed and not matches:
            row = w.nav_row(f, y, f"Send to {typed}", None, lambda: self._pick(typed), icon="send",
                            rid=RID + "send_to_typed", height=64)
            lst.add(row)
            y = row.bounds[3]
        return lst.finish(y)

    def _pick(self, recipient: str) -> None:
        self.peer = self.world.resolve_recipient(recipient)[0]
        self.fields.pop("to", None)
        self.request_focus("message")

    def _thread(self, f: Frame, top: int, bottom: int) -> View:
        th = f.theme
        px = f.dp(16)
        lst = ui.Scroll((0, top, f.w, bottom), self.scroll, "thread", rid=RID + "messages_list", fill=th.bg,
                        stick_bottom=True)
        y = top + f.dp(8)
        max_w = int(f.w * 0.72)
        for m in self.world.messages:
            if peer_of(m) != self.peer:
                continue
            mine = m["from"] == "me"
            text_w = min(max_w - f.dp(32), max(text_width(line, px) for line in wrap(m["text"], px, max_w - f.dp(32))))
            para = w.paragraph(f, 0, 0, max_w - f.dp(32), m["text"], size=16, rid=RID + "message_text",
                               color=th.on_container if mine else th.text)
            bw = text_w + f.dp(32)
            bh = para.bounds[3] + f.dp(20)
            left = f.w - f.dp(12) - bw if mine else f.dp(12)
            bubble = View((left, y, left + bw, y + bh), cls=ui.FRAME, rid=RID + "message_content",
                          desc=f"{'You' if mine else m['from']}: {m['text']} {m['time']}",
                          paint=lambda c, v, mine=mine: _bubble(c, v, th, mine, f.dp(18)))
            para.bounds = (left + f.dp(16), y + f.dp(10), left + f.dp(16) + text_w, y + f.dp(10) + para.bounds[3])
            bubble.add(para)
            lst.add(bubble)
            y += bh + f.dp(8)
        return lst.finish(y)

    def send(self) -> None:
        text = self.fields.get("message", "")
        target = self.peer or self.fields.get("to", "")
        if not text.strip() or not target.strip():
            return
        to, number = self.world.resolve_recipient(target)
        self.world.messages.append({"id": self.world.next_id("message"), "from": "me", "to": to, "text": text,
                                    "number": number, "time": self.host.clock()})
        self.peer = to
        self.fields.pop("to", None)
        self.fields["message"] = ""
        self.scroll.pop("thread", None)   # jump to the newest message
        self.focus = "message"


def _matches(contact: dict, typed: str) -> bool:
    """Suggestions match a prefix of the name or of any word in it, or digits of the number."""
    q = typed.casefold()
    name = contact["name"].casefold()
    if not q or name.startswith(q) or any(word.startswith(q) for word in name.split()):
        return True
    digits = "".join(ch for ch in typed if ch.isdigit())
    return len(digits) >= 3 and digits in "".join(ch for ch in contact["phone"] if ch.isdigit())


def _bubble(c: Canvas, v: View, th, mine: bool, radius: int) -> None:
    c.rect(v.bounds, fill=th.container if mine else th.surface2, radius=radius)


APP = App("Messages", PACKAGE, ConversationList, "chat", (11, 87, 208),
          (".ui.ConversationListActivity",))
