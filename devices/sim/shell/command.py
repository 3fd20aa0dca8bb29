"""What a SimPhone shell command is: a function of (shell, args, io) returning its exit status,
the `Io` it reads and writes, the errors it may raise, and the table a command module lists its
commands in.

Each module under commands/ makes its own `COMMANDS = CommandTable()` and fills it with
`@COMMANDS.add("name", ...)`; commands/__init__.py joins the modules' tables into the shell's one.
A command reaches another command through the shell that runs it (`sh.commands`), never through a
module-level registry.
"""

from __future__ import annotations

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
    def __init__(self, write: Callable[[bytes], None]):
        self.write = write


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
