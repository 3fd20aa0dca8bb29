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
"""

from __future__ import annotations

import base64
import fnmatch
import io
import json
import posixpath
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

SH = "/system/bin/sh"
ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"
# The virtual keyboard map `input text` uses: printable ASCII, tab and newline.
_KCM_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t", "\n"}


class ShellSyntaxError(Exception):
    pass


class _Exit(Exception):
    def __init__(self, status: int):
        self.status = status


# --- the in-memory filesystem ---------------------------------------------------------------


@dataclass
class _File:
    data: bytes
    mode: int = 0o100660
    mtime: int = 0


_DIR_MODE = 0o040771
_BASE_DIRS = (
    "/", "/sdcard", "/sdcard/Download", "/sdcard/Pictures", "/sdcard/DCIM", "/sdcard/Documents",
    "/data", "/data/local", "/data/local/tmp", "/system", "/system/bin", "/dev", "/proc", "/vendor",
)
# The shell user cannot remove or write these (they are root's on a phone).
_PROTECTED = ("/system", "/vendor", "/proc", "/dev", "/data", "/data/local", "/")


class FakeFS:
    """Files and directories by absolute path; /storage/emulated/0 and /storage/self/primary
    are /sdcard, /dev/null swallows writes. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._dirs: dict[str, int] = {d: int(time.time()) for d in _BASE_DIRS}
        self._files: dict[str, _File] = {}

    @staticmethod
    def norm(path: str, cwd: str = "/") -> str:
        p = posixpath.normpath(posixpath.join(cwd, path)) if path else cwd
        if p.startswith("//"):
            p = p[1:]
        for alias in ("/storage/emulated/0", "/storage/self/primary", "/mnt/sdcard"):
            if p == alias or p.startswith(alias + "/"):
                p = "/sdcard" + p[len(alias):]
        return p

    def is_dir(self, path: str) -> bool:
        with self._lock:
            return self.norm(path) in self._dirs

    def is_file(self, path: str) -> bool:
        with self._lock:
            return self.norm(path) in self._files

    def exists(self, path: str) -> bool:
        return self.is_dir(path) or self.is_file(path) or self.norm(path) in ("/dev/null", "/dev/tty")

    def read(self, path: str) -> bytes:
        p = self.norm(path)
        with self._lock:
            if p == "/dev/null":
                return b""
            if p in self._dirs:
                raise IsADirectoryError(path)
            if p not in self._files:
                raise FileNotFoundError(path)
            return self._files[p].data

    def writable(self, path: str) -> bool:
        p = self.norm(path)
        return p == "/dev/null" or any(p.startswith(d + "/") for d in ("/sdcard", "/data/local/tmp"))

    def write(self, path: str, data: bytes, *, append: bool = False, mode: int | None = None,
              mtime: int | None = None, make_parents: bool = False) -> None:
        p = self.norm(path)
        if p == "/dev/null":
            return
        with self._lock:
            parent = posixpath.dirname(p)
            if p in self._dirs:
                raise IsADirectoryError(path)
            if parent not in self._dirs:
                if not make_parents:
                    raise FileNotFoundError(path)
                self.mkdir(parent, parents=True)
            if not self.writable(p):
                raise PermissionError(path)
            old = self._files.get(p)
            if append and old is not None:
                data = old.data + data
            self._files[p] = _File(
                data,
                0o100000 | (mode & 0o7777) if mode is not None else (old.mode if old else 0o100660),
                int(time.time()) if mtime is None else mtime,
            )

    def touch(self, path: str) -> None:
        p = self.norm(path)
        with self._lock:
            if p in self._files:
                self._files[p].mtime = int(time.time())
            elif p not in self._dirs:
                self.write(p, b"")

    def mkdir(self, path: str, *, parents: bool = False) -> None:
        p = self.norm(path)
        with self._lock:
            if p in self._dirs:
                if parents:
                    return
                raise FileExistsError(path)
            if p in self._files:
                raise FileExistsError(path)
            parent = posixpath.dirname(p)
            if parent not in self._dirs:
                if not parents:
                    raise FileNotFoundError(path)
                self.mkdir(parent, parents=True)
            if not self.writable(p):
                raise PermissionError(path)
            self._dirs[p] = int(time.time())

    def remove(self, path: str, *, recursive: bool = False) -> None:
        p = self.norm(path)
        with self._lock:
            if p in self._files:
                if not self.writable(p):
                    raise PermissionError(path)
                del self._files[p]
                return
            if p not in self._dirs:
                raise FileNotFoundError(path)
            if not recursive:
                raise IsADirectoryError(path)
            denied = False
            for f in [f for f in self._files if f.startswith(p.rstrip("/") + "/")]:
                if self.writable(f):
                    del self._files[f]
                else:
                    denied = True
            for d in sorted((d for d in self._dirs if d.startswith(p.rstrip("/") + "/")), reverse=True):
                if d not in _PROTECTED and d not in _BASE_DIRS and self.writable(d):
                    del self._dirs[d]
                else:
                    denied = True
            if p in _PROTECTED or p in _BASE_DIRS or not self.writable(p):
                denied = True
            else:
                del self._dirs[p]
            if denied:
                raise PermissionError(path)

    def listdir(self, path: str) -> list[str]:
        p = self.norm(path)
        with self._lock:
            if p not in self._dirs:
                raise (NotADirectoryError if p in self._files else FileNotFoundError)(path)
            prefix = p.rstrip("/") + "/"
            names = {q[len(prefix):] for q in list(self._dirs) + list(self._files)
                     if q.startswith(prefix) and q != p and "/" not in q[len(prefix):]}
            return sorted(names)

    def stat(self, path: str) -> tuple[int, int, int] | None:
        """(mode, size, mtime), or None when absent."""
        p = self.norm(path)
        with self._lock:
            if p in self._dirs:
                return (_DIR_MODE, 4096, self._dirs[p])
            f = self._files.get(p)
            if f is not None:
                return (f.mode, len(f.data), f.mtime)
            if p in ("/dev/null", "/dev/tty"):
                return (0o020666, 0, 0)
            return None

    def snapshot(self) -> dict[str, int]:
        """Every file with its size: what tests compare to prove nothing was touched."""
        with self._lock:
            return {p: len(f.data) for p, f in sorted(self._files.items())}


# --- the device-wide state commands share ------------------------------------------------------


@dataclass
class Faults:
    slow_screencap_ms: int = 0
    truncate_next_screencap: int = 0  # how many of the next frames come out cut short


@dataclass
class DeviceState:
    """What outlives one command: the phone, the filesystem, enabled IMEs, injected faults, and
    the server's hooks for transport-level faults (drop, offline, unauthorized)."""

    phone: Any
    fs: FakeFS = field(default_factory=FakeFS)
    faults: Faults = field(default_factory=Faults)
    enabled_imes: set[str] = field(default_factory=lambda: {"com.android.inputmethod.latin/.LatinIME"})
    on_transport_fault: Callable[[str, list[str]], None] | None = None
    on_clear: Callable[[], None] | None = None


# --- lexer / parser ---------------------------------------------------------------------------
# A word is a list of parts: ("lit", text, quoted) | ("param", name, quoted)
# | ("cmd", source, quoted) | ("arith", expr, quoted) | ("tilde",).

_META = set(" \t\n;&|<>()")
_OPS = ("&&", "||", ";;", ">>", ">&", "<&", ">|", "<<", "<>", ";", "&", "|", "<", ">", "(", ")", "\n")
_UNSUPPORTED_WORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done",
                      "case", "esac", "function", "select", "time", "[["}


@dataclass
class _Redir:
    fd: int
    op: str
    target: list  # a word, or [("lit", "1", True)] for >&1


@dataclass
class _Simple:
    assigns: list[tuple[str, list]]
    words: list[list]
    redirs: list[_Redir]


@dataclass
class _Group:
    body: list
    subshell: bool
    redirs: list[_Redir]


@dataclass
class _Pipeline:
    commands: list
    negate: bool


class _Parser:
    def __init__(self, src: str):
        self.s = src
        self.i = 0

    # characters
    def _peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def _skip_blanks(self) -> None:
        while True:
            c = self._peek()
            if c in (" ", "\t"):
                self.i += 1
            elif c == "\\" and self._peek(1) == "\n":
                self.i += 2
            elif c == "#":
                while self._peek() not in ("", "\n"):
                    self.i += 1
            else:
                return

    def _op(self) -> str | None:
        self._skip_blanks()
        for op in _OPS:
            if self.s.startswith(op, self.i):
                return op
        return None

    def _take(self, op: str) -> None:
        assert self.s.startswith(op, self.i)
        self.i += len(op)

    # grammar
    def program(self, end: str | None = None) -> list:
        items: list = []  # (and_or, background)
        while True:
            while self._op() == "\n":
                self._take("\n")
            if self._op() in (";", "&"):
                raise ShellSyntaxError(f"syntax error: '{self._op()}' unexpected")
            self._skip_blanks()
            if self.i >= len(self.s):
                if end:
                    raise ShellSyntaxError(f"syntax error: '{end}' missing")
                return items
            if end == ")" and self._op() == ")":
                return items
            if end == "}" and self._at_word("}"):
                return items
            ao = self.and_or()
            op = self._op()
            bg = op == "&"
            if op in ("&", ";", "\n"):
                self._take(op)
            elif op == ";;":
                raise ShellSyntaxError("syntax error: ';;' unexpected")
            elif op == ")" and end != ")":
                raise ShellSyntaxError("syntax error: ')' unexpected")
            items.append((ao, bg))

    def _at_word(self, w: str) -> bool:
        self._skip_blanks()
        if not self.s.startswith(w, self.i):
            return False
        nxt = self._peek(len(w))
        return nxt == "" or nxt in _META

    def and_or(self) -> list:
        parts = [("", self.pipeline())]
        while (op := self._op()) in ("&&", "||"):
            self._take(op)
            while self._op() == "\n":
                self._take("\n")
            parts.append((op, self.pipeline()))
        return parts

    def pipeline(self) -> _Pipeline:
        negate = False
        if self._at_word("!"):
            self.i += 1
            negate = True
        cmds = [self.command()]
        while self._op() == "|":
            self._take("|")
            while self._op() == "\n":
                self._take("\n")
            cmds.append(self.command())
        return _Pipeline(cmds, negate)

    def command(self):
        op = self._op()
        if op == "(":
            self._take("(")
            body = self.program(end=")")
            self._take(")")
            return _Group(body, True, self._redirs())
        if self._at_word("{"):
            self.i += 1
            body = self.program(end="}")
            self.i += 1
            return _Group(body, False, self._redirs())
        if op is not None and op not in ("<", ">", ">>", ">&", "<&", ">|", "<>"):
            raise ShellSyntaxError(f"syntax error: '{op.strip() or 'newline'}' unexpected")
        assigns: list = []
        words: list = []
        redirs: list = []
        while True:
            self._skip_blanks()
            if self.i >= len(self.s):
                break
            r = self._redir()
            if r:
                redirs.append(r)
                continue
            if self._op() is not None:
                break
            start = self.i
            word = self.word()
            raw = self.s[start:self.i]
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*=", word[0][1]) if word[0][0] == "lit" and not word[0][2] else None
            if not words and m:
                assigns.append((m.group(0)[:-1], _drop_prefix(word, m.end())))
                continue
            if not words and raw in _UNSUPPORTED_WORDS:
                raise ShellSyntaxError(f"syntax error: '{raw}' is not supported by SimPhone's shell")
            words.append(word)
        if not words and not assigns and not redirs:
            nxt = self._op() or "newline"
            raise ShellSyntaxError(f"syntax error: '{nxt.strip() or 'newline'}' unexpected")
        return _Simple(assigns, words, redirs)

    def _redirs(self) -> list:
        out = []
        while (r := self._redir()) is not None:
            out.append(r)
        return out

    def _redir(self) -> _Redir | None:
        self._skip_blanks()
        m = re.match(r"(\d?)(>>|>&|<&|>\||<<|<>|<|>)", self.s[self.i:])
        if not m:
            return None
        fd_text, op = m.group(1), m.group(2)
        if op == "<<":
            raise ShellSyntaxError("syntax error: here-documents are not supported by SimPhone's shell")
        self.i += m.end()
        self._skip_blanks()
        if self.i >= len(self.s) or self._op() is not None:
            raise ShellSyntaxError("syntax error: redirection target missing")
        target = self.word()
        fd = int(fd_text) if fd_text else (0 if op in ("<", "<&", "<>") else 1)
        return _Redir(fd, op, target)

    def word(self) -> list:
        parts: list = []
        buf: list[str] = []
        start = self.i

        def flush(quoted=False):
            if buf:
                parts.append(("lit", "".join(buf), quoted))
                buf.clear()

        while self.i < len(self.s):
            c = self.s[self.i]
            if c in _META:
                break
            if c == "~" and self.i == start:
                nxt = self._peek(1)
                if nxt in ("", "/") or nxt in _META:
                    parts.append(("tilde",))
                    self.i += 1
                    continue
            if c == "\\":
                nxt = self._peek(1)
                if nxt == "\n":
                    self.i += 2
                    continue
                flush()
                parts.append(("lit", nxt or "\\", True))
                self.i += 2 if nxt else 1
            elif c == "'":
                flush()
                end = self.s.find("'", self.i + 1)
                if end < 0:
                    raise ShellSyntaxError("syntax error: unterminated quoted string")
                parts.append(("lit", self.s[self.i + 1:end], True))
                self.i = end + 1
            elif c == '"':
                flush()
                self.i += 1
                self._double_quoted(parts)
            elif c == "$":
                flush()
                parts.append(self._dollar(False))
            elif c == "`":
                flush()
                parts.append(("cmd", self._backtick(), False))
            else:
                buf.append(c)
                self.i += 1
        flush()
        if not parts:
            parts.append(("lit", "", True))
        return parts

    def _double_quoted(self, parts: list) -> None:
        buf: list[str] = []
        while True:
            if self.i >= len(self.s):
                raise ShellSyntaxError("syntax error: unterminated quoted string")
            c = self.s[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\":
                nxt = self._peek(1)
                if nxt in ('$', '`', '"', '\\'):
                    buf.append(nxt)
                    self.i += 2
                elif nxt == "\n":
                    self.i += 2
                else:
                    buf.append("\\")
                    self.i += 1
            elif c == "$":
                if buf:
                    parts.append(("lit", "".join(buf), True))
                    buf.clear()
                parts.append(self._dollar(True))
            elif c == "`":
                if buf:
                    parts.append(("lit", "".join(buf), True))
                    buf.clear()
                parts.append(("cmd", self._backtick(), True))
            else:
                buf.append(c)
                self.i += 1
        parts.append(("lit", "".join(buf), True))

    def _dollar(self, quoted: bool) -> tuple:
        self.i += 1  # the $
        c = self._peek()
        if c == "(":
            if self._peek(1) == "(":
                body = self._balanced(self.i + 2, "((", "))")
                return ("arith", body, quoted)
            return ("cmd", self._balanced(self.i + 1, "(", ")"), quoted)
        if c == "{":
            end = self.s.find("}", self.i)
            if end < 0:
                raise ShellSyntaxError("syntax error: missing '}'")
            name = self.s[self.i + 1:end]
            self.i = end + 1
            if not re.fullmatch(r"#?([A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-])", name):
                raise ShellSyntaxError(f"${{{name}}}: bad substitution")
            return ("param", name, quoted)
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!-]", self.s[self.i:])
        if m:
            self.i += m.end()
            return ("param", m.group(0), quoted)
        return ("lit", "$", quoted)

    def _balanced(self, j: int, open_: str, close: str) -> str:
        """Source of $( ... ) starting at j (after the opening), honouring quotes and nesting."""
        depth = 1
        start = j
        while j < len(self.s):
            c = self.s[j]
            if c == "\\":
                j += 2
                continue
            if c == "'":
                k = self.s.find("'", j + 1)
                if k < 0:
                    break
                j = k + 1
                continue
            if c == '"':
                j += 1
                while j < len(self.s) and self.s[j] != '"':
                    j += 2 if self.s[j] == "\\" else 1
                j += 1
                continue
            if self.s.startswith(close, j):
                depth -= 1
                if depth == 0:
                    self.i = j + len(close)
                    return self.s[start:j]
                j += len(close)
                continue
            if c == "(":
                depth += 1
            j += 1
        raise ShellSyntaxError(f"syntax error: unmatched '{open_}'")

    def _backtick(self) -> str:
        j = self.i + 1
        out: list[str] = []
        while j < len(self.s):
            c = self.s[j]
            if c == "\\" and j + 1 < len(self.s) and self.s[j + 1] in "$`\\":
                out.append(self.s[j + 1])
                j += 2
                continue
            if c == "`":
                self.i = j + 1
                return "".join(out)
            out.append(c)
            j += 1
        raise ShellSyntaxError("syntax error: unterminated backquoted string")


def _drop_prefix(word: list, n: int) -> list:
    first = ("lit", word[0][1][n:], False)
    rest = word[1:]
    return ([first] if first[1] else []) + rest or [("lit", "", True)]


def parse(src: str) -> list:
    return _Parser(src).program()


# --- execution ----------------------------------------------------------------------------------


class _Sink:
    def __init__(self, write: Callable[[bytes], None]):
        self.write = write


class Io:
    """A command's stdin and its stdout/stderr sinks."""

    def __init__(self, stdin: bytes, out: _Sink, err: _Sink):
        self.stdin = stdin
        self._out = out
        self._err = err

    def out(self, data: str | bytes) -> None:
        self._out.write(data.encode() if isinstance(data, str) else data)

    def err(self, data: str | bytes) -> None:
        self._err.write(data.encode() if isinstance(data, str) else data)


@dataclass
class ShellResult:
    chunks: list[tuple[int, bytes]]  # (fd, bytes) in the order written
    status: int

    @property
    def output(self) -> bytes:
        """stdout and stderr interleaved, as a shell without shell_v2 delivers them."""
        return b"".join(d for _, d in self.chunks)

    @property
    def stdout(self) -> bytes:
        return b"".join(d for fd, d in self.chunks if fd == 1)

    @property
    def stderr(self) -> bytes:
        return b"".join(d for fd, d in self.chunks if fd == 2)


class Shell:
    """Runs one `sh -c` command line against a DeviceState."""

    def __init__(self, state: DeviceState):
        self.state = state
        self.fs = state.fs
        self.phone = state.phone
        self.env: dict[str, str] = {"HOME": "/", "PATH": "/product/bin:/apex/com.android.runtime/bin:"
                                    "/system/bin:/system/xbin:/odm/bin:/vendor/bin", "USER": "shell",
                                    "SHELL": SH, "IFS": " \t\n", "0": SH, "$": "4242", "?": "0"}
        self._err_sink: _Sink | None = None

    def run(self, command: str) -> ShellResult:
        chunks: list[tuple[int, bytes]] = []
        io_ = Io(b"", _Sink(lambda b: chunks.append((1, b))), _Sink(lambda b: chunks.append((2, b))))
        try:
            program = parse(command)
        except ShellSyntaxError as e:
            io_.err(f"{SH}: {e}\n")
            return ShellResult(chunks, 1)
        try:
            status = self._program(program, io_)
        except _Exit as e:
            status = e.status
        return ShellResult(chunks, status & 0xFF)

    # -- structure
    def _program(self, items: list, io_: Io) -> int:
        status = 0
        for and_or, _background in items:  # background jobs run to completion, in order
            status = self._and_or(and_or, io_)
        return status

    def _and_or(self, parts: list, io_: Io) -> int:
        status = 0
        for op, pipeline in parts:
            if op == "&&" and status != 0:
                continue
            if op == "||" and status == 0:
                continue
            status = self._pipeline(pipeline, io_)
            self.env["?"] = str(status)
        return status

    def _pipeline(self, p: _Pipeline, io_: Io) -> int:
        stdin = io_.stdin
        status = 0
        for k, cmd in enumerate(p.commands):
            last = k == len(p.commands) - 1
            if last:
                status = self._command(cmd, Io(stdin, io_._out, io_._err))
            else:
                buf = bytearray()
                status = self._command(cmd, Io(stdin, _Sink(buf.extend), io_._err))
                stdin = bytes(buf)
        if p.negate:
            status = 0 if status else 1
        self.env["?"] = str(status)
        return status

    def _command(self, cmd, io_: Io) -> int:
        try:
            io2, finish = self._apply_redirs(cmd.redirs, io_)
        except _RedirError as e:
            io_.err(f"{SH}: {e}\n")
            return 1
        try:
            if isinstance(cmd, _Group):
                if cmd.subshell:
                    saved = dict(self.env)
                    try:
                        return self._program(cmd.body, io2)
                    except _Exit as e:
                        return e.status
                    finally:
                        self.env = saved
                return self._program(cmd.body, io2)
            self._err_sink = io2._err
            argv: list[str] = []
            for w in cmd.words:
                argv.extend(self.expand(w))
            values = {name: "".join(self.expand(w, split=False)) for name, w in cmd.assigns}
            if not argv:
                self.env.update(values)
                return 0
            return self._exec(argv, io2)
        finally:
            finish()

    def _apply_redirs(self, redirs: list[_Redir], io_: Io):
        sinks = {1: io_._out, 2: io_._err}
        stdin = io_.stdin
        pending: list[tuple[str, bytearray, bool]] = []
        for r in redirs:
            target = "".join(self.expand(r.target, split=False))
            if r.op in (">&", "<&"):
                if target == "-":
                    sinks[r.fd] = _Sink(lambda b: None)
                elif target.isdigit() and int(target) in sinks:
                    sinks[r.fd] = sinks[int(target)]
                elif r.op == ">&" and not target.isdigit():
                    buf = bytearray()
                    pending.append((target, buf, False))
                    sinks[1] = sinks[2] = _Sink(buf.extend)
                else:
                    raise _RedirError(f"{target}: bad file descriptor")
            elif r.op in (">", ">|", ">>"):
                path = self.fs.norm(target)
                if path == "/dev/tty":
                    sinks[r.fd] = io_._out
                    continue
                if path == "/dev/null":
                    sinks[r.fd] = _Sink(lambda b: None)
                    continue
                if self.fs.is_dir(path):
                    raise _RedirError(f"can't create {target}: Is a directory")
                if not self.fs.is_dir(posixpath.dirname(path)):
                    raise _RedirError(f"can't create {target}: No such file or directory")
                if not self.fs.writable(path):
                    raise _RedirError(f"can't create {target}: Permission denied")
                buf = bytearray()
                append = r.op == ">>"
                if not append:
                    self.fs.write(path, b"")
                pending.append((path, buf, append))
                sinks[r.fd] = _Sink(buf.extend)
            else:  # < and <>
                try:
                    stdin = self.fs.read(target)
                except (FileNotFoundError, IsADirectoryError):
                    raise _RedirError(f"{target}: No such file or directory") from None

        def finish():
            for path, buf, _append in pending:
                try:
                    self.fs.write(path, bytes(buf), append=True)
                except OSError:
                    pass

        return Io(stdin, sinks[1], sinks[2]), finish

    # -- expansion
    def expand(self, word: list, split: bool = True) -> list[str]:
        words = _brace_expand(word) if split else [word]
        out: list[str] = []
        for w in words:
            out.extend(self._expand_one(w, split))
        return out

    def _expand_one(self, word: list, split: bool) -> list[str]:
        # chars as (char, quoted, splittable)
        chars: list[tuple[str, bool, bool]] = []
        any_quoted = False
        for part in word:
            kind = part[0]
            if kind == "tilde":
                chars.extend((c, True, False) for c in self.env.get("HOME", "/"))
                continue
            quoted = part[2]
            any_quoted = any_quoted or quoted
            if kind == "lit":
                chars.extend((c, quoted, False) for c in part[1])
                continue
            if kind == "param":
                value = self._param(part[1])
            elif kind == "cmd":
                value = self._substitute(part[1])
            else:
                value = self._arith(part[1])
            chars.extend((c, quoted, not quoted) for c in value)
        if not split:
            return ["".join(c for c, _, _ in chars)]
        ifs = self.env.get("IFS", " \t\n")
        fields: list[list[tuple[str, bool, bool]]] = [[]]
        for ch in chars:
            if ch[2] and ch[0] in ifs:
                if fields[-1]:
                    fields.append([])
            else:
                fields[-1].append(ch)
        if not fields[-1]:
            fields.pop()
        if not fields:
            return [""] if any_quoted else []
        result: list[str] = []
        for f in fields:
            result.extend(self._glob(f))
        return result

    def _glob(self, chars: list[tuple[str, bool, bool]]) -> list[str]:
        text = "".join(c for c, _, _ in chars)
        if not any(c in "*?[" and not q for c, q, _ in chars):
            return [text]
        pattern = "".join(c if (c in "*?[]" and not q) else _fnescape(c) for c, q, _ in chars)
        segments = [s for s in pattern.split("/") if s]
        candidates = ["/"]
        for seg in segments:
            nxt = []
            for d in candidates:
                if not self.fs.is_dir(d):
                    continue
                names = self.fs.listdir(d)
                if not any(ch in seg for ch in "*?["):
                    real = fnmatch.translate(seg)
                    for n in names:
                        if re.fullmatch(real, n):
                            nxt.append(posixpath.join(d, n))
                    continue
                for n in names:
                    if n.startswith(".") and not seg.startswith("."):
                        continue
                    if fnmatch.fnmatchcase(n, seg):
                        nxt.append(posixpath.join(d, n))
            candidates = nxt
        if not text.startswith("/"):  # relative to the cwd, which is always /
            candidates = [c[1:] for c in candidates]
        return sorted(candidates) or [text]

    def _param(self, name: str) -> str:
        if name.startswith("#") and len(name) > 1:
            return str(len(self._param(name[1:])))
        if name in ("#",):
            return "0"
        if name in ("@", "*", "!", "-") or name.isdigit() and name != "0":
            return ""
        return self.env.get(name, "")

    def _substitute(self, source: str) -> str:
        sub = Shell(self.state)
        sub.env = dict(self.env)
        result = sub.run(source)
        if self._err_sink is not None and result.stderr:
            self._err_sink.write(result.stderr)
        self.env["?"] = str(result.status)
        return result.stdout.decode("utf-8", "replace").rstrip("\n")

    def _arith(self, expr: str) -> str:
        expr = re.sub(r"\$?([A-Za-z_][A-Za-z0-9_]*)", lambda m: self.env.get(m.group(1), "0") or "0", expr)
        if not re.fullmatch(r"[\d\s+\-*/%()]*", expr):
            return "0"
        try:
            return str(int(eval(expr.replace("/", "//"), {"__builtins__": {}}, {})))  # digits and operators only
        except Exception:
            return "0"

    # -- commands
    def _exec(self, argv: list[str], io_: Io) -> int:
        name = argv[0]
        fn = _BUILTINS.get(posixpath.basename(name) if name.startswith("/system/bin/") else name)
        if fn is None:
            io_.err(f"{SH}: {name}: inaccessible or not found\n")
            return 127
        try:
            return fn(self, argv[1:], io_) or 0
        except _Exit:
            raise
        except _Usage as e:
            io_.err(f"{e}\n")
            return e.status
        except Exception as e:  # a bug in the simulator must not kill the connection
            io_.err(f"{name}: SimPhone internal error: {type(e).__name__}: {e}\n")
            return 255


class _RedirError(Exception):
    pass


class _Usage(Exception):
    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def _fnescape(c: str) -> str:
    return "[" + c + "]" if c in "*?[]" else c


def _brace_expand(word: list) -> list[list]:
    """mksh brace expansion for the simple case: one unquoted literal with {a,b,...}."""
    for k, part in enumerate(word):
        if part[0] != "lit" or part[2]:
            continue
        m = re.search(r"\{([^{}]*,[^{}]*)\}", part[1])
        if not m:
            continue
        out = []
        for alt in m.group(1).split(","):
            text = part[1][:m.start()] + alt + part[1][m.end():]
            out.extend(_brace_expand(word[:k] + [("lit", text, False)] + word[k + 1:]))
        return out
    return [word]


# --- builtins and Android commands --------------------------------------------------------------

_BUILTINS: dict[str, Callable[[Shell, list[str], Io], int | None]] = {}


def command(*names: str):
    def register(fn):
        for n in names:
            _BUILTINS[n] = fn
        return fn
    return register


@command("true", ":")
def _true(sh, args, io_):
    return 0


@command("false")
def _false(sh, args, io_):
    return 1


@command("exit")
def _exit(sh, args, io_):
    raise _Exit(int(args[0]) if args and args[0].lstrip("-").isdigit() else int(sh.env.get("?", "0")))


@command("cd")
def _cd(sh, args, io_):
    if args and not sh.fs.is_dir(args[0]):
        io_.err(f"{SH}: cd: /{args[0]}: No such file or directory\n")
        return 2
    return 0


@command("export", "unset", "set", "readonly", "local")
def _env(sh, args, io_):
    for a in args:
        if "=" in a:
            k, v = a.split("=", 1)
            sh.env[k] = v
    return 0


@command("echo")
def _echo(sh, args, io_):
    newline, escapes = True, True  # mksh's echo interprets backslash escapes
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for f in args[0][1:]:
            newline = newline and f != "n"
            escapes = {"e": True, "E": False}.get(f, escapes)
        args = args[1:]
    text = " ".join(args)
    if escapes and "\\" in text:
        text, stop = _echo_escapes(text)
        if stop:
            newline = False
    io_.out(text + ("\n" if newline else ""))


def _echo_escapes(text: str) -> tuple[str, bool]:
    out, i = [], 0
    table = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "e": "\x1b"}
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "c":
                return "".join(out), True
            if n in table:
                out.append(table[n])
                i += 2
                continue
            if n == "0":
                m = re.match(r"[0-7]{0,3}", text[i + 2:])
                out.append(chr(int(m.group(0) or "0", 8)))
                i += 2 + m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out), False


@command("printf")
def _printf(sh, args, io_):
    if not args:
        raise _Usage("printf: Need 1 argument")
    fmt, rest = args[0], list(args[1:])
    fmt, _ = _echo_escapes(fmt)

    def sub(m):
        if m.group(0) == "%%":
            return "%"
        val = rest.pop(0) if rest else ""
        if m.group(2) in "di":
            try:
                return f"%{m.group(1)}d" % int(val or 0)
            except ValueError:
                return "0"
        return f"%{m.group(1)}s" % val

    io_.out(re.sub(r"%%|%(-?\d*)([sdi])", sub, fmt))


@command("sleep")
def _sleep(sh, args, io_):
    try:
        time.sleep(min(float(args[0]) if args else 0, 60))
    except ValueError:
        raise _Usage(f"sleep: Not a number: {args[0]}")


@command("id")
def _id(sh, args, io_):
    io_.out("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),"
            "1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet) context=u:r:shell:s0\n")


@command("whoami")
def _whoami(sh, args, io_):
    io_.out("shell\n")


@command("pwd")
def _pwd(sh, args, io_):
    io_.out("/\n")


@command("uname")
def _uname(sh, args, io_):
    io_.out("Linux\n" if not args else "Linux localhost 6.1.0-simphone #1 SMP PREEMPT aarch64 Toybox\n")


@command("date")
def _date(sh, args, io_):
    io_.out(time.strftime("%a %b %d %H:%M:%S %Z %Y\n"))


@command("sh")
def _sh(sh, args, io_):
    if len(args) >= 2 and args[0] == "-c":
        sub = Shell(sh.state)
        result = sub.run(args[1])
        for fd, data in result.chunks:
            (io_.out if fd == 1 else io_.err)(data)
        return result.status
    raise _Usage("sh: SimPhone only runs `sh -c COMMAND`")


@command("test", "[")
def _test(sh, args, io_):
    if args and args[-1] == "]":
        args = args[:-1]
    negate = bool(args) and args[0] == "!"
    if negate:
        args = args[1:]
    if not args:
        ok = False
    elif len(args) == 1:
        ok = args[0] != ""
    elif len(args) == 2:
        op, a = args
        ok = {"-e": sh.fs.exists, "-f": sh.fs.is_file, "-d": sh.fs.is_dir,
              "-z": lambda v: v == "", "-n": lambda v: v != "",
              "-s": lambda v: sh.fs.is_file(v) and bool(sh.fs.read(v))}.get(op, lambda v: False)(a)
    elif len(args) == 3:
        a, op, b = args
        try:
            ok = {"=": a == b, "==": a == b, "!=": a != b}.get(op)
            if ok is None:
                x, y = int(a), int(b)
                ok = {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]
        except (ValueError, KeyError):
            raise _Usage(f"test: bad expression", 2)
    else:
        raise _Usage("test: SimPhone supports simple tests only", 2)
    return 0 if ok != negate else 1


@command("cat")
def _cat(sh, args, io_):
    status = 0
    if not args:
        io_.out(io_.stdin)
    for path in args:
        if path == "-":
            io_.out(io_.stdin)
            continue
        try:
            io_.out(sh.fs.read(path))
        except FileNotFoundError:
            io_.err(f"cat: {path}: No such file or directory\n")
            status = 1
        except IsADirectoryError:
            io_.err(f"cat: {path}: Is a directory\n")
            status = 1
    return status


@command("touch")
def _touch(sh, args, io_):
    status = 0
    for path in (a for a in args if not a.startswith("-")):
        try:
            sh.fs.touch(path)
        except FileNotFoundError:
            io_.err(f"touch: '{path}': No such file or directory\n")
            status = 1
        except PermissionError:
            io_.err(f"touch: '{path}': Permission denied\n")
            status = 1
    return status


@command("mkdir")
def _mkdir(sh, args, io_):
    parents = "-p" in args
    status = 0
    for path in (a for a in args if not a.startswith("-")):
        try:
            sh.fs.mkdir(path, parents=parents)
        except FileExistsError:
            io_.err(f"mkdir: '{path}': File exists\n")
            status = 1
        except FileNotFoundError:
            io_.err(f"mkdir: '{path}': No such file or directory\n")
            status = 1
        except PermissionError:
            io_.err(f"mkdir: '{path}': Permission denied\n")
            status = 1
    return status


@command("rm")
def _rm(sh, args, io_):
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    recursive, force = ("r" in flags or "R" in flags), "f" in flags
    status = 0
    for path in (a for a in args if not (a.startswith("-") and len(a) > 1)):
        try:
            sh.fs.remove(path, recursive=recursive)
        except FileNotFoundError:
            if not force:
                io_.err(f"rm: {path}: No such file or directory\n")
                status = 1
        except IsADirectoryError:
            io_.err(f"rm: {path}: Is a directory\n")
            status = 1
        except PermissionError:
            io_.err(f"rm: {path}: Permission denied\n")
            status = 1
    return status


@command("ls")
def _ls(sh, args, io_):
    flags = "".join(a[1:] for a in args if a.startswith("-"))
    paths = [a for a in args if not a.startswith("-")] or ["/"]
    status = 0
    for path in paths:
        st = sh.fs.stat(path)
        if st is None:
            io_.err(f"ls: {path}: No such file or directory\n")
            status = 1
            continue
        if len(paths) > 1 and sh.fs.is_dir(path):
            io_.out(f"{path}:\n")
        listing = sh.fs.is_dir(path) and "d" not in flags
        for n in sh.fs.listdir(path) if listing else [path]:
            full = posixpath.join(sh.fs.norm(path), n) if listing else path
            if "l" in flags:
                mode, size, mtime = sh.fs.stat(full) or (0, 0, 0)
                kind = "d" if mode & 0o040000 else "-"
                io_.out(f"{kind}rw-rw---- 1 shell shell {size:>8} "
                        f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(mtime))} {n}\n")
            else:
                io_.out(n + "\n")
    return status


@command("grep")
def _grep(sh, args, io_):
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    rest = [a for a in args if not (a.startswith("-") and len(a) > 1)]
    if not rest:
        raise _Usage("usage: grep [-Eiv] PATTERN [FILE...]", 2)
    pattern, files = rest[0], rest[1:]
    rx = re.compile(pattern if "E" in flags else re.escape(pattern).replace(r"\.\*", ".*"),
                    re.I if "i" in flags else 0)
    data = b"".join(sh.fs.read(f) for f in files) if files else io_.stdin
    hit = False
    for line in data.decode("utf-8", "replace").splitlines():
        if bool(rx.search(line)) != ("v" in flags):
            hit = True
            io_.out(line + "\n")
    return 0 if hit else 1


# -- Android: input


def _keycodes() -> dict[str, int]:
    from .phone import KEYCODES

    return KEYCODES


def _keyname(key: str) -> str | None:
    codes = _keycodes()
    if key.isdigit():
        for name, code in codes.items():
            if code == int(key):
                return name
        return None
    name = key.upper()
    if not name.startswith("KEYCODE_"):
        name = "KEYCODE_" + name
    return name if name in codes else None


_SOURCES = {"keyboard", "mouse", "joystick", "touchnavigation", "touchpad", "trackball", "dpad",
            "stylus", "gamepad", "touchscreen", "rotaryencoder"}


def _num(s: str) -> int:
    return int(round(float(s)))


def _input_text(phone, text: str) -> str | None:
    """What `input text ARG` does: %s becomes a space, then every character goes through the
    virtual keyboard map as a key event. A character outside that map aborts the whole call."""
    buff = list(text)
    escape = False
    i = 0
    while i < len(buff):
        if escape:
            escape = False
            if buff[i] == "s":
                buff[i] = " "
                i -= 1
                del buff[i]
        if buff[i] == "%":
            escape = True
        i += 1
    chars = "".join(buff)
    if any(c not in _KCM_CHARS for c in chars):
        return ("Exception occurred while executing 'text':\njava.lang.NullPointerException: "
                "Attempt to get length of null array\n")
    run: list[str] = []
    for c in chars:
        if c in "\n\t":
            if run:
                phone.input_text("".join(run))
                run.clear()
            phone.keyevent("KEYCODE_ENTER" if c == "\n" else "KEYCODE_TAB")
        else:
            run.append(c)
    if run:
        phone.input_text("".join(run))
    return None


def _press(phone, keys: list[str], dry_run: bool = False) -> list[str]:
    """Key names or numbers to KEYCODE_* names, pressed in order unless `dry_run`."""
    names = [_keyname(k) for k in keys]
    if not names or None in names:
        bad = keys[names.index(None)] if None in names else ""
        raise _Usage(f"Error: Unknown keycode: {bad}")
    if not dry_run:
        for n in names:
            phone.keyevent(n)
    return names


_INPUT_USAGE = ("Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n\n"
                "The commands and default sources are:\n"
                "      text <string> (Default: keyboard)\n"
                "      keyevent [--longpress|--doubletap|--async|--delay <duration between keycodes in ms>] "
                "<key code number or name> ... (Default: keyboard)\n"
                "      tap <x> <y> (Default: touchscreen)\n"
                "      swipe <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)\n"
                "      draganddrop <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)\n"
                "      press (Default: trackball)\n"
                "      roll <dx> <dy> (Default: trackball)\n"
                "      keycombination [-t duration(ms)] <key code 1> <key code 2> ... (Default: keyboard)\n")


@command("input")
def _input(sh, args, io_):
    phone = sh.phone
    if args and args[0] in _SOURCES:
        args = args[1:]
    if len(args) >= 2 and args[0] == "-d":
        args = args[2:]
    if not args:
        io_.err(_INPUT_USAGE)
        return 1
    cmd, rest = args[0], args[1:]
    try:
        if cmd == "text":
            if not rest:
                raise _Usage("Error: Argument expected after \"text\"")
            problem = _input_text(phone, rest[0])
            if problem:
                io_.err(problem)
                return 255
        elif cmd == "tap" and len(rest) == 2:
            phone.tap(_num(rest[0]), _num(rest[1]))
        elif cmd in ("swipe", "draganddrop") and len(rest) in (4, 5):
            x1, y1, x2, y2 = map(_num, rest[:4])
            ms = int(rest[4]) if len(rest) == 5 else 300
            (phone.swipe if cmd == "swipe" else phone.drag_and_drop)(x1, y1, x2, y2, ms)
        elif cmd == "keyevent" and rest:
            # --longpress/--doubletap/--async change timing only; --delay/--duration take a value
            keys, skip = [], False
            for a in rest:
                if skip:
                    skip = False
                elif a in ("--delay", "--duration"):
                    skip = True
                elif not a.startswith("--"):
                    keys.append(a)
            _press(phone, keys)
        elif cmd == "keycombination" and rest:
            keys = rest[2:] if rest[0] == "-t" else rest
            names = _press(phone, keys, dry_run=True)
            if any(re.search(r"CTRL|SHIFT|ALT|META|FUNCTION", n) for n in names):
                # SimPhone's apps know no shortcuts; pressing the bare keys would lie about it.
                raise _Usage("Error: SimPhone does not simulate key combinations with modifiers")
            _press(phone, names)
        elif cmd == "press":
            phone.keyevent("KEYCODE_DPAD_CENTER")
        elif cmd == "roll":
            pass
        elif cmd in ("tap", "swipe", "draganddrop", "keyevent", "keycombination"):
            raise _Usage(f"Error: Invalid arguments for command: {cmd}\n" + _INPUT_USAGE)
        else:
            raise _Usage(f"Error: Unknown command: {cmd}\n" + _INPUT_USAGE)
    except ValueError:
        raise _Usage(f"Exception occurred while executing '{cmd}':\njava.lang.NumberFormatException: "
                     f"For input string: \"{' '.join(rest)}\"", 255)
    return 0


# -- Android: screen


def _frame(sh) -> "Any":
    faults = sh.state.faults
    if faults.slow_screencap_ms:
        time.sleep(faults.slow_screencap_ms / 1000)
    return sh.phone.screenshot()


def raw_frame(image) -> tuple[bytes, bytes]:
    """screencap's raw format on Android 9+: a header of w, h, format (1 = RGBA_8888) and
    colour space (1 = sRGB) as little-endian uint32, then the pixels row by row. Returned as
    (header, pixels) so the 10 MB of pixels are never copied into a joined buffer."""
    w, h = image.size
    pixels = image.tobytes("raw", "RGBA") if image.mode == "RGB" else image.convert("RGBA").tobytes()
    return b"".join(v.to_bytes(4, "little") for v in (w, h, 1, 1)), pixels


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@command("screencap")
def _screencap(sh, args, io_):
    png = False
    rest = []
    it = iter(args)
    for a in it:
        if a == "-p":
            png = True
        elif a == "-d":
            next(it, None)
        elif a in ("-h", "--help"):
            io_.err("usage: screencap [-hp] [-d display-id] [FILENAME]\n")
            return 0
        elif a.startswith("-"):
            io_.err(f"screencap: invalid option -- {a.lstrip('-')}\n")
            return 1
        else:
            rest.append(a)
    image = _frame(sh)
    target = rest[0] if rest else None
    if target and target.endswith(".png"):
        png = True
    parts = (png_bytes(image),) if png else raw_frame(image)
    if sh.state.faults.truncate_next_screencap > 0:
        sh.state.faults.truncate_next_screencap -= 1
        joined = b"".join(parts)
        parts = (joined[: len(joined) // 3],)
    if target:
        try:
            sh.fs.write(target, b"".join(parts))
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            io_.err(f"Error opening file: {target} (No such file or directory)\n")
            return 1
    else:
        for part in parts:
            io_.out(part)
    return 0


@command("wm")
def _wm(sh, args, io_):
    w, h = sh.phone.size
    if args[:1] == ["size"] and len(args) == 1:
        io_.out(f"Physical size: {w}x{h}\n")
    elif args[:1] == ["density"] and len(args) == 1:
        io_.out(f"Physical density: {sh.phone.density}\n")
    elif args[:1] in (["size"], ["density"]):
        io_.err(f"wm {args[0]}: changing it is not supported by SimPhone\n")
        return 1
    else:
        io_.err("Window manager (window) commands:\n  size [reset|WxH|WdpxHdp]\n  density [reset|DENSITY]\n")
        return 1 if args else 0
    return 0


def _viewport(sh) -> str:
    w, h = sh.phone.size
    r = sh.phone.rotation
    cw, ch = (h, w) if r % 2 else (w, h)
    return (f"DisplayViewport{{type=INTERNAL, valid=true, isActive=true, displayId=0, "
            f"uniqueId='local:4619827259835644672', physicalPort=0, orientation={r}, "
            f"logicalFrame=Rect(0, 0 - {cw}, {ch}), physicalFrame=Rect(0, 0 - {cw}, {ch}), "
            f"deviceWidth={cw}, deviceHeight={ch}}}")


def _full_activity(pkg: str, act: str) -> str:
    return pkg + act if act.startswith(".") else act


@command("dumpsys")
def _dumpsys(sh, args, io_):
    phone = sh.phone
    what = args[0] if args else ""
    w, h = phone.size
    r = phone.rotation
    cw, ch = (h, w) if r % 2 else (w, h)
    pkg, act = phone.current()
    short = f"{pkg}/{act}"
    if what == "window":
        io_.out(
            "WINDOW MANAGER DISPLAY CONTENTS (dumpsys window displays)\n"
            f"  Display: mDisplayId=0 rootTasks=1\n"
            f"    init={w}x{h} {phone.density}dpi base={w}x{h} {phone.density}dpi cur={cw}x{ch} "
            f"app={cw}x{ch} rng={min(cw, ch)}x{min(cw, ch)}-{max(cw, ch)}x{max(cw, ch)}\n"
            f"    mRotation={r} mAltRotation={r}\n"
            f"  mCurrentFocus=Window{{5f1e2a3 u0 {pkg}/{_full_activity(pkg, act)}}}\n"
            f"  mFocusedApp=ActivityRecord{{8c0ffee u0 {short} t12}}\n"
        )
    elif what == "display":
        io_.out(
            "DISPLAY MANAGER (dumpsys display)\n"
            f"  mViewports=[{_viewport(sh)}]\n"
            f"  mDisplayDeviceInfo: DisplayDeviceInfo{{\"Built-in Screen\": uniqueId=\"local:4619827259835644672\", "
            f"{w} x {h}, modeId 1, density {phone.density}, rotation {r}}}\n"
        )
    elif what == "input":
        io_.out(
            "INPUT MANAGER (dumpsys input)\n\nInput Manager State:\n"
            f"  Viewports:\n    {_viewport(sh)}\n"
            f"  SurfaceOrientation: {r}\n"
        )
    elif what == "activity":
        sub = args[1] if len(args) > 1 else "activities"
        if sub == "top":
            io_.out(f"TASK 12 id=12 userId=0\n  ACTIVITY {short} 8c0ffee pid=4321\n")
        else:
            io_.out(
                "ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\n"
                f"  mResumedActivity: ActivityRecord{{8c0ffee u0 {short} t12}}\n"
                f"  ResumedActivity: ActivityRecord{{8c0ffee u0 {short} t12}}\n"
            )
    elif what == "input_method":
        io_.out(f"  mCurMethodId={phone.ime_current()}\n  mInputShown=true\n")
    elif what == "power":
        io_.out("  mWakefulness=Awake\n  mHoldingDisplaySuspendBlocker=true\n")
    elif what == "battery":
        io_.out("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
                "  Wireless powered: false\n  status: 2\n  health: 2\n  present: true\n  level: 87\n"
                "  scale: 100\n  voltage: 4213\n  temperature: 250\n  technology: Li-ion\n")
    elif what == "package" and len(args) > 1:
        if args[1] not in phone.packages():
            return 0
        io_.out(f"Packages:\n  Package [{args[1]}] (c0ffee):\n    versionCode=34 minSdk=26 targetSdk=34\n"
                f"    versionName=14\n    pkgFlags=[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA ]\n"
                f"    firstInstallTime=2024-01-01 00:00:00\n    lastUpdateTime=2024-01-01 00:00:00\n")
    else:
        io_.err(f"Can't find service: {what}\n")
    return 0


@command("getprop")
def _getprop(sh, args, io_):
    if args:
        value = sh.phone.getprop(args[0])
        io_.out(f"{value if value is not None else (args[1] if len(args) > 1 else '')}\n")
    else:
        props = sh.phone.getprop()
        io_.out("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))
    return 0


@command("settings")
def _settings(sh, args, io_):
    if len(args) >= 2 and args[0] == "--user":
        args = args[2:]
    if len(args) >= 3 and args[0] == "get":
        v = sh.phone.settings_get(args[1], args[2])
        io_.out(f"{'null' if v is None else v}\n")
    elif len(args) >= 4 and args[0] == "put":
        if args[1] not in ("global", "system", "secure"):
            raise _Usage(f"Invalid namespace '{args[1]}'")
        sh.phone.settings_put(args[1], args[2], args[3])
    else:
        raise _Usage("usage:  settings [--user <USER_ID> | current] get namespace key\n"
                     "        settings [--user <USER_ID> | current] put namespace key value")
    return 0


@command("svc")
def _svc(sh, args, io_):
    keys = {"wifi": "wifi_on", "bluetooth": "bluetooth_on"}
    if len(args) == 2 and args[0] in keys and args[1] in ("enable", "disable"):
        sh.phone.settings_put("global", keys[args[0]], "1" if args[1] == "enable" else "0")
        return 0
    raise _Usage("Available commands: svc wifi|bluetooth enable|disable")


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


@command("am")
def _am(sh, args, io_):
    phone = sh.phone
    if not args:
        raise _Usage("Activity manager (activity) commands: start, force-stop, broadcast")
    sub, rest = args[0], args[1:]
    if sub in ("start", "start-activity"):
        intent, extra = _parse_intent(rest)
        target = intent.get("-n") or next((e for e in extra if "/" in e), None)
        if target is None and intent.get("-a") == "android.intent.action.MAIN" and \
                "android.intent.category.HOME" in intent.get("categories", []):
            target = "com.android.launcher3/.Launcher"
        if target is None and intent.get("-a") == "android.intent.action.VIEW" and intent.get("-d"):
            target = "com.android.chrome"
        if target is None and intent.get("-p"):
            target = intent["-p"]
        if target is None:
            io_.err("Error: Intent does not match any activities: Intent { "
                    + " ".join(f"act={v}" for k, v in intent.items() if k == "-a") + " }\n")
            return 1
        io_.out(f"Starting: Intent {{ cmp={target} }}\n")
        problem = phone.start(target)
        if problem:
            io_.err(problem.rstrip("\n") + "\n")
            return 1
        return 0
    if sub == "force-stop" and rest:
        if phone.current()[0] == rest[-1]:
            phone.keyevent("KEYCODE_HOME")
        return 0
    if sub == "broadcast":
        intent, _ = _parse_intent(rest)
        action = intent.get("-a", "")
        io_.out(f"Broadcasting: Intent {{ act={action} flg=0x400000{' (has extras)' if intent['extras'] else ''} }}\n")
        _adb_keyboard(sh, action, intent["extras"])
        io_.out("Broadcast completed: result=0\n")
        return 0
    raise _Usage(f"Error: unknown command '{sub}'")


def _adb_keyboard(sh, action: str, extras: dict[str, str]) -> None:
    """ADBKeyboard's broadcasts; like the real IME they only do something while it is the
    current input method."""
    phone = sh.phone
    if not action.startswith("ADB_") or phone.ime_current() != ADB_KEYBOARD:
        return
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


@command("monkey")
def _monkey(sh, args, io_):
    pkgs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-p"]
    for a in args:
        io_.err(f"  bash arg: {a}\n")
    if not pkgs or pkgs[0] not in sh.phone.packages() or sh.phone.start(pkgs[0]):
        io_.err("** No activities found to run, monkey aborted.\n")
        return 252
    io_.out("Events injected: 1\n## Network stats: elapsed time=12ms (0ms mobile, 0ms wifi, 12ms not connected)\n")
    return 0


def _apk_path(pkg: str) -> str:
    return f"/data/app/~~SimPhone==/{pkg}-1/base.apk"


@command("pm")
def _pm(sh, args, io_):
    packages = sorted(sh.phone.packages())
    if args[:2] == ["list", "packages"]:
        opts = [a for a in args[2:] if a.startswith("-")]
        filt = [a for a in args[2:] if not a.startswith("-")]
        for p in packages:
            if filt and filt[-1] not in p:
                continue
            io_.out(f"package:{_apk_path(p)}={p}\n" if "-f" in opts else f"package:{p}\n")
        return 0
    if args[:1] == ["path"] and len(args) >= 2:
        if args[-1] not in packages:
            return 1
        io_.out(f"package:{_apk_path(args[-1])}\n")
        return 0
    if args[:1] == ["clear"]:
        io_.out("Success\n")
        return 0
    if args[:1] in (["install"], ["uninstall"]):
        io_.out("Failure [INSTALL_FAILED_SIMPHONE: SimPhone cannot install or remove apps]\n")
        return 1
    raise _Usage("usage: pm list packages [FILTER] | pm path PACKAGE")


# -- Android: UI dump and IME


@command("uiautomator")
def _uiautomator(sh, args, io_):
    if not args or args[0] != "dump":
        raise _Usage("Usage: uiautomator <subcommand> [options]\n    dump [--compressed] [file]")
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


@command("ime")
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
    raise _Usage("ime <command>:\n  list [-a] [-s]\n  enable ID\n  disable ID\n  set ID\n  reset")


# -- cmd: Android's service shell plus SimPhone's control surface


@command("cmd")
def _cmd(sh, args, io_):
    if not args:
        raise _Usage("cmd: No service specified; use -l to list all running services")
    service, rest = args[0], args[1:]
    if service == "input":
        return _input(sh, rest, io_)
    if service == "package":
        return _pm(sh, rest, io_)
    if service == "settings":
        return _settings(sh, rest, io_)
    if service == "activity":
        return _am(sh, rest, io_)
    if service == "window":
        return _wm(sh, rest, io_)
    if service == "simphone":
        return _simphone(sh, rest, io_)
    io_.err(f"cmd: Can't find service: {service}\n")
    return 20


_FAULTS_HELP = ("cmd simphone fault drop | offline [SECONDS] | unauthorized | secure on|off | "
                "slow-screencap MS | truncate-screencap [FRAMES] | popup TITLE TEXT | clear")


def _simphone(sh, args, io_):
    phone = sh.phone
    state = sh.state
    sub = args[0] if args else ""
    if sub == "state":
        io_.out(json.dumps(phone.state(), ensure_ascii=False, sort_keys=True) + "\n")
    elif sub == "fs":
        io_.out(json.dumps(state.fs.snapshot(), sort_keys=True) + "\n")
    elif sub == "reader" and len(args) >= 2:
        phone.set_reader_text(" ".join(args[1:]))
    elif sub == "rotate" and len(args) == 2 and args[1] in "0123":
        phone.set_rotation(int(args[1]))
    elif sub == "fault" and len(args) >= 2:
        kind, rest = args[1], args[2:]
        if kind in ("drop", "offline", "unauthorized"):
            if state.on_transport_fault is None:
                raise _Usage(f"fault {kind}: no transport to act on")
            state.on_transport_fault(kind, rest)
        elif kind == "secure" and rest[:1] in (["on"], ["off"]):
            phone.secure = rest[0] == "on"
        elif kind == "slow-screencap" and rest and rest[0].isdigit():
            state.faults.slow_screencap_ms = int(rest[0])
        elif kind == "truncate-screencap":
            state.faults.truncate_next_screencap = int(rest[0]) if rest and rest[0].isdigit() else 1
        elif kind == "popup" and len(rest) >= 2:
            phone.show_popup(rest[0], " ".join(rest[1:]))
        elif kind == "clear":
            state.faults.slow_screencap_ms = 0
            state.faults.truncate_next_screencap = 0
            phone.secure = False
            if state.on_clear:
                state.on_clear()
        else:
            raise _Usage(_FAULTS_HELP)
    else:
        raise _Usage("cmd simphone state | fs | reader TEXT | rotate 0-3 | " + _FAULTS_HELP.removeprefix("cmd simphone "))
    return 0
