"""The SimPhone's apps: one module per app, each exposing `APP`, and the registry of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .base import Activity


@dataclass(frozen=True)
class App:
    label: str
    package: str
    root: Callable[..., Activity]     # host -> the task's first activity
    icon: str                         # glyph name for launcher icons
    colour: tuple[int, int, int]
    activities: tuple[str, ...]       # activity names `am start -n` accepts
    launcher: bool = True             # has a MAIN/LAUNCHER activity: the launcher shows its icon


def registry() -> dict[str, App]:
    """package -> App, in launcher order (imported lazily: the app modules import the toolkit)."""
    from . import browser, calculator, clock, contacts, dialer, messages, notes, settings

    # New apps go last: the launcher's seeded layouts give the first apps the cells they had before.
    apps = [settings.APP, contacts.APP, messages.APP, clock.APP, calculator.APP, notes.APP, browser.APP, dialer.APP]
    return {a.package: a for a in apps}


__all__ = ["App", "registry"]
