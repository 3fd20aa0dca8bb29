"""SimPhone's Android commands for apps and services: am (with ADBKeyboard's broadcasts and the
task list, activity_tasks.py), monkey, uiautomator, ime, and `cmd SERVICE ...`, including
`cmd simphone ...`: the simulator's own control surface (state, files, reader text, incoming texts,
rotation, faults), reachable by any adb client. Its state adds to Phone.state() what the shell's
services keep: `input_events` (shell/device_state.py says what counts), granted `permissions`,
`wlan0_ip`, `logcat_lines` and `browser_url`. `pm` lives in pm.py; the notification, status
bar, dialer and installer commands and intents in surfaces.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ...phone.packages import package_info, resolve_component
from ..command import CommandTable, ShellExit, UsageError
from . import activity_tasks, surfaces
from .logcat import line_count, log
from .net import wlan_ip

COMMANDS = CommandTable()

ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"


# -- Android: activities and packages


def _parse_intent(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    intent: dict[str, Any] = {"extras": {}}
    rest = []
    it = iter(args)
    for a in it:
        if a in ("-a", "-d", "-n", "-t", "-p", "-f", "--user", "-c"):
            value = next(it, "")
            if a == "-c":
                intent.setdefault("categories", []).append(value)
            else:
                intent[a] = value
        elif a in ("--es", "--ei", "--ez", "--el", "--ef", "--eia", "--esa", "--eu"):
            key, value = next(it, ""), next(it, "")
            intent["extras"][key] = value
        elif a in ("-W", "-S", "-R", "--activity-clear-task", "--activity-new-task", "-D"):
            continue
        else:
            rest.append(a)
    return intent, rest


def _intent_text(intent: dict[str, Any], target: str | None) -> str:
    """Intent.toShortString as `am start` prints it; a web URL's path is hidden (Uri.toSafeString)."""
    parts = []
    if intent.get("-a"):
        parts.append(f"act={intent['-a']}")
    if intent.get("categories"):
        parts.append(f"cat=[{','.join(intent['categories'])}]")
    if intent.get("-d"):
        scheme, sep, rest = intent["-d"].partition("://")
        safe = f"{scheme}://{rest.split('/', 1)[0]}/..." if sep and scheme.lower() in ("http", "https") \
            else intent["-d"]
        parts.append(f"dat={safe}")
    if intent.get("-t"):
        parts.append(f"typ={intent['-t']}")
    if target and "/" in target:
        parts.append(f"cmp={target}")
    elif target:
        parts.append(f"pkg={target}")
    return "Intent { " + " ".join(parts) + " }"


def _web_url(intent: dict[str, Any]) -> str | None:
    url = intent.get("-d") or ""
    return url if intent.get("-a") == "android.intent.action.VIEW" and \
        url.split(":", 1)[0].lower() in ("http", "https") else None


@COMMANDS.add("am")
def _am(sh, args, io_):
    phone = sh.phone
    if not args:
        raise UsageError("Activity manager (activity) commands: start, force-stop, broadcast, stack")
    sub, rest = args[0], args[1:]
    if sub in ("start", "start-activity"):
        intent, extra = _parse_intent(rest)
        handled = None if intent.get("-n") else surfaces.start_intent(sh, intent, io_)
        if handled is not None:
            return handled
        target = intent.get("-n") or next((e for e in extra if "/" in e), None)
        if target is None and intent.get("-a") == "android.intent.action.MAIN" and \
                "android.intent.category.HOME" in intent.get("categories", []):
            target = "com.android.launcher3/.Launcher"
        url = _web_url(intent)
        if target is None and url:
            target = "com.android.chrome"   # the phone's only browser handles every web URL
        if target is None and intent.get("-p"):
            target = intent["-p"]
        if target is None:
            io_.err("Error: Activity not started, unable to resolve " + _intent_text(intent, None) + "\n")
            return 1
        io_.out(f"Starting: {_intent_text(intent, None if url and '/' not in target else target)}\n")
        problem = phone.open_url(url) if url and target.startswith("com.android.chrome") else phone.start(target)
        if problem:
            io_.err(problem.rstrip("\n") + "\n")
            return 1
        shown = _intent_text(intent, resolve_component(target) or target)[len("Intent { "):-len(" }")]
        log(sh.state, "ActivityTaskManager", f"START u0 {{{shown} flg=0x10000000}} from uid 2000")
        return 0
    if sub == "force-stop" and rest:
        if phone.current()[0] == rest[-1]:
            phone.keyevent("KEYCODE_HOME")
        log(sh.state, "ActivityManager", f"Force stopping {rest[-1]} appid={package_info(rest[-1])[0]} "
            "user=0: from pid 2000")
        return 0
    if sub == "broadcast":
        intent, _ = _parse_intent(rest)
        action = intent.get("-a", "")
        io_.out(f"Broadcasting: Intent {{ act={action} flg=0x400000{' (has extras)' if intent['extras'] else ''} }}\n")
        typed = _adb_keyboard(sh, action, intent["extras"])
        io_.out("Broadcast completed: result=0\n")
        if typed and sh.state.count_input():
            raise ShellExit(129)  # the transport dropped before the reply: the session is gone
        return 0
    if sub == "stack":
        return _am_stack(sh, rest, io_)
    raise UsageError(f"Error: unknown command '{sub}'")


def _am_stack(sh, args: list[str], io_) -> int:
    """`am stack list` (RootTaskInfo per root task) and `am stack remove ID` (the task goes, as
    removeTask does: the app's activities end and it leaves recents)."""
    if args[:1] == ["list"]:
        io_.out(activity_tasks.stack_list(sh))
        return 0
    if args[:1] == ["remove"] and len(args) >= 2:
        try:
            task_id = int(args[1])
        except ValueError:
            raise UsageError(f"\nException occurred while executing 'stack':\njava.lang.NumberFormatException: "
                             f"For input string: \"{args[1]}\"", 255)
        for t in activity_tasks.running_tasks(sh):
            if t.id == task_id and not t.home:   # the home task cannot be removed
                sh.phone.force_stop(t.package)
        return 0
    if args[:1] == ["remove"]:
        raise UsageError("\nException occurred while executing 'stack':\njava.lang.IllegalArgumentException: "
                         "Argument expected after \"remove\"", 255)
    io_.err(f"Error: unknown command '{args[0] if args else ''}'\n")
    return 255


def _adb_keyboard(sh, action: str, extras: dict[str, str]) -> bool:
    """ADBKeyboard's broadcasts; like the real IME they only do something while it is the
    current input method. Whether the IME took the broadcast (an input event)."""
    phone = sh.phone
    if not action.startswith("ADB_") or phone.ime_current() != ADB_KEYBOARD:
        return False
    if action == "ADB_INPUT_TEXT" and "msg" in extras:
        phone.input_text(extras["msg"])
    elif action == "ADB_INPUT_B64" and "msg" in extras:
        try:
            phone.input_text(base64.b64decode(extras["msg"], validate=True).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            pass
    elif action == "ADB_INPUT_CHARS" and "chars" in extras:
        try:
            phone.input_text("".join(chr(int(c)) for c in extras["chars"].split(",") if c))
        except ValueError:
            pass
    elif action == "ADB_EDITOR_CODE":
        phone.keyevent("KEYCODE_ENTER")
    else:
        return False
    return True


@COMMANDS.add("monkey")
def _monkey(sh, args, io_):
    pkgs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-p"]
    for a in args:
        io_.err(f"  bash arg: {a}\n")
    if not pkgs or pkgs[0] not in sh.phone.packages() or sh.phone.start(pkgs[0]):
        io_.err("** No activities found to run, monkey aborted.\n")
        return 252
    io_.out("Events injected: 1\n## Network stats: elapsed time=12ms (0ms mobile, 0ms wifi, 12ms not connected)\n")
    return 0


# -- Android: UI dump and IME


@COMMANDS.add("uiautomator")
def _uiautomator(sh, args, io_):
    if not args or args[0] != "dump":
        raise UsageError("Usage: uiautomator <subcommand> [options]\n    dump [--compressed] [file]")
    files = [a for a in args[1:] if not a.startswith("--")]
    target = files[0] if files else "/sdcard/window_dump.xml"
    xml = sh.phone.ui_xml().encode("utf-8")
    if sh.fs.norm(target) == "/dev/tty":
        io_.out(xml)
    else:
        try:
            sh.fs.write(target, xml)
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            io_.err(f"ERROR: could not write to {target}\n")
            return 1
    io_.out(f"UI hierchary dumped to: {target}\n")
    return 0


@COMMANDS.add("ime")
def _ime(sh, args, io_):
    phone = sh.phone
    installed = phone.ime_list()
    enabled = sh.state.enabled_imes
    sub = args[0] if args else ""
    if sub == "list":
        ids = installed if "-a" in args else [i for i in installed if i in enabled]
        for ime in ids:
            io_.out(ime + "\n" if "-s" in args else f"{ime}:\n  mId={ime}\n")
        return 0
    if sub in ("enable", "disable") and len(args) >= 2:
        ime = args[-1]
        if ime not in installed:
            io_.err(f"Unknown input method {ime} cannot be {sub}d for user #0\n")
            return 1
        if sub == "enable":
            io_.out(f"Input method {ime}: {'already enabled' if ime in enabled else 'now enabled'}\n")
            enabled.add(ime)
        else:
            enabled.discard(ime)
            io_.out(f"Input method {ime}: now disabled\n")
        return 0
    if sub == "set" and len(args) >= 2:
        ime = args[-1]
        if ime not in installed or ime not in enabled or not phone.set_ime(ime):
            io_.err(f"Unknown input method {ime} cannot be selected for user #0\n")
            return 1
        io_.out(f"Input method {ime} selected for user #0\n")
        return 0
    if sub == "reset":
        phone.set_ime(installed[0])
        return 0
    raise UsageError("ime <command>:\n  list [-a] [-s]\n  enable ID\n  disable ID\n  set ID\n  reset")


# -- cmd: Android's service shell plus SimPhone's control surface

# `cmd SERVICE ARGS` is the same as the command that fronts the service.
_CMD_SERVICES = {"input": "input", "package": "pm", "settings": "settings", "activity": "am", "window": "wm"}


@COMMANDS.add("cmd")
def _cmd(sh, args, io_):
    if not args:
        raise UsageError("cmd: No service specified; use -l to list all running services")
    service, rest = args[0], args[1:]
    if service == "simphone":
        return _simphone(sh, rest, io_)
    if service == "statusbar":
        return surfaces.statusbar(sh, rest, io_)
    if service == "notification":
        return surfaces.notification(sh, rest, io_)
    if service == "appops":
        return sh.commands["appops"](sh, rest, io_)
    if service in _CMD_SERVICES:
        return sh.commands[_CMD_SERVICES[service]](sh, rest, io_)
    io_.err(f"cmd: Can't find service: {service}\n")
    return 20


_FAULTS_HELP = ("cmd simphone fault drop | drop-after-input [N] | offline [SECONDS] | unauthorized | "
                "secure on|off | slow-screencap MS | truncate-screencap [FRAMES] | "
                "popup [--buttons 'B1,B2'] [--when PACKAGE] TITLE TEXT | clear")


_SIMPHONE_HELP = ("cmd simphone state | fs | reset [SEED] | reader TEXT | page URL TEXT | sms FROM TEXT | "
                  + surfaces.NOTIFY_USAGE + " | rotate 0-3 | help | " + _FAULTS_HELP.removeprefix("cmd simphone "))


def _simphone(sh, args, io_):
    phone = sh.phone
    state = sh.state
    sub = args[0] if args else ""
    if sub == "state":
        # input_events: counted per command on the adb side (device_state.py), not by the Phone.
        snap = phone.state()
        in_browser = snap["foreground"]["package"] == "com.android.chrome"
        snapshot = {**snap, "input_events": state.input_events, "wlan0_ip": wlan_ip(sh),
                    "logcat_lines": line_count(state),
                    "permissions": {p: sorted(g) for p, g in sorted(state.permissions.items()) if g},
                    "browser_url": snap["screen"].get("url") if in_browser else None}
        io_.out(json.dumps(snapshot, ensure_ascii=False, sort_keys=True) + "\n")
    elif sub == "fs":
        io_.out(json.dumps(state.fs.snapshot(), sort_keys=True) + "\n")
    elif sub == "page" and len(args) >= 3:
        phone.surfaces.set_page(args[1], " ".join(args[2:]))   # another page the browser serves, at that address
    elif sub == "reader" and len(args) >= 2:
        phone.set_reader_text(" ".join(args[1:]))
    elif sub == "sms" and len(args) >= 3:
        phone.receive_sms(args[1], " ".join(args[2:]))
    elif sub in ("help", "-h"):
        io_.out(_SIMPHONE_HELP + "\n")
    elif sub == "notify":
        surfaces.simphone_notify(sh, args[1:])
    elif sub == "reset" and (len(args) == 1 or (len(args) == 2 and args[1].isdigit())):
        phone.reset(int(args[1]) if len(args) == 2 else None)  # a fresh phone: seeded data, home screen
        state.reset_episode()
    elif sub == "rotate" and len(args) == 2 and args[1] in "0123":
        phone.set_rotation(int(args[1]))
    elif sub == "fault" and len(args) >= 2:
        kind, rest = args[1], args[2:]
        if kind in ("drop", "offline", "unauthorized"):
            if state.on_transport_fault is None:
                raise UsageError(f"fault {kind}: no transport to act on")
            state.on_transport_fault(kind, rest)
        elif kind == "drop-after-input" and (not rest or rest[0].isdigit()):
            if state.on_transport_fault is None:
                raise UsageError(f"fault {kind}: no transport to act on")
            state.faults.drop_after_input = int(rest[0]) if rest else 1
        elif kind == "secure" and rest[:1] in (["on"], ["off"]):
            phone.secure = rest[0] == "on"
        elif kind == "slow-screencap" and rest and rest[0].isdigit():
            state.faults.slow_screencap_ms = int(rest[0])
        elif kind == "truncate-screencap":
            state.faults.truncate_next_screencap = int(rest[0]) if rest and rest[0].isdigit() else 1
        elif kind == "popup" and len(_popup_args(rest)[0]) >= 2:
            words, buttons, when = _popup_args(rest)
            phone.show_popup(words[0], " ".join(words[1:]), buttons, when=when)
        elif kind == "clear":
            state.reset_faults()
            phone.tasks.disarm_popups()
            if state.on_clear:
                state.on_clear()
        else:
            raise UsageError(_FAULTS_HELP)
    else:
        raise UsageError(_SIMPHONE_HELP)
    return 0


def _popup_args(args: list[str]) -> tuple[list[str], list[str], str | None]:
    """`[--buttons 'Cancel,Send'] [--when PACKAGE] TITLE TEXT...`: (words, buttons, package). The
    buttons go left to right; the last is the positive one (android:id/button1). Default: OK."""
    words, buttons, when = [], ["OK"], None
    it = iter(args)
    for a in it:
        if a == "--buttons":
            buttons = [b.strip() for b in next(it, "").split(",") if b.strip()] or ["OK"]
        elif a == "--when":
            when = next(it, "") or None
        else:
            words.append(a)
    return words, buttons, when

