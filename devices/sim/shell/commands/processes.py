"""SimPhone's processes, as `pkill`/`pidof` (toybox) and the pids in dumpsys and logcat see them:
the system's few long-lived ones plus one per running app, each with a pid stable for its package.

adb's shell runs as uid 2000, so it may signal its own processes only: `pkill` of an app answers as
toybox does when kill(2) fails with EPERM, and the app keeps running (use `am force-stop`).
"""

from __future__ import annotations

import re
import zlib

from ...phone.packages import package_info
from ..command import CommandTable, UsageError

COMMANDS = CommandTable()

SYSTEM_SERVER_PID = 1234
# (pid, uid, name) of the processes a phone always has that SimPhone names
_SYSTEM = [(1, 0, "init"), (612, 0, "zygote64"), (SYSTEM_SERVER_PID, 1000, "system_server"),
           (1789, 10125, "com.android.systemui"), (2050, 10112, "com.android.launcher3"),
           (2101, 10110, "com.android.inputmethod.latin")]


def pid_of(package: str) -> int:
    for pid, _, name in _SYSTEM:
        if name == package:
            return pid
    return 3000 + zlib.crc32(package.encode()) % 6000


def running(sh) -> list[tuple[int, int, str]]:
    """(pid, uid, name) of every process: the system's, then one per app task (foreground or background)."""
    snap = sh.phone.state()
    apps = {a["package"] for a in snap["stack"][1:]} | set(snap["background_tasks"])
    procs = list(_SYSTEM)
    names = {name for _, _, name in procs}
    procs += [(pid_of(p), package_info(p)[0], p) for p in sorted(apps) if p not in names]
    return procs


def _matches(sh, patterns: list[str], full: bool, exact: bool) -> list[tuple[int, int, str]]:
    try:
        rxs = [re.compile(p) for p in patterns]
    except re.error as e:
        raise UsageError(f"bad regex '{patterns[0]}': {e}", 1)
    hits = []
    for proc in running(sh):
        name = proc[2] if full else proc[2][-15:]   # the kernel's comm keeps a name's last 15 characters
        for rx in rxs:
            m = rx.search(name)
            if m and (not exact or (m.start() == 0 and m.end() == len(name))):
                hits.append(proc)
                break
    return hits


@COMMANDS.add("pkill")
def _pkill(sh, args, io_):
    signal = "TERM"
    flags, patterns = "", []
    for a in args:
        if a.startswith("-") and len(a) > 1 and not patterns:
            if a[1:].isupper() or a[1:].isdigit():
                signal = a[1:].removeprefix("SIG")
            else:
                flags += a[1:]
        else:
            patterns.append(a)
    if not patterns:
        raise UsageError("usage: pkill [-fnovx] [-SIGNAL|-l SIGNAL] [PATTERN] [-G GID,] [-g PGRP,] [-P PPID,] "
                         "[-s SID,] [-t TERM,] [-U UID,] [-u EUID,]\n\npkill: No PATTERN", 1)
    status = 1   # no process matched
    for pid, uid, _ in _matches(sh, patterns, "f" in flags, "x" in flags):
        status = 0 if status == 1 else status
        if uid != 2000:
            io_.err(f"pkill: {signal}->{pid}: Operation not permitted\n")
            status = 1
    return status


@COMMANDS.add("pidof")
def _pidof(sh, args, io_):
    names = [a for a in args if not a.startswith("-")]
    pids = [str(pid) for pid, _, name in running(sh) if name in names]
    if pids:
        io_.out(" ".join(pids) + "\n")
    return 0 if pids else 1
