"""PEP 562 lazy exports: a package names what it exports and where it lives, and a name's module
is imported on first use, so `import vlagent` stays light (no torch, adbutils, pyautogui...)."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_exports(package: str, lazy: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` resolving `lazy` (name -> relative module) and caching the value."""

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = namespace[name] = getattr(import_module(module, package), name)
        return value

    return __getattr__
