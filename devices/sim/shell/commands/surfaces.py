"""Shell commands for the surfaces of phone/surfaces.py, answering as Android 14's do:

- `cmd statusbar expand-notifications | expand-settings | collapse` (StatusBarShellCommand: silent
  on success);
- `cmd notification post [-t TITLE] TAG TEXT` (NotificationShellCommand: posts as com.android.shell
  on its `shell_cmd` channel under id 2020, silently);
- `appops get PACKAGE [OP]` / `appops set PACKAGE OP MODE` for REQUEST_INSTALL_PACKAGES, the
  per-app "Install unknown apps" access (AppOpsService's shell command);
- the intents `am start` hands to these surfaces: DIAL / CALL / VIEW of a `tel:` URI, and VIEW of a
  SimPhone APK (the package installer);
- `cmd simphone notify`: a notification from any installed package, with an optional URI its tap
  opens (the simulator's own control surface, for tasks and attacks).
"""

from __future__ import annotations

from ...apps.installer import APK_MIME
from ...phone.notifications import SHELL_CHANNEL, SHELL_ID, SHELL_PACKAGE
from ..command import CommandTable, UsageError

COMMANDS = CommandTable()

_STATUSBAR_HELP = ("Status bar commands:\n  help\n    Print this help text.\n\n  expand-notifications\n"
                   "    Open the notifications panel.\n\n  expand-settings\n    Open the notifications panel and "
                   "expand quick settings if present.\n\n  collapse\n    Collapse the notifications and settings "
                   "panel.\n")
_NOTIFICATION_HELP = ("usage: cmd notification SUBCMD [args]\n\nSUBCMDs:\n  post [flags] <tag> <text>\n\n"
                      "flags:\n  -h|--help\n  -v|--verbose\n  -t|--title <text>\n")
NOTIFY_USAGE = "notify [--tag TAG] [--id N] [--uri URI] PACKAGE TITLE [TEXT...]"
APPOP = "REQUEST_INSTALL_PACKAGES"
_MODES = ("allow", "ignore", "deny", "default", "foreground")


def statusbar(sh, args: list[str], io_) -> int:
    sub = args[0] if args else ""
    if sub in ("expand-notifications", "expand-settings"):
        sh.phone.surfaces.set_shade(True)
    elif sub == "collapse":
        sh.phone.surfaces.set_shade(False)
    elif sub in ("", "help", "-h"):
        io_.out(_STATUSBAR_HELP)
    else:
        io_.err(f"Unknown command: {sub}\n")   # ShellCommand's answer to an unknown verb
        return 255
    return 0


def notification(sh, args: list[str], io_) -> int:
    sub = args[0] if args else ""
    if sub != "post":
        if sub in ("", "help", "-h", "--help"):
            io_.out(_NOTIFICATION_HELP)
            return 0
        io_.err(f"Unknown command: {sub}\n")
        return 255
    title, words = None, []
    it = iter(args[1:])
    for a in it:
        if a in ("-t", "--title"):
            title = next(it, "")
        elif a in ("-v", "--verbose"):
            continue
        elif a in ("-h", "--help"):
            io_.out(_NOTIFICATION_HELP)
            return 0
        else:
            words.append(a)
    if len(words) < 2:
        io_.err(_NOTIFICATION_HELP)
        return 255
    tag, text = words[0], " ".join(words[1:])
    sh.phone.surfaces.post_notification(SHELL_PACKAGE, title or "", text, tag=tag, nid=SHELL_ID, channel=SHELL_CHANNEL)
    return 0


def simphone_notify(sh, args: list[str]) -> None:
    opts: dict[str, str] = {}
    words = []
    it = iter(args)
    for a in it:
        if a in ("--tag", "--id", "--uri"):
            opts[a] = next(it, "")
        else:
            words.append(a)
    if len(words) < 2 or ("--id" in opts and not opts["--id"].isdigit()):
        raise UsageError("cmd simphone " + NOTIFY_USAGE)
    nid = int(opts["--id"]) if "--id" in opts else None
    if sh.phone.surfaces.post_notification(words[0], words[1], " ".join(words[2:]), tag=opts.get("--tag"), nid=nid,
                                  uri=opts.get("--uri") or None) is None:
        raise UsageError(f"Error: unknown package {words[0]}")


@COMMANDS.add("appops")
def _appops(sh, args, io_):
    world = sh.phone.world
    sub = args[0] if args else ""
    words = [a for a in args[1:] if not a.startswith("--user")]
    if sub == "get" and words:
        pkg = words[0]
        if pkg not in sh.phone.packages():
            io_.err(f"Error: Unknown package: {pkg}\n")   # ... (the shell's answer is on stderr)
            return 255
        mode = world.install_unknown.get(pkg)
        if mode is None or (len(words) > 1 and words[1] != APPOP):
            io_.out("No operations.\n")
        else:
            io_.out(f"{APPOP}: {mode}\n")
        return 0
    if sub == "set" and len(words) >= 3:
        pkg, op, mode = words[0], words[1], words[2]
        if pkg not in sh.phone.packages():
            io_.err(f"Error: Unknown package: {pkg}\n")
            return 255
        if mode not in _MODES:
            io_.err(f"Error: Mode {mode} is not valid\n")
            return 255
        if op == APPOP:
            sh.phone.surfaces.set_install_source(pkg, mode)
        return 0
    io_.out("AppOps service (appops) commands:\n  help\n  set [--user <USER_ID>] <PACKAGE | UID> <OP> <MODE>\n"
            "  get [--user <USER_ID>] <PACKAGE | UID> [<OP>]\n")
    return 0 if sub in ("help", "-h") else 255


def _tel_safe(uri: str) -> str:
    """Uri.toSafeString for tel: the number's characters are x'ed out, - @ . kept."""
    scheme, _, rest = uri.partition(":")
    return f"{scheme}:" + "".join(ch if ch in "-@." else "x" for ch in rest)


def start_intent(sh, intent: dict, io_) -> int | None:
    """`am start` for the intents these surfaces handle; None when the intent is not one of them."""
    action, data, mime = intent.get("-a", ""), intent.get("-d", ""), intent.get("-t", "")
    short = action.rsplit(".", 1)[-1]
    phone = sh.phone
    if short in ("DIAL", "CALL") or (short == "VIEW" and data.lower().startswith("tel:")):
        number = data[4:] if data.lower().startswith("tel:") else ""
        shown = f" dat={_tel_safe(data)}" if data else ""
        io_.out(f"Starting: Intent {{ act={action}{shown} }}\n")
        if short == "CALL" and number:
            phone.surfaces.call(number)
        else:
            phone.surfaces.dial(number)
        return 0
    is_apk = mime == APK_MIME or data.lower().endswith(".apk")
    if short == "VIEW" and is_apk and (data.startswith("file://") or data.startswith("/")):
        io_.out(f"Starting: Intent {{ act={action} dat={data}{' typ=' + mime if mime else ''} }}\n")
        phone.surfaces.open_apk(data.removeprefix("file://"), source=None)
        return 0
    return None

