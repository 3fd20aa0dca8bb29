"""Run-time guards the loop applies around the model: secrets, loops, blank frames.

Each guard is small and stateless across runs except for what one run needs, so the loop stays
readable and each rule is tested on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PIL import Image, ImageStat

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
    def parse(cls, items: list[str]) -> "Secrets":
        """From CLI-style NAME=VALUE strings."""
        values = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--secret {item!r}: write NAME=VALUE")
            values[name.strip()] = value
        return cls(values)

    def prompt_note(self) -> str:
        if not self.values:
            return ""
        names = ", ".join("{{%s}}" % n for n in sorted(self.values))
        return (
            f"Secrets you may type without knowing them: {names}. Write the placeholder exactly, "
            "e.g. type {{NAME}}; it is replaced on the device."
        )

    def substitute(self, text: str) -> str:
        """Placeholders replaced by their values, for typing on the device only."""
        return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), text)

    def scrub(self, text: str) -> str:
        """Every secret value in `text` replaced by its placeholder (longest values first)."""
        for name, value in sorted(self.values.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(value, "{{%s}}" % name)
        return text


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
