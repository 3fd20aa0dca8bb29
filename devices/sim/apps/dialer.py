"""Phone (the dialer): a keypad whose call button places a call, and the in-call screen whose
End call button hangs up. No audio: a call is a state (`world.call`, what TelephonyRegistry's
mCallState reports) and an entry in the call log (`world.calls`). DIAL and CALL intents reach it
through phone.surfaces.dial / call (phone/surfaces.py)."""

from __future__ import annotations

from ..phone import ui, widgets as w
from ..phone.glyphs import glyph
from ..phone.ui import Canvas, Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.dialer"
RID = PACKAGE + ":id/"
_KEYS = [("1", "one", ""), ("2", "two", "ABC"), ("3", "three", "DEF"), ("4", "four", "GHI"),
         ("5", "five", "JKL"), ("6", "six", "MNO"), ("7", "seven", "PQRS"), ("8", "eight", "TUV"),
         ("9", "nine", "WXYZ"), ("*", "star", ""), ("0", "zero", "+"), ("#", "pound", "")]
_GREEN, _RED = (24, 128, 56), (217, 48, 37)


def normalise_number(text: str) -> str:
    """What a tel: URI or typed number dials: digits, + * # and the separators people type."""
    return "".join(ch for ch in str(text).strip() if ch.isdigit() or ch in "+*#- ()")


def _round_button(f: Frame, cx: int, cy: int, colour, icon: str, desc: str, rid: str, on_tap) -> View:
    r = f.dp(32)

    def paint(c: Canvas, v: View) -> None:
        c.circle(cx, cy, r, fill=colour)
        glyph(c, icon, cx, cy, f.dp(28), (255, 255, 255), colour)

    return View((cx - r, cy - r, cx + r, cy + r), cls=ui.IMAGE_BUTTON, desc=desc, rid=rid, clickable=True,
                focusable=True, paint=paint, on_tap=on_tap)


class DialerMain(Activity):
    package = PACKAGE
    name = ".main.impl.MainActivity"

    def info(self) -> dict:
        return {"digits": self.fields.get("digits", "")}

    def _press(self, ch: str) -> None:
        self.fields["digits"] = self.fields.get("digits", "") + ch

    def _delete(self) -> None:
        self.fields["digits"] = self.fields.get("digits", "")[:-1]

    def _call(self) -> None:
        if any(ch.isdigit() for ch in self.fields.get("digits", "")):
            self.host.surfaces.call(self.fields.pop("digits"))

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        digits = self.fields.get("digits", "")
        top = f.top + f.dp(24)
        views = [w.label(f, (f.dp(24), top, f.w - f.dp(80), top + f.dp(64)), digits, size=32, align="center",
                         rid=RID + "digits", cls=ui.EDIT_TEXT),
                 w.icon_button(f, f.w - f.dp(44), top + f.dp(32), "backspace", "backspace", self._delete,
                               rid=RID + "deleteButton")]
        call_y = f.bottom - f.dp(56)
        key_h = min(f.dp(72), (call_y - f.dp(48) - top - f.dp(80)) // 4)
        cell_w = (f.w - f.dp(48)) // 3
        y0 = top + f.dp(80)
        for i, (ch, rid, letters) in enumerate(_KEYS):
            r, col = divmod(i, 3)
            b = (f.dp(24) + col * cell_w, y0 + r * key_h, f.dp(24) + (col + 1) * cell_w, y0 + (r + 1) * key_h)

            def paint(c: Canvas, v: View, ch=ch, letters=letters) -> None:
                cx, cy = (v.bounds[0] + v.bounds[2]) // 2, (v.bounds[1] + v.bounds[3]) // 2
                c.text(cx, cy - f.dp(6), ch, f.dp(28), th.text, "mm")
                c.text(cx, cy + f.dp(18), letters, f.dp(10), th.muted, "mm")

            views.append(View(b, cls=ui.FRAME, text=ch, desc=ch, rid=RID + rid, clickable=True, focusable=True,
                              paint=paint, on_tap=lambda ch=ch: self._press(ch)))
        views.append(_round_button(f, f.w // 2, call_y, _GREEN, "phone", "dial",
                                   RID + "dialpad_floating_action_button", self._call))
        return views


class InCall(Activity):
    package = PACKAGE
    name = "com.android.incallui.InCallActivity"

    def on_back(self) -> bool:
        return True   # BACK does not leave a call on SimPhone: End call does

    def build(self, f: Frame) -> list[View]:
        call = self.world.call
        number = call.get("number") or ""
        name, _ = self.world.resolve_recipient(number)
        top = f.top + f.dp(96)
        status = "Calling…" if call["state"] == "offhook" else "Call ended"
        return [w.label(f, (0, top, f.w, top + f.dp(48)), name, size=30, align="center",
                        rid=RID + "contactgrid_contact_name"),
                w.label(f, (0, top + f.dp(56), f.w, top + f.dp(88)), status, size=16, align="center",
                        color=f.theme.muted, rid=RID + "contactgrid_status_text"),
                _round_button(f, f.w // 2, f.bottom - f.dp(72), _RED, "phone", "End call", RID + "incall_end_call",
                              self.host.surfaces.end_call)]


APP = App("Phone", PACKAGE, DialerMain, "phone", _GREEN, (".main.impl.MainActivity", ".DialtactsActivity",
                                                             "com.android.incallui.InCallActivity"))
