"""What a SimPhone shell command is: a function of (shell, args, io) returning its exit status,
the `Io` it reads and writes, the errors it may raise, and the table a command module lists its
commands in.

Each module under commands/ makes its own `COMMANDS = CommandTable()` and fills it with
`@COMMANDS.add("name", ...)`; commands/__init__.py joins the modules' tables into the shell's one.
A command reaches another command through the shell that runs it (`sh.commands`), never through a
module-level registry.
"""

from __future__ import annotations

import time
from typing import Any, Callable

SH = "/system/bin/sh"


class ShellExit(Exception):
    """`exit N`: unwinds to the end of the command line (or of the subshell)."""

    def __init__(self, status: int):
        self.status = status


class UsageError(Exception):
    """A command's complaint about its arguments: the message goes to stderr, `status` is its exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class Sink:
    """Where a command's output goes. `live`: straight to the client (not a pipe, a file or a
    command substitution), so a command that streams (logcat, screenrecord to -) may follow."""

    def __init__(self, write: Callable[[bytes], None], live: bool = False):
        self.write = write
        self.live = live


class Session:
    """The client a command line runs for, as the command sees it: a process on a phone learns
    of a hang-up by SIGHUP/SIGPIPE when adbd's socket closes; a SimPhone command asks here.

    This base is a detached run (a Shell used from Python, a command substitution): nobody
    hangs up, output is collected and returned. adb/services.py gives each shell/exec stream a
    session whose output reaches the client at each `flush()` and which hangs up when the
    client closes the stream (Ctrl-C in `adb shell`, a closed socket)."""

    live = False

    def write(self, fd: int, data: bytes) -> None:
        raise NotImplementedError   # a detached run's output goes to its ShellResult

    def flush(self) -> None:
        """Send what the command wrote so far (a command that follows calls this as it goes)."""

    def hung_up(self) -> bool:
        return False

    def read(self, n: int) -> bytes | None:
        """`n` bytes of the client's stdin (what `adb install` streams), None when it ends first."""
        return None

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early on a hang-up; True when the client hung up."""
        time.sleep(max(0.0, seconds))
        return False


class Io:
    """A command's stdin and its stdout/stderr sinks."""

    def __init__(self, stdin: bytes, out: Sink, err: Sink):
        self.stdin = stdin
        self._out = out
        self._err = err

    def out(self, data: str | bytes) -> None:
        self._out.write(data.encode() if isinstance(data, str) else data)

    def err(self, data: str | bytes) -> None:
        self._err.write(data.encode() if isinstance(data, str) else data)

    @property
    def live(self) -> bool:
        """stdout goes straight to the client (see Sink)."""
        return self._out.live


# A command: (the Shell running it, its arguments, its Io) -> exit status (None means 0).
Command = Callable[[Any, list[str], Io], "int | None"]


class CommandTable(dict):
    """name -> Command for one module's commands."""

    def add(self, *names: str) -> Callable[[Command], Command]:
        """Decorator: the function is the command `names` (a function of shell, args, io)."""

        def register(fn: Command) -> Command:
            for n in names:
                self[n] = fn
            return fn
        return register
