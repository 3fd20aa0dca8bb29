"""SimPhone's `/system/bin/sh`: a small mksh-like interpreter and the Android commands agents use.

Why an interpreter and not a command table: escaping bugs in a driver only show when the far
side parses the command line the way mksh does. So quoting ('...', "...", backslashes),
expansions ($VAR, $?, $(...), backticks, globs, braces, ~), sequences (; && || &), pipes,
redirections and comments behave as on a phone, and a mis-quoted `$(touch /sdcard/pwned)`
really touches the in-memory filesystem. Anything unsupported fails loudly with a shell error,
never silently does something else.

The commands (`input`, `screencap`, `wm`, `dumpsys`, `am`, `pm`, `uiautomator`, `ime`, ...) print
what Android 14 prints in the places parsers (adbutils, scripts) look. `cmd simphone ...` is the
simulator's own control surface, reachable by any adb client: state, faults, reader text, rotation.

This module is the shell's front door; the pieces live beside it:

    fs.py                   FakeFS, the in-memory filesystem
    sh_syntax.py            the parser: a command line to a tree
    sh.py                   Shell, the interpreter
    device_state.py         DeviceState, what outlives one command (faults, input events,
                            permission grants, task ids, the log buffer)
    coreutils.py            builtins and file utilities: echo, test, cat, rm, ls, grep, head, ...
    android_system_cmds.py  input, screencap, wm, getprop, svc
    android_app_cmds.py     am, monkey, uiautomator, ime, cmd (and cmd simphone)
    activity_tasks.py       task ids and their dumps: am stack, dumpsys activity
    dumpsys.py              dumpsys window, display, input, power, package, SurfaceFlinger, ...
    packages.py, pm_cmds.py what a phone knows of each package; pm and cmd package
    settings_cmds.py        settings get, put, list
    net_cmds.py             ifconfig, ip
    processes.py            the process table: pkill, pidof
    logcat.py               the log buffer and logcat

docs/simphone.md ("Shell commands") lists every command with the real phone's answer it follows.
"""

from __future__ import annotations

from .android_app_cmds import ADB_KEYBOARD
from .android_system_cmds import png_bytes, raw_frame
from .fs import FakeFS
from .device_state import DeviceState, Faults
from .sh import SH, Io, Shell, ShellResult, command
from .sh_syntax import ShellSyntaxError, parse

__all__ = [
    "ADB_KEYBOARD", "SH", "DeviceState", "FakeFS", "Faults", "Io", "Shell", "ShellResult",
    "ShellSyntaxError", "command", "parse", "png_bytes", "raw_frame",
]
