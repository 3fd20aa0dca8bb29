"""The shell builtins and file utilities of SimPhone's /system/bin (mksh and toybox on a phone):
true, exit, echo, printf, test, cat, touch, mkdir, rm, ls, grep, ... with the messages and
exit statuses scripts see on Android.
"""

from __future__ import annotations

import posixpath
import re
import time
from typing import Callable

from ..command import SH, CommandTable, ShellExit, UsageError

COMMANDS = CommandTable()


@COMMANDS.add("true", ":")
def _true(sh, args, io_):
    return 0


@COMMANDS.add("false")
def _false(sh, args, io_):
    return 1


@COMMANDS.add("exit")
def _exit(sh, args, io_):
    raise ShellExit(int(args[0]) if args and args[0].lstrip("-").isdigit() else int(sh.env.get("?", "0")))


@COMMANDS.add("cd")
def _cd(sh, args, io_):
    if args and not sh.fs.is_dir(args[0]):
        io_.err(f"{SH}: cd: /{args[0]}: No such file or directory\n")
        return 2
    return 0


@COMMANDS.add("export", "unset", "set", "readonly", "local")
def _env(sh, args, io_):
    for a in args:
        if "=" in a:
            k, v = a.split("=", 1)
            sh.env[k] = v
    return 0


@COMMANDS.add("echo")
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


@COMMANDS.add("printf")
def _printf(sh, args, io_):
    if not args:
        raise UsageError("printf: Need 1 argument")
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


@COMMANDS.add("sleep")
def _sleep(sh, args, io_):
    try:
        time.sleep(min(float(args[0]) if args else 0, 60))
    except ValueError:
        raise UsageError(f"sleep: Not a number: {args[0]}")


@COMMANDS.add("id")
def _id(sh, args, io_):
    io_.out("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),"
            "1015(sdcard_rw),1028(sdcard_r),3001(net_bt_admin),3002(net_bt),3003(inet) context=u:r:shell:s0\n")


@COMMANDS.add("whoami")
def _whoami(sh, args, io_):
    io_.out("shell\n")


@COMMANDS.add("pwd")
def _pwd(sh, args, io_):
    io_.out("/\n")


@COMMANDS.add("uname")
def _uname(sh, args, io_):
    io_.out("Linux\n" if not args else "Linux localhost 6.1.0-simphone #1 SMP PREEMPT aarch64 Toybox\n")


@COMMANDS.add("date")
def _date(sh, args, io_):
    io_.out(time.strftime("%a %b %d %H:%M:%S %Z %Y\n"))


@COMMANDS.add("sh")
def _sh(sh, args, io_):
    if len(args) >= 2 and args[0] == "-c":
        sub = sh.subshell()
        result = sub.run(args[1])
        for fd, data in result.chunks:
            (io_.out if fd == 1 else io_.err)(data)
        return result.status
    raise UsageError("sh: SimPhone only runs `sh -c COMMAND`")


@COMMANDS.add("test", "[")
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
            raise UsageError("test: bad expression", 2)
    else:
        raise UsageError("test: SimPhone supports simple tests only", 2)
    return 0 if ok != negate else 1


@COMMANDS.add("cat")
def _cat(sh, args, io_):
    if not args:
        io_.out(io_.stdin)

    def cat(path: str) -> None:
        io_.out(io_.stdin if path == "-" else sh.fs.read(path))

    return _for_each_path(io_, "cat", args, cat, (FileNotFoundError, IsADirectoryError), quoted=False)


@COMMANDS.add("touch")
def _touch(sh, args, io_):
    paths = [a for a in args if not a.startswith("-")]
    return _for_each_path(io_, "touch", paths, sh.fs.touch, (FileNotFoundError, PermissionError), quoted=True)


@COMMANDS.add("mkdir")
def _mkdir(sh, args, io_):
    parents = "-p" in args
    paths = [a for a in args if not a.startswith("-")]
    return _for_each_path(io_, "mkdir", paths, lambda p: sh.fs.mkdir(p, parents=parents),
                          (FileExistsError, FileNotFoundError, PermissionError), quoted=True)


@COMMANDS.add("rm")
def _rm(sh, args, io_):
    flags, paths = _flags_and_operands(args)
    recursive, force = ("r" in flags or "R" in flags), "f" in flags
    return _for_each_path(io_, "rm", paths, lambda p: sh.fs.remove(p, recursive=recursive),
                          (FileNotFoundError, IsADirectoryError, PermissionError), quoted=False,
                          ignored=(FileNotFoundError,) if force else ())


# What toybox says for each error the filesystem raises.
_ERROR_TEXT = {FileNotFoundError: "No such file or directory", FileExistsError: "File exists",
               IsADirectoryError: "Is a directory", PermissionError: "Permission denied"}


def _for_each_path(io_, tool: str, paths: list[str], action: Callable[[str], object],
                   reported: tuple[type[OSError], ...], *, quoted: bool,
                   ignored: tuple[type[OSError], ...] = ()) -> int:
    """Run `action` on each path; a `reported` error prints `tool: path: reason` and makes the
    status 1, the rest of the paths still run (an `ignored` one, as rm -f's missing files, is silent)."""
    status = 0
    for path in paths:
        try:
            action(path)
        except ignored:
            pass
        except reported as e:
            reason = next(text for kind, text in _ERROR_TEXT.items() if isinstance(e, kind))
            shown = f"'{path}'" if quoted else path
            io_.err(f"{tool}: {shown}: {reason}\n")
            status = 1
    return status


def _flags_and_operands(args: list[str]) -> tuple[str, list[str]]:
    """Single-letter flags run together ("-rf" gives "rf") and the operands; a lone "-" is an operand."""
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    return flags, [a for a in args if not (a.startswith("-") and len(a) > 1)]


@COMMANDS.add("ls")
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


@COMMANDS.add("grep")
def _grep(sh, args, io_):
    flags, rest = _flags_and_operands(args)
    if not rest:
        raise UsageError("usage: grep [-Eiv] PATTERN [FILE...]", 2)
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


@COMMANDS.add("head")
def _head(sh, args, io_):
    """toybox head: -n N lines (also -N), -c N bytes, ==> NAME <== headers for several files."""
    count, by_bytes, verbose, quiet, files = 10, False, False, False, []
    it = iter(args)
    for a in it:
        if a in ("-n", "-c"):
            value = next(it, "")
            by_bytes = a == "-c"
        elif re.fullmatch(r"-[nc]-?\d+", a):
            value, by_bytes = a[2:], a[1] == "c"
        elif re.fullmatch(r"-\d+", a):
            value = a[1:]
        elif a in ("-v", "-q"):
            verbose, quiet = a == "-v", a == "-q"
            continue
        elif a.startswith("-") and a != "-":
            raise UsageError(f"head: Unknown option '{a.lstrip('-')}' (see \"head --help\")", 1)
        else:
            files.append(a)
            continue
        if not re.fullmatch(r"-?\d+", value):
            raise UsageError(f"head: not integer: {value}", 1)
        count = int(value)

    def head(data: bytes) -> bytes:   # a negative count keeps all but the last -N, as toybox does
        return data[:count] if by_bytes else b"".join(data.splitlines(keepends=True)[:count])

    if not files:
        io_.out(head(io_.stdin))
        return 0
    status = 0
    for i, path in enumerate(files):
        try:
            data = io_.stdin if path == "-" else sh.fs.read(path)
        except (FileNotFoundError, IsADirectoryError) as e:
            io_.err(f"head: {path}: {_ERROR_TEXT[type(e)]}\n")
            status = 1
            continue
        if (len(files) > 1 and not quiet) or verbose:
            io_.out(f"{chr(10) if i else ''}==> {path} <==\n")
        io_.out(head(data))
    return status
