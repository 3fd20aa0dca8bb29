"""System windows drawn over apps: status bar, gesture handle, notification shade, dialogs,
the on-screen keyboard and the recents overview. Each builder returns a window root `View`."""

from __future__ import annotations

from typing import Any, Callable

from . import ui, widgets as w
from .glyphs import glyph, strike
from .text import ellipsize, line_height, text_width
from .ui import Canvas, Frame, View

SYSUI = "com.android.systemui"
SID = SYSUI + ":id/"
_DIM = [v * 45 // 100 for v in range(256)] * 3


def app_badge(apps: dict | None, package: str) -> tuple[str, tuple, str]:
    """(glyph, colour, label) a notification from `package` shows; system senders get a bell."""
    app = (apps or {}).get(package)
    if app is not None:
        return app.icon, app.colour, app.label
    return "bell", (95, 99, 104), "Android System" if package == "android" else "Shell"


def _vpn_key(c: Canvas, cx: int, cy: int, s: int, col) -> None:
    """The VPN key icon (glyphs.py has none): a ring, a shaft and a bit."""
    r = s // 4
    c.circle(cx - s // 4, cy, r, outline=col, width=max(2, s // 8))
    c.line([(cx - s // 4 + r, cy), (cx + s // 2, cy)], fill=col, width=max(2, s // 8))
    c.line([(cx + s // 3, cy), (cx + s // 3, cy + s // 4)], fill=col, width=max(2, s // 8))


def status_bar(f: Frame, clock: str, world: Any, on_wallpaper: bool, apps: dict | None = None) -> View:
    th = f.theme
    fg = (255, 255, 255) if on_wallpaper or th.dark else th.text
    bg = None if on_wallpaper else th.bg
    h = f.status_h
    cy = h // 2
    icon = f.dp(16)
    px = f.dp(14)

    def paint(c: Canvas, v: View) -> None:
        if bg is not None:
            c.rect(v.bounds, fill=bg)
        c.text(f.dp(16), cy, clock, px, fg, "lm")
        nx = f.dp(24) + text_width(clock, px) + icon // 2
        for name in badges:   # the notification icons, newest first, after the clock
            glyph(c, name, nx, cy, icon, fg, bg or fg)
            nx += icon + f.dp(4)
        x = f.w - f.dp(16)
        c.text(x, cy, "100%", px, fg, "rm")
        x -= text_width("100%", px) + f.dp(4) + icon // 2
        glyph(c, "battery", x, cy, icon, fg, bg or fg)
        x -= icon + f.dp(4)
        if world.wifi:
            glyph(c, "wifi", x, cy, icon, fg, bg)
            x -= icon + f.dp(4)
        if world.bluetooth:
            glyph(c, "bluetooth", x, cy, icon, fg, bg)
            x -= icon + f.dp(4)
        if world.airplane:
            glyph(c, "airplane", x, cy, icon, fg, bg)
            x -= icon + f.dp(4)
        if world.vpn:
            _vpn_key(c, x, cy, icon, fg)

    shown = list(reversed(world.notifications))[:4]
    badges = [app_badge(apps, n["package"])[0] for n in shown]
    desc = ", ".join(d for on, d in ((world.vpn, "VPN on"), (world.airplane, "Airplane mode"),
                                     (world.bluetooth, "Bluetooth on"), (world.wifi, "Wi-Fi signal full")) if on)
    desc = (desc + ", Battery 100 percent.").lstrip(", ")
    root = View((0, 0, f.w, h), cls=ui.FRAME, rid=SID + "status_bar", package=SYSUI, paint=paint)
    left = f.dp(16) + text_width(clock, px)
    root.add(View((f.dp(16), 0, left, h), cls=ui.TEXT_VIEW, text=clock, rid=SID + "clock", desc=clock),
             View((f.w // 2, 0, f.w, h), cls=ui.LINEAR, rid=SID + "system_icons", desc=desc))
    if shown:
        labels = ", ".join(app_badge(apps, n["package"])[2] + " notification" for n in shown)
        root.add(View((left + f.dp(4), 0, min(f.w // 2, left + f.dp(8) + len(shown) * f.dp(20)), h),
                      cls=ui.LINEAR, rid=SID + "notificationIcons", desc=labels))
    return root


def nav_handle(f: Frame, on_wallpaper: bool) -> View:
    col = (255, 255, 255) if on_wallpaper or f.theme.dark else (60, 60, 60)
    bg = None if on_wallpaper else f.theme.bg
    b = (0, f.h - f.nav_h, f.w, f.h)

    def paint(c: Canvas, v: View) -> None:
        if bg is not None:
            c.rect(b, fill=bg)
        hw, hh = f.dp(54), f.dp(2)
        cy = f.h - f.nav_h // 2
        c.rect((f.w // 2 - hw, cy - hh, f.w // 2 + hw, cy + hh), fill=col, radius=hh)

    return View(b, in_xml=False, paint=paint)


def shade(f: Frame, clock: str, date: str, world: Any, close: Callable[[], None], apps: dict | None = None,
          open_notification: Callable[[str], None] | None = None, clear: Callable[[], None] | None = None) -> View:
    th = f.theme
    root = View((0, 0, f.w, f.h), cls=ui.FRAME, package=SYSUI, rid=SID + "notification_panel", on_tap=close,
                paint=lambda c, v: c.rect(v.bounds, fill=th.surface))
    y = f.top + f.dp(8)
    root.add(w.label(f, (f.dp(24), y, f.w // 2, y + f.dp(48)), clock, size=36, rid=SID + "clock"),
             w.label(f, (f.w // 2, y, f.w - f.dp(24), y + f.dp(48)), date, size=16, align="right", rid=SID + "date",
                     color=th.muted))
    y += f.dp(64)
    tiles = [("Internet", "wifi", world.wifi, lambda: world.set_wifi(not world.wifi), "wifi"),
             ("Bluetooth", "bluetooth", world.bluetooth, lambda: world.set_bluetooth(not world.bluetooth), "bluetooth"),
             ("Airplane mode", "airplane", world.airplane, lambda: world.set_airplane(not world.airplane), "airplane"),
             ("Dark theme", "moon", world.dark_theme, lambda: setattr(world, "dark_theme", not world.dark_theme),
              "dark_theme")]
    cols = 4 if f.landscape else 2
    gap, pad = f.dp(8), f.dp(16)
    tw, tht = (f.w - 2 * pad - (cols - 1) * gap) // cols, f.dp(64)
    for i, (name, icon, on, toggle, key) in enumerate(tiles):
        r, col = divmod(i, cols)
        x, ty = pad + col * (tw + gap), y + r * (tht + gap)
        root.add(_tile(f, (x, ty, x + tw, ty + tht), name, icon, on, toggle, key))
    y += ((len(tiles) + cols - 1) // cols) * (tht + gap) + f.dp(8)

    def set_brightness(v: int) -> None:
        world.brightness = v
    root.add(w.slider(f, (pad + f.dp(8), y, f.w - pad - f.dp(8), y + f.dp(48)), world.brightness, 0, 255,
                      set_brightness, rid=SID + "brightness_slider", desc="Display brightness"))
    y += f.dp(72)
    if not world.notifications:
        root.add(w.label(f, (0, y, f.w, y + f.dp(48)), "No notifications", align="center", color=th.muted,
                         rid=SID + "no_notifications"))
        return root
    lst = ui.Scroll((0, y, f.w, f.bottom - f.dp(64)), {}, "notifications", rid=SID + "notification_stack_scroller",
                    fill=th.surface)
    ny = y
    for n in reversed(world.notifications):   # newest on top
        card = notification_card(f, (pad, ny, f.w - pad, ny + f.dp(88)), n, app_badge(apps, n["package"]),
                                 lambda k=n["key"]: open_notification and open_notification(k))
        lst.add(card)
        ny = card.bounds[3] + gap
    root.add(lst.finish(ny))
    bw = w.text_button_width(f, "Clear all")
    root.add(w.button(f, (f.w - pad - bw, f.bottom - f.dp(56), f.w - pad, f.bottom - f.dp(16)), "Clear all",
                      lambda: clear and clear(), style="tonal", rid=SID + "dismiss_text"))
    return root


def notification_card(f: Frame, b, n: dict, badge: tuple, on_tap: Callable[[], None], *,
                      rid: str = SID + "expandableNotificationRow") -> View:
    """One notification as the shade and the heads-up show it: the app's icon and name, the
    title and the text; a tap opens it."""
    th = f.theme
    icon, colour, label_text = badge

    def paint(c: Canvas, v: View) -> None:
        c.rect(v.bounds, fill=th.bg, radius=f.dp(20))
        cx, cy = v.bounds[0] + f.dp(32), v.bounds[1] + f.dp(32)
        c.circle(cx, cy, f.dp(16), fill=colour)
        glyph(c, icon, cx, cy, f.dp(18), (255, 255, 255), colour)

    l, t, r, bt = b
    x = l + f.dp(60)
    card = View(b, cls=ui.FRAME, rid=rid, desc=f"{label_text} notification: {n['title']}", clickable=True,
                focusable=True, paint=paint, on_tap=on_tap)
    card.add(w.label(f, (x, t + f.dp(8), r - f.dp(16), t + f.dp(28)), f"{label_text} • {n['time']}", size=12,
                     color=th.muted, rid="android:id/app_name_text"),
             w.label(f, (x, t + f.dp(28), r - f.dp(16), t + f.dp(54)), n["title"], size=16, rid="android:id/title"),
             w.label(f, (x, t + f.dp(54), r - f.dp(16), t + f.dp(78)), n["text"], size=14, color=th.muted,
                     rid="android:id/text"))
    return card


def heads_up(f: Frame, n: dict, badge: tuple, on_tap: Callable[[], None]) -> View:
    """A new notification peeking over the app for a few seconds (HEADS_UP_S), its own window."""
    pad = f.dp(8)
    b = (pad, f.top + pad, f.w - pad, f.top + pad + f.dp(88))
    root = View(b, cls=ui.FRAME, package=SYSUI, rid=SID + "heads_up_status_bar_view")
    return root.add(notification_card(f, b, n, badge, on_tap))


def _tile(f: Frame, b, name: str, icon: str, on: bool, toggle: Callable, key: str) -> View:
    th = f.theme
    fill, fg = (th.primary, th.on_primary) if on else (th.surface2, th.text)

    def paint(c: Canvas, v: View) -> None:
        l, t, r, bt = v.bounds
        c.rect(v.bounds, fill=fill, radius=(bt - t) // 2)
        cx, cy = l + f.dp(32), (t + bt) // 2
        glyph(c, icon, cx, cy, f.dp(22), fg, fill)
        if not on and icon in ("wifi", "bluetooth"):
            strike(c, cx, cy, f.dp(22), fg, fill)
        c.text(l + f.dp(60), cy - f.dp(10), ellipsize(name, f.dp(14), r - l - f.dp(70)), f.dp(14), fg, "lm")
        c.text(l + f.dp(60), cy + f.dp(11), "On" if on else "Off", f.dp(12), fg, "lm")

    return View(b, cls=ui.SWITCH, text=name, desc=name, rid=SID + f"qs_tile_{key}", checkable=True, checked=on,
                clickable=True, focusable=True, paint=paint, on_tap=toggle)


def dialog(f: Frame, title: str, text: str, buttons: list[str], answer: Callable[[str], None], package: str) -> View:
    """A modal AlertDialog over a dimmed screen; buttons are android:id/button1 (rightmost), 2, 3, ..."""
    th = f.theme
    width = min(f.w - f.dp(48), f.dp(560))
    left = (f.w - width) // 2
    pad = f.dp(24)
    title_v = w.paragraph(f, left + pad, 0, width - 2 * pad, title, size=22, rid="android:id/alertTitle") if title else None
    max_lines = max(2, int((f.h * 0.55) // line_height(f.dp(16))))
    msg_v = w.paragraph(f, left + pad, 0, width - 2 * pad, text, size=16, color=th.muted, rid="android:id/message",
                        max_lines=max_lines) if text else None
    bw = [w.text_button_width(f, b) for b in buttons]
    stacked = sum(bw) + f.dp(8) * len(buttons) > width - 2 * pad
    btn_h = f.dp(40)
    h = pad + (title_v.bounds[3] + f.dp(16) if title_v else 0) + (msg_v.bounds[3] + f.dp(24) if msg_v else 0)
    h += (btn_h + f.dp(8)) * len(buttons) if stacked else btn_h
    h += pad
    top = max(f.top, (f.h - h) // 2)
    root = View((0, 0, f.w, f.h), cls=ui.FRAME, package=package,
                paint=lambda c, v: c.image.paste(c.image.point(_DIM)))
    card = View((left, top, left + width, top + h), cls=ui.FRAME, rid="android:id/parentPanel",
                paint=lambda c, v: c.rect(v.bounds, fill=th.surface, radius=f.dp(28)))
    y = top + pad
    for v in (title_v, msg_v):
        if v is not None:
            v.shift(y)
            card.add(v)
            y = v.bounds[3] + (f.dp(16) if v is title_v else f.dp(24))
    right = left + width - pad
    for i, (label_text, bwi) in enumerate(reversed(list(zip(buttons, bw)))):
        rid = f"android:id/button{i + 1}"
        if stacked:
            by = top + h - pad - (i + 1) * (btn_h + f.dp(8)) + f.dp(8)
            b = (left + pad, by, right, by + btn_h)
        else:
            b = (right - bwi, y, right, y + btn_h)
            right -= bwi + f.dp(8)
        card.add(w.button(f, b, label_text, lambda s=label_text: answer(s), style="text", rid=rid))
    return root.add(card)


KEY_ROWS = {False: ["qwertyuiop", "asdfghjkl", "⇧zxcvbnm⌫", "?,␣.⏎"],
            True: ["1234567890", "@#$_&-+()/", "=*\"':;!?⌫", "A,␣.⏎"]}


def keyboard(f: Frame, symbols: bool, shift: bool, press: Callable[[str], None]) -> View:
    """Gboard-like keys; not in the dump (the IME is its own window), but taps on keys type."""
    th = f.theme
    top = f.bottom
    kb = View((0, top, f.w, top + f.ime_h), in_xml=False, paint=lambda c, v: c.rect(v.bounds, fill=th.surface2))
    rows = KEY_ROWS[symbols]
    gap = f.dp(6)
    kh = (f.ime_h - gap * (len(rows) + 1)) // len(rows)
    unit = (f.w - gap * 11) // 10
    for r, row in enumerate(rows):
        y = top + gap + r * (kh + gap)
        widths = [unit * (5 if k == "␣" else 1.5 if k in "⇧⌫?A⏎" else 1) for k in row]
        x = (f.w - sum(widths) - gap * (len(row) - 1)) / 2
        for k, kw in zip(row, widths):
            kb.add(_key(f, (int(x), y, int(x + kw), y + kh), k, symbols, shift, press))
            x += kw + gap
    return kb


def _key(f: Frame, b, k: str, symbols: bool, shift: bool, press: Callable[[str], None]) -> View:
    th = f.theme
    special = k in "⇧⌫⏎?A"
    fill = th.container if (special and k != "⇧") or (k == "⇧" and shift) else th.bg
    label_text = {"?": "?123", "A": "ABC", "␣": ""}.get(k, k.upper() if shift and k.isalpha() else k)

    def paint(c: Canvas, v: View) -> None:
        l, t, r, bt = v.bounds
        c.rect(v.bounds, fill=fill, radius=f.dp(6))
        cx, cy = (l + r) // 2, (t + bt) // 2
        if k in "⇧⌫⏎":
            glyph(c, {"⇧": "shift", "⌫": "backspace", "⏎": "enter"}[k], cx, cy, f.dp(22), th.text, fill)
        else:
            c.text(cx, cy, label_text, f.dp(22 if len(label_text) == 1 else 14), th.text, "mm")

    return View(b, in_xml=False, paint=paint, on_tap=lambda: press(k))


def adb_keyboard_bar(f: Frame) -> View:
    th = f.theme
    b = (0, f.bottom, f.w, f.bottom + f.ime_h)
    return View(b, in_xml=False, paint=lambda c, v: (c.rect(b, fill=th.surface2),
                                                     c.text(f.w // 2, (b[1] + b[3]) // 2, "ADB Keyboard {ON}",
                                                            f.dp(14), th.muted, "mm")))


def recents(f: Frame, tasks: list[tuple[str, str, str, tuple]], open_task: Callable[[str], None],
            clear: Callable[[], None], go_home: Callable[[], None], store: dict) -> View:
    """The overview: one card per background task, newest first. `tasks` is (package, label, icon, colour)."""
    th = f.theme
    bg = (40, 40, 44) if not th.dark else (8, 8, 10)
    root = View((0, 0, f.w, f.h), cls=ui.FRAME, package="com.android.launcher3",
                rid="com.android.launcher3:id/overview_panel", on_tap=go_home,
                paint=lambda c, v: c.rect(v.bounds, fill=bg))
    lst = ui.Scroll((0, f.top, f.w, f.bottom - f.dp(80)), store, "recents", fill=bg,
                    rid="com.android.launcher3:id/task_list")
    y = f.top + f.dp(24)
    card_h = f.dp(96)
    for pkg, label_text, icon, colour in tasks:

        def paint(c: Canvas, v: View, icon=icon, colour=colour, label_text=label_text) -> None:
            c.rect(v.bounds, fill=th.bg, radius=f.dp(24))
            cx, cy = v.bounds[0] + f.dp(48), (v.bounds[1] + v.bounds[3]) // 2
            c.circle(cx, cy, f.dp(24), fill=colour)
            glyph(c, icon, cx, cy, f.dp(26), (255, 255, 255), colour)
            c.text(cx + f.dp(40), cy, label_text, f.dp(18), th.text, "lm")

        lst.add(View((f.dp(24), y, f.w - f.dp(24), y + card_h), cls=ui.FRAME, text=label_text, desc=label_text,
                     rid="com.android.launcher3:id/task", clickable=True, focusable=True, paint=paint,
                     on_tap=lambda p=pkg: open_task(p)))
        y += card_h + f.dp(16)
    root.add(lst.finish(y))
    if tasks:
        bw = f.dp(120)
        root.add(w.button(f, (f.w // 2 - bw // 2, f.bottom - f.dp(64), f.w // 2 + bw // 2, f.bottom - f.dp(24)),
                          "Clear all", clear, style="tonal", rid="com.android.launcher3:id/clear_all"))
    else:
        root.add(w.label(f, (0, f.h // 2 - f.dp(24), f.w, f.h // 2 + f.dp(24)), "No recent items", align="center",
                         color=(230, 230, 230), rid="com.android.launcher3:id/empty_message"))
    return root
