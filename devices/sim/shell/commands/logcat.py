"""SimPhone's `logcat`: the log buffer that system services write to, printed in logcat's formats
(threadtime by default, time, brief, tag, raw), with -d, -c, -t N, -T N, -b, -s and TAG:LEVEL filters.

What SimPhone's services log: boot's first lines, ActivityTaskManager's START for `am start`,
PowerManagerService's sleep and wake-up, PackageManager's permission changes. The buffer lives in
DeviceState (a list of lines, oldest first); `cmd simphone reset` gives a fresh boot's buffer.

Without -d, -t or -c it prints the buffer (the last N lines with -T N), then follows: new lines go
to the client as services log them, until the client hangs up (`adb logcat` or `adb shell logcat`
stopped with Ctrl-C: the stream closes, the shell session's `wait` says so), as logcat.cpp's
reader loop does. SimPhone's pipes and command substitutions run one stage after another, so a
logcat whose stdout is not the client itself (`logcat | grep X`, `$(logcat)`, `> file`) prints
the buffer and exits, as `logcat -d` does, rather than blocking forever.
"""

from __future__ import annotations

import time

from ..command import CommandTable, UsageError
from .processes import SYSTEM_SERVER_PID, pid_of

COMMANDS = CommandTable()

_LEVELS = "VDIWEF"
_BOOT = [("main", 1, "I", "init", "starting service 'zygote'..."),
         ("system", SYSTEM_SERVER_PID, "I", "SystemServer", "Entered the Android system server!"),
         ("system", SYSTEM_SERVER_PID, "I", "ActivityManager", "System now ready"),
         ("main", 1789, "I", "SystemUIService", "Starting SystemUI services"),
         ("system", SYSTEM_SERVER_PID, "I", "ActivityTaskManager",
          "START u0 {act=android.intent.action.MAIN cat=[android.intent.category.HOME] flg=0x10000100 "
          "cmp=com.android.launcher3/.Launcher} from uid 0")]


def _buffer(state) -> list[tuple]:
    if state.log is None:
        now = time.time() - 60
        state.log = [(buf, now + i * 0.05, pid, pid, lvl, tag, msg) for i, (buf, pid, lvl, tag, msg) in enumerate(_BOOT)]
    return state.log


def log(state, tag: str, message: str, *, level: str = "I", pid: int = SYSTEM_SERVER_PID,
        buffer: str = "system") -> None:
    """Append one line, as a service calling Slog/Log would."""
    _buffer(state).append((buffer, time.time(), pid, pid + 17 if pid != 1 else 1, level, tag, message))


def log_app(state, package: str, tag: str, message: str, level: str = "I") -> None:
    pid = pid_of(package)
    log(state, tag, message, level=level, pid=pid, buffer="main")


def _stamp(t: float) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def _format(line: tuple, fmt: str) -> str:
    _, t, pid, tid, lvl, tag, msg = line
    if fmt == "time":
        return f"{_stamp(t)} {lvl}/{tag:<8}({pid:5d}): {msg}\n"
    if fmt == "brief":
        return f"{lvl}/{tag:<8}({pid:5d}): {msg}\n"
    if fmt == "tag":
        return f"{lvl}/{tag:<8}: {msg}\n"
    if fmt == "raw":
        return msg + "\n"
    return f"{_stamp(t)} {pid:5d} {tid:5d} {lvl} {tag:<8}: {msg}\n"   # threadtime


def _filter(specs: list[str]):
    """TAG:LEVEL specs (`*:S` silences the rest); a line shows if its tag's level allows it."""
    levels = {"*": "V"}
    for spec in specs:
        tag, _, lvl = spec.partition(":")
        levels[tag] = (lvl or "V").upper()[:1]

    def shows(tag: str, lvl: str) -> bool:
        want = levels.get(tag, levels["*"])
        return want != "S" and _LEVELS.index(lvl) >= _LEVELS.index(want if want in _LEVELS else "V")
    return shows


_USAGE = ("Usage: logcat [options] [filterspecs]\n\nGeneral options:\n  -b, --buffer=<buffer>  main system crash "
          "events all default\n  -c, --clear  Clear the log and exit\n  -d  Dump the log and then exit\n"
          "  -t <count>  Print only the most recent <count> lines (implies -d)\n"
          "  -T <count>  Print only the most recent <count> lines (does not imply -d)\n"
          "  -v, --format=<format>  brief tag raw time threadtime\n  -s  Set default filter to silent\n")


FOLLOW_POLL_S = 0.1   # how often a following logcat looks for new lines


@COMMANDS.add("logcat")
def _logcat(sh, args, io_):
    fmt, buffers, tail, specs = "threadtime", set(), None, []
    clear = dump = False
    it = iter(args)
    for a in it:
        if a in ("-c", "--clear"):
            clear = True
        elif a in ("-d", "--dump"):
            dump = True
        elif a in ("-v", "--format") or a.startswith("--format="):
            fmt = a.split("=", 1)[1] if "=" in a else next(it, "threadtime")
        elif a in ("-b", "--buffer") or a.startswith("--buffer="):
            buffers |= set((a.split("=", 1)[1] if "=" in a else next(it, "")).split(","))
        elif a in ("-t", "-T") or (a[:2] in ("-t", "-T") and a[2:].isdigit()):
            value = a[2:] or next(it, "")
            if not value.isdigit():
                raise UsageError(f"logcat: -{a[1]} \"{value}\" not a number or time\n" + _USAGE, 1)
            tail = int(value)
            dump = dump or a[1] == "t"   # -t implies -d; -T prints its tail, then follows
        elif a == "-s":
            specs.append("*:S")
        elif a in ("-h", "--help"):
            io_.err(_USAGE)
            return 0
        elif a.startswith("-"):
            raise UsageError(f"logcat: invalid option -- '{a.lstrip('-')[:1]}'\n" + _USAGE, 1)
        else:
            specs.append(a)
    if fmt not in ("threadtime", "time", "brief", "tag", "raw"):
        raise UsageError(f"logcat: Invalid parameter \"{fmt}\" to -v.\n" + _USAGE, 1)
    lines = _buffer(sh.state)
    if clear:
        lines.clear()
        return 0
    buffers = {"main", "system", "crash"} if not buffers or "default" in buffers or "all" in buffers else buffers
    shows = _filter(specs)
    picked = [ln for ln in lines if ln[0] in buffers and shows(ln[5], ln[4])]
    if tail is not None:
        picked = picked[-tail:] if tail else []
    begun: set[str] = set()
    _print(io_, picked, fmt, begun)
    if dump or not (io_.live and sh.session.live):
        return 0
    _follow(sh, io_, lines, buffers, shows, fmt, begun)
    return 0


def _print(io_, lines: list[tuple], fmt: str, begun: set[str]) -> None:
    for ln in lines:
        if ln[0] not in begun:
            begun.add(ln[0])
            io_.out(f"--------- beginning of {ln[0]}\n")
        io_.out(_format(ln, fmt))


def _follow(sh, io_, lines: list[tuple], buffers: set[str], shows, fmt: str, begun: set[str]) -> None:
    """New lines as they come, until the client hangs up."""
    session = sh.session
    seen = len(lines)
    session.flush()
    while not session.wait(FOLLOW_POLL_S):
        now = _buffer(sh.state)
        if now is not lines or len(now) < seen:   # cleared (logcat -c) or a fresh boot's buffer
            lines, seen = now, 0
        fresh, seen = lines[seen:], len(lines)
        _print(io_, [ln for ln in fresh if ln[0] in buffers and shows(ln[5], ln[4])], fmt, begun)
        session.flush()


def line_count(state) -> int:
    return len(_buffer(state))
