"""Text as adb shell commands: `input text` for what it can type, ADBKeyboard for the rest.

`input text` types printable ASCII only, and its argument passes through two parsers (mksh,
then `input` itself, which reads "%s" as a space), so the escaping here is exact rather than
clever. ADBKeyboard's broadcast carries any Unicode as base64, which nothing between here and
the IME can misread.
"""

from __future__ import annotations

import base64
from typing import Callable

ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"
ADB_KEYBOARD_HELP = (
    "install ADBKeyboard on the phone (the APK from https://github.com/senzhk/ADBKeyBoard: "
    "`adb install ADBKeyboard.apk`), then enable it with "
    "`adb shell ime enable com.android.adbkeyboard/.AdbIME`"
)

# `input text` types printable ASCII; newlines go as KEYCODE_ENTER, everything else elsewhere.
TYPABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
# One `sh -c` line per adb OPEN: stay well inside old devices' 4 KiB payload limit.
_MAX_COMMAND = 3000


def text_commands(text: str) -> list[str]:
    """`input text` commands that type `text` (printable ASCII and newlines) exactly.

    Rules: each argument is single-quoted for mksh ('\\'' for a quote), so no character is
    special to the shell. `input text` itself turns "%s" into a space: spaces are written as
    %s (a literal "% " becomes "%%s", which Android types as "% "), and a real "%" followed by
    "s" is split across two commands so the pair never meets in one argument. Newlines are
    KEYCODE_ENTER presses. Long runs are cut into pieces of 200 characters.
    """
    return _pressing_between(text, "\n", "KEYCODE_ENTER", _line_commands)


def text_commands_pressing_tab(text: str) -> list[str]:
    """As `text_commands`, with tabs pressed as KEYCODE_TAB (`input text` cannot type them)."""
    return _pressing_between(text, "\t", "KEYCODE_TAB", text_commands)


def adb_keyboard_commands(text: str) -> list[str]:
    """ADBKeyboard broadcasts that type `text` (any Unicode), newlines as KEYCODE_ENTER; each
    carries at most 1500 bytes of UTF-8, well inside a broadcast's size limit."""

    def broadcasts(line: str) -> list[str]:
        encoded = (base64.b64encode(chunk.encode("utf-8")).decode("ascii") for chunk in _utf8_chunks(line, 1500))
        return [f"am broadcast -a ADB_INPUT_B64 --es msg {b64}" for b64 in encoded]

    return _pressing_between(text, "\n", "KEYCODE_ENTER", broadcasts)


def shell_quote(arg: str) -> str:
    """Quote one argument for mksh: inside single quotes nothing is special but the quote."""
    return "'" + arg.replace("'", "'\\''") + "'"


def batch(commands: list[str]) -> list[str]:
    """Join commands with && into shell lines under the length limit (fewer round trips)."""
    lines: list[str] = []
    for c in commands:
        if lines and len(lines[-1]) + len(c) + 4 <= _MAX_COMMAND:
            lines[-1] += " && " + c
        else:
            lines.append(c)
    return lines


def _pressing_between(text: str, separator: str, key: str, commands_for: Callable[[str], list[str]]) -> list[str]:
    """`commands_for` each part of `text` between separators, with `key` pressed in between."""
    commands: list[str] = []
    for k, part in enumerate(text.split(separator)):
        if k:
            commands.append(f"input keyevent {key}")
        commands.extend(commands_for(part))
    return commands


def _line_commands(line: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for i in range(1, len(line)):
        if (line[i - 1] == "%" and line[i] == "s") or i - start >= 200:
            pieces.append(line[start:i])
            start = i
    pieces.append(line[start:])
    return ["input text " + shell_quote(piece.replace(" ", "%s")) for piece in pieces if piece]


def _utf8_chunks(text: str, limit: int) -> list[str]:
    chunks, current, size = [], [], 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if current and size + n > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        chunks.append("".join(current))
    return chunks
