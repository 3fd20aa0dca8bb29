"""SimPhone's shell interpreter: runs one parsed command line against the device's state.

Expansion ($VAR, $?, $(...), backticks, $((...)), ~, braces, globs, field splitting on IFS),
redirections (> >> < >& to a file, a descriptor, /dev/null), pipes, && || ; and subshells
behave as in mksh. The commands themselves live in commands/; a Shell runs those of the table it
is given, by default commands.COMMANDS (every command module's, joined in commands/__init__.py).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass

from .command import SH, Command, Io, Session, ShellExit, Sink, UsageError
from .commands import COMMANDS
from .device_state import DeviceState
from .parser import Group, Pipeline, Redirection, ShellSyntaxError, parse

class _RedirError(Exception):
    pass


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
    """Runs one `sh -c` command line against a DeviceState, for `session`'s client (command.py;
    default: detached, the output collected in the ShellResult)."""

    def __init__(self, state: DeviceState, commands: dict[str, Command] | None = None,
                 session: Session | None = None):
        self.state = state
        self.session = Session() if session is None else session
        self.commands = COMMANDS if commands is None else commands
        self.fs = state.fs
        self.phone = state.phone
        self.env: dict[str, str] = {"HOME": "/", "PATH": "/product/bin:/apex/com.android.runtime/bin:"
                                    "/system/bin:/system/xbin:/odm/bin:/vendor/bin", "USER": "shell",
                                    "SHELL": SH, "IFS": " \t\n", "0": SH, "$": "4242", "?": "0"}
        self._err_sink: Sink | None = None

    def run(self, command: str) -> ShellResult:
        chunks: list[tuple[int, bytes]] = []
        session = self.session
        if session.live:   # the output goes to the client; the result keeps only the status
            io_ = Io(b"", Sink(lambda b: session.write(1, b), True), Sink(lambda b: session.write(2, b), True))
        else:
            io_ = Io(b"", Sink(lambda b: chunks.append((1, b))), Sink(lambda b: chunks.append((2, b))))
        try:
            program = parse(command)
        except ShellSyntaxError as e:
            io_.err(f"{SH}: {e}\n")
            return ShellResult(chunks, 1)
        try:
            status = self._program(program, io_)
        except ShellExit as e:
            status = e.status
        return ShellResult(chunks, status & 0xFF)

    def subshell(self) -> "Shell":
        """A new shell on the same device, running the same commands (a fresh environment)."""
        return Shell(self.state, self.commands)

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

    def _pipeline(self, p: Pipeline, io_: Io) -> int:
        stdin = io_.stdin
        status = 0
        for k, cmd in enumerate(p.commands):
            last = k == len(p.commands) - 1
            if last:
                status = self._command(cmd, Io(stdin, io_._out, io_._err))
            else:
                buf = bytearray()
                status = self._command(cmd, Io(stdin, Sink(buf.extend), io_._err))
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
            if isinstance(cmd, Group):
                if cmd.subshell:
                    saved = dict(self.env)
                    try:
                        return self._program(cmd.body, io2)
                    except ShellExit as e:
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

    def _apply_redirs(self, redirs: list[Redirection], io_: Io):
        sinks = {1: io_._out, 2: io_._err}
        stdin = io_.stdin
        pending: list[tuple[str, bytearray, bool]] = []
        for r in redirs:
            target = "".join(self.expand(r.target, split=False))
            if r.op in (">&", "<&"):
                if target == "-":
                    sinks[r.fd] = Sink(lambda b: None)
                elif target.isdigit() and int(target) in sinks:
                    sinks[r.fd] = sinks[int(target)]
                elif r.op == ">&" and not target.isdigit():
                    buf = bytearray()
                    pending.append((target, buf, False))
                    sinks[1] = sinks[2] = Sink(buf.extend)
                else:
                    raise _RedirError(f"{target}: bad file descriptor")
            elif r.op in (">", ">|", ">>"):
                path = self.fs.norm(target)
                if path == "/dev/tty":
                    sinks[r.fd] = io_._out
                    continue
                if path == "/dev/null":
                    sinks[r.fd] = Sink(lambda b: None)
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
                sinks[r.fd] = Sink(buf.extend)
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
        sub = self.subshell()
        sub.env = dict(self.env)
        result = sub.run(source)
        if self._err_sink is not None and result.stderr:
            self._err_sink.write(result.stderr)
        self.env["?"] = str(result.status)
        return result.stdout.decode("utf-8", "replace").rstrip("\n")

    def _arith(self, expr: str) -> str:
        expr = re.sub(r"\$?([A-Za-z_][A-Za-z0-9_]*)", lambda m: self.env.get(m.group(1), "0") or "0", expr)
        if not re.fullmatch(r"[\d\s+\-*/%()]*", expr) or "**" in expr:  # ** is not shell arithmetic
            return "0"
        try:
            return str(int(eval(expr.replace("/", "//"), {"__builtins__": {}}, {})))  # digits and operators only
        except Exception:
            return "0"

    # -- commands
    def _exec(self, argv: list[str], io_: Io) -> int:
        if argv[0] == "exec":   # `exec CMD`: the command replaces the shell, so nothing runs after it
            if len(argv) == 1:
                return 0
            raise ShellExit(self._exec(argv[1:], io_))
        name = argv[0]
        fn = self.commands.get(posixpath.basename(name) if name.startswith("/system/bin/") else name)
        if fn is None:
            io_.err(f"{SH}: {name}: inaccessible or not found\n")
            return 127
        try:
            return fn(self, argv[1:], io_) or 0
        except ShellExit:
            raise
        except UsageError as e:
            io_.err(f"{e}\n")
            return e.status
        except Exception as e:  # a bug in the simulator must not kill the connection
            io_.err(f"{name}: SimPhone internal error: {type(e).__name__}: {e}\n")
            return 255


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


