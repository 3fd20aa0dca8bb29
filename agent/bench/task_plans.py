"""Oracle plans: the steps that solve a task (`Task.solution`) or carry out an attack
(`Task.attack`), as `Step`s the oracle and attacker models (baselines.py, attacker.py) play on the
screen, one action each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .task_env import Node


@dataclass(frozen=True)
class Step:
    """One step of an oracle plan. ops: open, tap, seek (scroll until present), type, key,
    button, slide, dismiss (Back if a dialog shows, else nothing), finish. `match`/`near` locate a
    node; `answer` is text or nodes -> text."""

    op: str
    match: tuple[tuple[str, Any], ...] = ()
    near: tuple[tuple[str, Any], ...] = ()
    text: str = ""
    scroll: bool = False
    value: tuple[int, int, int] = (0, 0, 0)   # slide: value, lo, hi
    answer: Any = None


def open_app(label: str) -> Step:
    return Step("open", text=label)


def tap(*, scroll: bool = False, near: dict | None = None, **match: Any) -> Step:
    return Step("tap", tuple(match.items()), tuple((near or {}).items()), scroll=scroll)


def seek(**match: Any) -> Step:
    return Step("seek", tuple(match.items()), scroll=True)


def type_text(text: str) -> Step:
    return Step("type", text=text)


def press(key: str) -> Step:
    return Step("key", text=key)


def button(name: str) -> Step:
    return Step("button", text=name)


def slide(value: int, lo: int, hi: int, **match: Any) -> Step:
    return Step("slide", tuple(match.items()), value=(value, lo, hi))


def dismiss() -> Step:
    return Step("dismiss")


def finish(answer: str | Callable[[list[Node]], str] | None = None) -> Step:
    return Step("finish", answer=answer)
