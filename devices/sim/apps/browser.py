"""Browser: a web-page-like reader that shows whatever text `Phone.set_reader_text` gave it.

The text is untrusted by design (prompt-injection tests): it is wrapped, scrolled and dumped as
plain text, one node per paragraph, and never interpreted.

The reader page is served at its URL (`world.reader["url"]`), and `cmd simphone page URL TEXT` adds
pages at other addresses (`world.pages`). A VIEW intent (`am start -a android.intent.action.VIEW
-d URL`, Phone.open_url) loads URL in the browser: the page served there, otherwise Chrome's
network error page, since SimPhone has no
internet: "No internet" while Wi-Fi is off, "This site can't be reached" (the name does not
resolve) while it is on.

The address bar is Chrome's omnibox: a tap selects the URL for typing over, Enter (or the IME's
Go) loads what was typed; a bare host gets https:// as Chrome adds it. BACK while editing leaves
the page as it was.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..phone import ui, widgets as w
from ..phone.glyphs import glyph
from ..phone.ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.chrome"
RID = PACKAGE + ":id/"


def _page_key(url: str) -> tuple[str, str, str]:
    """What makes two URLs the same page: host and path (http and https, a missing final slash and
    the host's case do not count)."""
    parts = urlsplit(url if "://" in url else "https://" + url)
    return (parts.netloc.lower(), parts.path.rstrip("/"), parts.query)


def _error_page(world, url: str) -> dict:
    host = urlsplit(url).netloc or url
    if not world.wifi:
        return {"url": url, "title": "No internet",
                "text": "Try:\nChecking the network cables, modem and router\nReconnecting to Wi-Fi\n\n"
                        "ERR_INTERNET_DISCONNECTED"}
    return {"url": url, "title": "This site can't be reached",
            "text": f"Check if there is a typo in {host}.\n\nDNS_PROBE_FINISHED_NXDOMAIN"}


class BrowserMain(Activity):
    package = PACKAGE
    name = "com.google.android.apps.chrome.Main"

    def __init__(self, host, url: str | None = None):
        super().__init__(host)
        self.url = url          # None: the reader page, whatever its address

    def load(self, url: str) -> None:
        self.url = url
        self.scroll.clear()     # a new page starts at the top

    def _edit_url(self) -> None:
        self.fields["url"] = self.page()["url"]
        self.request_focus("url", select_all=True)

    def _go(self) -> None:
        typed = self.fields.pop("url", "").strip()
        self.clear_focus()
        if typed:
            self.load(typed if "://" in typed else "https://" + typed)

    def clear_focus(self) -> None:
        super().clear_focus()
        self.fields.pop("url", None)   # leaving the omnibox drops what was typed

    def page(self) -> dict:
        reader = self.world.reader
        if self.url is None or _page_key(self.url) == _page_key(reader["url"]):
            return reader
        served = next((pg for u, pg in self.world.pages.items() if _page_key(u) == _page_key(self.url)), None)
        return served if served is not None else _error_page(self.world, self.url)

    def info(self) -> dict:
        return {"scroll": self.scroll.get("page", 0), "url": self.page()["url"]}

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        page = self.page()
        bar_h = f.dp(64)
        top = f.top
        bar = View((0, top, f.w, top + bar_h), cls=ui.FRAME, rid=RID + "toolbar",
                   paint=lambda c, v: c.rect(v.bounds, fill=th.bg))
        pill = (f.dp(12), top + f.dp(8), f.w - f.dp(12), top + bar_h - f.dp(8))
        bar.add(View(pill, in_xml=False, paint=lambda c, v: (
            c.rect(v.bounds, fill=th.surface2, radius=(v.bounds[3] - v.bounds[1]) // 2),
            glyph(c, "lock", v.bounds[0] + f.dp(24), (v.bounds[1] + v.bounds[3]) // 2, f.dp(16), th.muted, th.surface2))))
        if self.focus == "url":
            bar.add(w.text_field(f, self, "url", pill[0], pill[1] - f.dp(4), pill[2] - pill[0],
                                 label_text="Search or type URL", rid=RID + "url_bar", on_submit=self._go))
        else:
            url = w.label(f, (pill[0] + f.dp(44), pill[1], pill[2] - f.dp(16), pill[3]), page["url"], size=16,
                          rid=RID + "url_bar", cls=ui.EDIT_TEXT, on_tap=self._edit_url)
            url.focusable = True
            bar.add(url)
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
