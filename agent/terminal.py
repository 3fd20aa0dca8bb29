"""What the command line prints on the terminal: one stderr console, text from models and tools
made safe to print, the one way a command stops on an error (one line, exit status 2), and the
question that lets the user allow a guarded action."""

from __future__ import annotations

import re
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# soft_wrap: a message is one line however wide the terminal, so piped output and logs can be
# searched and copied whole (rich would break it at 80 columns where there is no terminal).
console = Console(stderr=True, soft_wrap=True)

# Terminal escape sequences (CSI such as colours, OSC such as window titles) and other control
# characters: model text may carry them, and printed raw they would restyle or rename the
# user's terminal, or hide text. Newlines and tabs stay.
_TERMINAL_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` (from a model, a tool or a device) made safe to print on a terminal."""
    return _TERMINAL_CONTROL.sub("", text)


def fail(message: str, kind: str = "Error") -> NoReturn:
    """Print `kind: message` on stderr as plain text (never rich markup) and exit with status 2."""
    console.print(f"[red]{escape(kind)}:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def confirm_on_terminal(assessment, subject) -> bool:
    """A `Policy` confirm callback: show what the action risks and why, and ask (default no)."""
    console.print(f"[yellow]The agent wants to {assessment}.[/]")
    for reason in assessment.reasons:
        console.print(f"  [dim]{reason}[/]")
    return typer.confirm("Allow it?", default=False)
