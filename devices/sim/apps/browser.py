"""Browser: a web-page-like reader that shows whatever text `Phone.set_reader_text` gave it.

The text is untrusted by design (prompt-injection tests): it is wrapped, scrolled and dumped as
plain text, one node per paragraph, and never interpreted.
"""

from __future__ import annotations

from .. import ui, widgets as w
from ..glyphs import glyph
from ..ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.chrome"
RID = PACKAGE + ":id/"


class BrowserMain(Activity):
    package = PACKAGE
    name = "com.google.android.apps.chrome.Main"

    def info(self) -> dict:
        return {"scroll": self.scroll.get("page", 0)}

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        page = self.world.reader
        bar_h = f.dp(64)
        top = f.top
        bar = View((0, top, f.w, top + bar_h), cls=ui.FRAME, rid=RID + "toolbar",
                   paint=lambda c, v: c.rect(v.bounds, fill=th.bg))
        pill = (f.dp(12), top + f.dp(8), f.w - f.dp(12), top + bar_h - f.dp(8))
        bar.add(View(pill, in_xml=False, paint=lambda c, v: (
            c.rect(v.bounds, fill=th.surface2, radius=(v.bounds[3] - v.bounds[1]) // 2),
            glyph(c, "lock", v.bounds[0] + f.dp(24), (v.bounds[1] + v.bounds[3]) // 2, f.dp(16), th.muted, th.surface2))))
        bar.add(w.label(f, (pill[0] + f.dp(44), pill[1], pill[2] - f.dp(16), pill[3]), page["url"], size=16,
                        rid=RID + "url_bar", cls=ui.EDIT_TEXT))
        content_top = top + bar_h
        scroll = ui.Scroll((0, content_top, f.w, f.bottom), self.scroll, "page", rid=RID + "compositor_view_holder",
                           cls="android.webkit.WebView", fill=th.bg)
        pad = f.dp(20)
        y = content_top + f.dp(16)
        if page["title"]:
            title = w.paragraph(f, pad, y, f.w - 2 * pad, page["title"], size=26)
            scroll.add(title)
            y = title.bounds[3] + f.dp(16)
        # One node per paragraph: the dump stays readable and off-screen paragraphs drop out of it.
        for para in page["text"].split("\n"):
            if not para.strip():
                y += f.dp(12)
                continue
            p = w.paragraph(f, pad, y, f.w - 2 * pad, para, size=17, cls=ui.TEXT_VIEW)
            scroll.add(p)
            y = p.bounds[3] + f.dp(4)
        scroll.finish(y + f.dp(32))
        return [scroll, bar]


APP = App("Browser", PACKAGE, BrowserMain, "globe", (217, 48, 37), ("com.google.android.apps.chrome.Main", ".Main"))
