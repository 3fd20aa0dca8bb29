"""Run-time guards the loop applies around the model: secrets, loops, blank frames.

Each guard is small and stateless across runs except for what one run needs, so the loop stays
readable and each rule is tested on its own.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from PIL import Image, ImageStat

if TYPE_CHECKING:
    from .actions import _Action

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Secrets:
    """Values the model refers to as `{{NAME}}` and never sees.

    They are substituted only into text typed on the device; everything recorded or sent
    elsewhere (trajectories, logs, prompts, tool requests) gets `scrub`bed back to `{{NAME}}`.
    """

    values: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.values.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"secret name {name!r}: use letters, digits and _ (e.g. PIN)")
            if not value:
                raise ValueError(f"secret {name} is empty")

    @classmethod
    def parse(cls, items: list[str], environ: Mapping[str, str] = os.environ) -> "Secrets":
        """From CLI-style items: NAME=VALUE, or NAME alone for the value of the environment
        variable VLAGENT_SECRET_NAME (kept out of shell history and `ps`)."""
        values = {}
        for item in items:
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep:
                variable = f"VLAGENT_SECRET_{name}"
                if not environ.get(variable):
                    raise ValueError(f"--secret {item}: set the environment variable {variable} "
                                     f"(e.g. `read -s {variable}; export {variable}`), or write NAME=VALUE")
                value = environ[variable]
            values[name] = value
        return cls(values)

    def prompt_note(self) -> str:
        if not self.values:
            return ""
        names = ", ".join("{{%s}}" % n for n in sorted(self.values))
        return (
            f"Secrets you may type without knowing them: {names}. Write the placeholder exactly, "
            "e.g. type {{NAME}}; it is replaced on the device. A grey box on the screen covers a field "
            "that holds one."
        )

    @functools.cached_property
    def _forms(self) -> list[tuple[str, str]]:
        """(form, name) pairs, longest first; made once, since scrub runs on every record."""
        return sorted(((form, name) for name, value in self.values.items() for form in _forms(value)),
                      key=lambda fn: -len(fn[0]))

    def substitute(self, text: str) -> str:
        """Placeholders replaced by their values, for typing on the device only."""
        return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), text)

    def scrub(self, text: str) -> str:
        """Every secret value in `text` replaced by its placeholder (longest forms first): the
        value itself and the forms it takes in JSON, Python reprs, URLs, shell quoting and base64
        (ADBKeyboard's broadcasts), as error messages and UI dumps quote it."""
        for form, name in self._forms:
            text = text.replace(form, "{{%s}}" % name)
        return text


def _forms(value: str) -> set[str]:
    import base64
    import json
    import shlex
    from urllib.parse import quote, quote_plus

    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1],
             quote(value, safe=""), quote_plus(value), shlex.quote(value),
             base64.b64encode(value.encode("utf-8")).decode("ascii").rstrip("=")}
    # Encodings of a very short value would match unrelated text ("eA" is base64 of "x").
    return {f for f in forms if len(f) >= 4} | {value} if len(value) >= 4 else {value}


class RepeatDetector:
    """Notices the same action repeated on a screen that did not change.

    The first repeat gets a nudge the model reads; `limit` repeats in a row stop the run.
    """

    def __init__(self, limit: int = 3):
        self.limit = limit
        self._last: tuple[str, bytes] | None = None
        self.count = 0

    def observe(self, action: _Action, screen: Image.Image | bytes) -> int:
        """How many times in a row this action met this screen (1 = new); `screen` is the frame
        or its `fingerprint`."""
        key = (action.model_dump_json(), screen if isinstance(screen, bytes) else fingerprint(screen))
        self.count = self.count + 1 if key == self._last else 1
        self._last = key
        return self.count


def thumbnail(image: Image.Image) -> Image.Image:
    """64x128 grey: enough to tell screens apart or see that one is black, ~3 ms for 1080x2400."""
    # reducing_gap: shrink by whole factors first, ~5x cheaper than a plain resize of a full frame.
    return image.resize((64, 128), Image.Resampling.BILINEAR, reducing_gap=2.0).convert("L")


def fingerprint(image: Image.Image) -> bytes:
    return image.tobytes() if image.size == (64, 128) and image.mode == "L" else thumbnail(image).tobytes()


def is_black(image: Image.Image, *, brightest: int = 8) -> bool:
    """True for an all-black frame (or its `thumbnail`): a secure screen (FLAG_SECURE) or a
    capture that failed.

    Only black counts: a white loading page is a real screen the model may wait on, while a
    black one carries nothing to act on.
    """
    if image.width == 0 or image.height == 0:
        return True
    thumb = image if image.size == (64, 128) and image.mode == "L" else thumbnail(image)
    return ImageStat.Stat(thumb).extrema[0][1] <= brightest
