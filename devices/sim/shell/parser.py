"""The grammar of SimPhone's shell: a command line parsed into a tree, the way mksh parses it.

A program is a list of (and_or, background) items; an and_or is a list of (operator, Pipeline)
with operator "", "&&" or "||"; a Pipeline holds SimpleCommands and Groups ({ ...; } and
( ... )). A word is a list of parts: ("lit", text, quoted) | ("param", name, quoted)
| ("cmd", source, quoted) | ("arith", expr, quoted) | ("tilde",); expanding them is the
interpreter's job (interpreter.py). Control flow (if, for, while, case) and here-documents are refused
with a syntax error rather than misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ShellSyntaxError(Exception):
    pass


_META = set(" \t\n;&|<>()")
_OPS = ("&&", "||", ";;", ">>", ">&", "<&", ">|", "<<", "<>", ";", "&", "|", "<", ">", "(", ")", "\n")
_UNSUPPORTED_WORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done",
                      "case", "esac", "function", "select", "time", "[["}


@dataclass
class Redirection:
    fd: int
    op: str
    target: list  # a word, or [("lit", "1", True)] for >&1


@dataclass
class SimpleCommand:
    assigns: list[tuple[str, list]]
    words: list[list]
    redirs: list[Redirection]


@dataclass
class Group:
    body: list
    subshell: bool
    redirs: list[Redirection]


@dataclass
class Pipeline:
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

    def pipeline(self) -> Pipeline:
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
        return Pipeline(cmds, negate)

    def command(self):
        op = self._op()
        if op == "(":
            self._take("(")
            body = self.program(end=")")
            self._take(")")
            return Group(body, True, self._redirs())
        if self._at_word("{"):
            self.i += 1
            body = self.program(end="}")
            self.i += 1
            return Group(body, False, self._redirs())
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
        return SimpleCommand(assigns, words, redirs)

    def _redirs(self) -> list:
        out = []
        while (r := self._redir()) is not None:
            out.append(r)
        return out

    def _redir(self) -> Redirection | None:
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
        return Redirection(fd, op, target)

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

