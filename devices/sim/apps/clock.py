"""Clock: the alarm list (on/off switches, delete) and an editor with hour/minute fields, +/- buttons
and a label. Saved alarms are {"id", "hour", "minute", "label", "enabled"} in World.alarms."""

from __future__ import annotations

from ..phone import ui, widgets as w
from ..phone.ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.deskclock"
RID = PACKAGE + ":id/"


class DeskClock(Activity):
    package = PACKAGE
    name = ".DeskClock"

    def build(self, f: Frame) -> list[View]:
        bar, lst = w.list_screen(f, self.scroll, "Alarm", rid=RID + "alarm_recycler_view", items=self.world.alarms,
                                 row=lambda a, y: self._card(f, a, y), empty="No alarms", pad=8, gap=12)
        fab = w.fab(f, "plus", "Add alarm", lambda: self.host.tasks.push(AlarmEditor(self.host, None)), rid=RID + "fab")
        return [lst, bar, fab]

    def _card(self, f: Frame, a: dict, y: int) -> View:
        th = f.theme
        h = f.dp(112)
        l, r = f.dp(16), f.w - f.dp(16)
        time_text = f"{a['hour']:02d}:{a['minute']:02d}"
        card = View((l, y, r, y + h), cls=ui.FRAME, rid=RID + "alarm_item",
                    paint=lambda c, v: c.rect(v.bounds, fill=th.surface, radius=f.dp(24)))
        edit = lambda aid=a["id"]: self.host.tasks.push(AlarmEditor(self.host, aid))
        card.add(w.label(f, (l + f.dp(20), y + f.dp(12), r - f.dp(120), y + f.dp(64)), time_text, size=40,
                         color=th.text if a["enabled"] else th.muted, rid=RID + "digital_clock", on_tap=edit,
                         desc=f"Alarm {time_text}"))
        card.add(w.label(f, (l + f.dp(20), y + f.dp(68), r - f.dp(120), y + f.dp(96)), a["label"] or "No label",
                         size=14, color=th.muted, rid=RID + "edit_label", on_tap=edit))

        def toggle(a=a) -> None:
            a["enabled"] = not a["enabled"]
        card.add(w.switch(f, (r - f.dp(84), y + f.dp(14), r - f.dp(16), y + f.dp(62)), a["enabled"], toggle,
                          rid=RID + "onoff", desc=f"{time_text} alarm"))
        card.add(w.icon_button(f, r - f.dp(50), y + f.dp(84), "trash", "Delete alarm", lambda aid=a["id"]: self._delete(aid),
                               rid=RID + "delete", bg=th.surface))
        return card

    def _delete(self, aid: int) -> None:
        self.world.alarms[:] = [a for a in self.world.alarms if a["id"] != aid]


class AlarmEditor(Activity):
    package = PACKAGE
    name = ".AlarmEditActivity"

    def __init__(self, host, alarm_id: int | None):
        super().__init__(host)
        self.alarm_id = alarm_id
        a = next((a for a in self.world.alarms if a["id"] == alarm_id), None)
        hour, minute, label = (a["hour"], a["minute"], a["label"]) if a else (8, 0, "")
        self.fields.update(hour=f"{hour:02d}", minute=f"{minute:02d}", label=label)
        self.error = ""

    def info(self) -> dict:
        return {"alarm_id": self.alarm_id, "fields": dict(self.fields), "error": self.error or None}

    def _value(self, key: str) -> int | None:
        text = self.fields.get(key, "").strip()
        return int(text) if text.isdigit() and text.isascii() else None

    def _step(self, key: str, delta: int) -> None:
        mod = 24 if key == "hour" else 60
        self.fields[key] = f"{((self._value(key) or 0) + delta) % mod:02d}"
        self.error = ""

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        title = "Add alarm" if self.alarm_id is None else "Edit alarm"
        bar = w.app_bar(f, title, on_up=self.finish)
        top = bar.bounds[3]
        form = ui.Scroll((0, top, f.w, f.bottom), self.scroll, "form", reveal=self.reveal, cls=ui.SCROLL_VIEW,
                         fill=th.bg)
        fw = f.dp(96)
        gap = f.dp(40)
        cx = f.w // 2
        y = top + f.dp(8)
        for key, x in (("hour", cx - gap // 2 - fw), ("minute", cx + gap // 2)):
            name = key.capitalize()
            form.add(w.icon_button(f, x + fw // 2, y + f.dp(24), "plus", f"Increase {key}",
                                   lambda k=key: self._step(k, 1), rid=RID + f"{key}_up"))
            form.add(w.text_field(f, self, key, x, y + f.dp(56), fw, label_text=name, rid=RID + key, size=32,
                                  select_all=True, align="center",
                                  on_submit=lambda k=key: self.request_focus("minute", True) if k == "hour"
                                  else self.request_focus("label")))
            form.add(w.icon_button(f, x + fw // 2, y + f.dp(56 + 80 + 32), "minus", f"Decrease {key}",
                                   lambda k=key: self._step(k, -1), rid=RID + f"{key}_down"))
        colon_y = y + f.dp(56 + 40)
        form.add(w.label(f, (cx - gap // 2, colon_y - f.dp(24), cx + gap // 2, colon_y + f.dp(24)), ":", size=40,
                         align="center", in_xml=False))
        y += f.dp(56 + 80 + 64)
        lab = w.text_field(f, self, "label", f.dp(24), y, f.w - f.dp(48), label_text="Label", rid=RID + "label",
                           on_submit=self.save)
        form.add(lab)
        y = lab.bounds[3] + f.dp(8)
        if self.error:
            form.add(w.label(f, (f.dp(24), y, f.w - f.dp(24), y + f.dp(24)), self.error, size=14, color=th.error,
                             rid=RID + "error"))
            y += f.dp(28)
        y += f.dp(16)
        bw = f.dp(112)
        form.add(w.button(f, (f.w - f.dp(24) - bw, y, f.w - f.dp(24), y + f.dp(40)), "Save", self.save,
                          rid=RID + "save"))
        form.add(w.button(f, (f.w - f.dp(32) - 2 * bw, y, f.w - f.dp(32) - bw, y + f.dp(40)), "Cancel",
                          self.finish, style="text", rid=RID + "cancel"))
        form.finish(y + f.dp(56))
        return [form, bar]

    def save(self) -> None:
        hour, minute = self._value("hour"), self._value("minute")
        if hour is None or minute is None or not (0 <= hour < 24 and 0 <= minute < 60):
            self.error = "Enter a time between 00:00 and 23:59"
            return
        label = self.fields.get("label", "").strip()
        a = next((a for a in self.world.alarms if a["id"] == self.alarm_id), None)
        if a is None:
            self.world.alarms.append({"id": self.world.next_id("alarm"), "hour": hour, "minute": minute,
                                      "label": label, "enabled": True})
        else:
            a.update(hour=hour, minute=minute, label=label, enabled=True)
        self.finish()


APP = App("Clock", PACKAGE, DeskClock, "clock", (57, 73, 171), (".DeskClock",))
