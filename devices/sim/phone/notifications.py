"""Notifications as NotificationManagerService keeps them: records in the World (so a reset forgets
them), keyed as StatusBarNotification keys them (`USER|PACKAGE|ID|TAG|UID`), and the
`dumpsys notification` listing in NotificationRecord.dump's shape (Android 14).

A notification may carry a `uri`: tapping it sends a VIEW intent for that URI from the posting
app (a web page opens in the browser, `tel:` in the dialer, a SimPhone APK in the package
installer with the poster as the install's source); without one, tapping opens the posting app.
Either way the notification goes (FLAG_AUTO_CANCEL), as most apps post them.
"""

from __future__ import annotations

import zlib

SHELL_PACKAGE = "com.android.shell"
SHELL_CHANNEL = "shell_cmd"       # NotificationShellCommand's channel for `cmd notification post`
SHELL_ID = 2020                   # ... and the id it posts under
HEADS_UP_S = 5.0                  # SystemUI's heads_up_notification_decay
_FLAG_AUTO_CANCEL = 0x10


def key(package: str, nid: int, tag: str | None, uid: int) -> str:
    """StatusBarNotification.key: user, package, id, tag, uid."""
    return f"0|{package}|{nid}|{tag if tag is not None else 'null'}|{uid}"


def post(world, package: str, uid: int, title: str, text: str, *, time: str, tag: str | None = None,
         nid: int | None = None, uri: str | None = None, channel: str = "default") -> dict:
    """Post (or update: same package, id and tag) a notification; it becomes the newest."""
    nid = world.next_id("notification") if nid is None else int(nid)
    k = key(package, nid, tag, uid)
    world.notifications[:] = [n for n in world.notifications if n["key"] != k]
    n = {"key": k, "package": package, "id": nid, "tag": tag, "uid": uid, "title": str(title), "text": str(text),
         "uri": uri, "channel": channel, "time": time}
    world.notifications.append(n)
    return n


def cancel(world, k: str) -> dict | None:
    n = next((n for n in world.notifications if n["key"] == k), None)
    if n is not None:
        world.notifications.remove(n)
    return n


def _identity(n: dict) -> str:
    # A stable stand-in for System.identityHashCode: the same record prints the same in every run.
    return f"0x{zlib.crc32(n['key'].encode()) & 0xFFFFFFFF:08x}"


def _record_line(n: dict) -> str:
    """NotificationRecord.toString with Notification.toString inside it."""
    note = (f"Notification(channel={n['channel']} shortcut=null contentView=null vibrate=null sound=null "
            f"defaults=0x0 flags=0x{_FLAG_AUTO_CANCEL:x} color=0x00000000 vis=PRIVATE)")
    return (f"NotificationRecord({_identity(n)}: pkg={n['package']} user=UserHandle{{0}} id={n['id']} "
            f"tag={n['tag'] if n['tag'] is not None else 'null'} importance=4 key={n['key']}: {note})")


def _extra(name: str, value: str, redact: bool) -> str:
    # Redacted dumps give a CharSequence extra's length only; --noredact gives the text.
    return f"{name}=String [length={len(value)}]" if redact else f"{name}=String ({value})"


def dump(world, *, redact: bool = True) -> str:
    """`dumpsys notification [--noredact]`: the Notification List section, newest first."""
    out = ["Current Notification Manager state:", "  Notification List:"]
    for n in reversed(world.notifications):
        p, p2 = "    ", "      "
        out += [p + _record_line(n), f"{p2}uid={n['uid']} userId=0", f"{p2}opPkg={n['package']}",
                f"{p2}icon=Icon(typ=RESOURCE pkg={n['package']} id=0x01080077)",
                f"{p2}flags=0x{_FLAG_AUTO_CANCEL:x}", f"{p2}originalFlags=0x{_FLAG_AUTO_CANCEL:x}", f"{p2}pri=0",
                f"{p2}key={n['key']}", f"{p2}seen=false", f"{p2}groupKey={n['key']}", f"{p2}notification="]
        p3 = p2 + p2
        out += [f"{p3}fullscreenIntent=null",
                f"{p3}contentIntent=PendingIntent{{{_identity(n)[2:]}: android.os.BinderProxy}}",
                f"{p3}deleteIntent=null", f"{p3}number=0", f"{p3}groupAlertBehavior=0", f"{p3}when=0",
                f"{p3}tickerText=null", f"{p3}contentView=null", f"{p3}bigContentView=null",
                f"{p3}headsUpContentView=null", f"{p3}color=0x00000000", f"{p3}timeout=0", f"{p3}extras={{",
                f"{p3}    {_extra('android.title', n['title'], redact)}",
                f"{p3}    {_extra('android.text', n['text'], redact)}",
                f"{p3}    android.template=String (android.app.Notification$BigTextStyle)", f"{p3}}}",
                f"{p2}publicNotification=", f"{p3}None", f"{p2}mImportance=HIGH",
                f"{p2}effectiveNotificationChannel=NotificationChannel{{mId='{n['channel']}'}}"]
    out += ["", f"  mNotificationList size={len(world.notifications)}", ""]
    return "\n".join(out)
