"""Grounding: where on the screen is "the Wi-Fi switch"? Asking the model, and remembering.

- `screen_hash(image, region)`: a perceptual hash (dHash along rows and columns of a small grey
  thumbnail, rising and falling edges apart) compared by Hamming distance over the edges either
  hash has, so a clock tick or a blinking cursor leaves it almost unchanged while a scrolled list
  or another page with the same layout does not (a mostly blank screen does not dilute it).
- `GroundingCache`: instruction + perceptual hashes -> device point, a JSON file on disk. An entry
  hits when the whole screen is close to the one it was grounded on *and* the region around the
  point is closer still; it also keeps the answers to `query`/`assert` keyed by an exact digest
  of the screen, since an answer may turn on one changed pixel of text.
- `ground(...)`: the grounding prompt, and the model's reply (a Qwen2-VL box, a `mobile_use`
  click, or a bare point) turned into device pixels; one retry with the error shown.

Pure of devices: the caller captures frames and executes actions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PIL import Image

# numpy (~40-110 ms to import) is imported by the first `screen_hash`, not at import, so that
# `from vlagent import connect` stays cheap (issue #20, cold start).

from .atomic import write_atomic
from .coords import Screen, box_center
from .errors import ParseError, RecoverableError
from .models.base import Message
from .parsing import parse_bare_box, parse_boxes, parse_json_boxes, parse_tool_calls
from .profiles import DEFAULT_PROFILE, PROFILES
from .vision import fit_to_model

log = logging.getLogger("vlagent.grounding")

CACHE_VERSION = 1
# Distances allowed (Hamming distance / edges in either hash). Measured on SimPhone frames: a
# changed summary line ("Wi-Fi off" -> "Wi-Fi on") is 1% apart, the Wi-Fi switch flipped with its
# summary 11%, "Connected devices" vs "Network & internet" (same layout, other words) 41%, a
# list scrolled by 100 px 87%, another app 90% and more; a rotated screen never compares.
SCREEN_TOLERANCE = 0.2
# The region around a cached point may change more (a flipped switch is still the switch: 33% on
# SimPhone, up to 55% on small synthetic screens), but not into something else: a popup over it
# or another element in its place is 90-100% apart.
REGION_TOLERANCE = 0.6
# Grey levels a thumbnail cell must differ from its neighbour by to count as an edge: flat areas
# then hash to zeros and stay zeros under compression noise.
_EDGE = 2.0
_SCREEN_COLS = 32
_REGION_COLS = 16


# -- perceptual hashes --------------------------------------------------------------------------


@dataclass(frozen=True)
class PHash:
    """A gradient hash: `cols` x `rows` cells, four bits each (rising/falling, across/down)."""

    cols: int
    rows: int
    bits: int

    @property
    def size(self) -> int:
        return 4 * self.cols * self.rows

    def distance(self, other: "PHash") -> float:
        """Hamming distance over the bits set in either hash, 0.0 (same) to 1.0 (no edge in
        common); 1.0 for hashes of differently shaped images."""
        if (self.cols, self.rows) != (other.cols, other.rows):
            return 1.0
        either = (self.bits | other.bits).bit_count()
        return (self.bits ^ other.bits).bit_count() / either if either else 0.0

    def __str__(self) -> str:
        return f"{self.cols}x{self.rows}:{self.bits:0{self.size // 4}x}"

    @classmethod
    def parse(cls, text: str) -> "PHash":
        shape, _, digits = text.partition(":")
        cols, _, rows = shape.partition("x")
        return cls(int(cols), int(rows), int(digits, 16))


def screen_hash(image: Image.Image, region: tuple[int, int, int, int] | None = None,
                *, cols: int | None = None) -> PHash:
    """Perceptual hash of `image` (or of `region` of it, in its pixels). Rows follow the aspect
    ratio, so a tall phone screen gets as fine a grid down as across, and a rotated screen never
    compares equal to an upright one."""
    import numpy as np  # deferred: see the note at the imports

    if region is not None:
        image = image.crop(region)
    cols = cols or (_REGION_COLS if region is not None else _SCREEN_COLS)
    grey = image.convert("L")
    rows = max(2, min(4 * cols, round(cols * grey.height / max(1, grey.width))))
    a = np.asarray(grey.resize((cols + 1, rows + 1), Image.Resampling.BOX), dtype=np.float32)
    across = a[:rows, 1:] - a[:rows, :-1]
    down = a[1:, :cols] - a[:-1, :cols]
    planes = [across > _EDGE, across < -_EDGE, down > _EDGE, down < -_EDGE]
    packed = np.packbits(np.concatenate([p.ravel() for p in planes]))
    bits = int.from_bytes(packed.tobytes(), "big") >> (len(packed) * 8 - 4 * cols * rows)
    return PHash(cols, rows, bits)


def screen_digest(image: Image.Image) -> str:
    """Exact identity of a frame: equal digests, equal pixels."""
    h = hashlib.sha256(f"{image.mode}{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def region_around(point: tuple[float, float], image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The square around `point` (screenshot pixels) whose look decides a cache hit: a quarter
    of the short side, enough for a switch or a button and a little of its surroundings."""
    w, h = image_size
    half = max(8, min(w, h) // 8)
    x, y = int(point[0]), int(point[1])
    left, top = min(max(0, x - half), max(0, w - 2 * half)), min(max(0, y - half), max(0, h - 2 * half))
    return (left, top, min(w, left + 2 * half), min(h, top + 2 * half))


def normalize_instruction(text: str) -> str:
    """Cache key for an instruction: case, spacing, quotes and final punctuation do not matter."""
    return " ".join(text.split()).casefold().strip("\"'“”‘’`.!?;: ")


# -- the cache ----------------------------------------------------------------------------------


def default_cache_path() -> Path:
    root = Path(os.environ.get("VLAGENT_CACHE", Path.home() / ".cache" / "vlagent"))
    return root / "grounding.json"


@dataclass(frozen=True)
class CacheHit:
    point: tuple[int, int]
    screen_distance: float
    region_distance: float


class GroundingCache:
    """Grounding results and screen answers, in a JSON file (None: in memory only).

    Grounding entries: {instruction, image_size, device_size, screen, region, region_hash, point}.
    A lookup hits when the instruction matches, the screen hash is within `screen_tolerance` and
    the hash of the region around the cached point within `region_tolerance` (the element is still
    where it was). Answers: {kind, question, schema, digest} -> JSON answer, exact screens only.
    Writes are atomic and merge with what another process wrote meanwhile.
    """

    def __init__(self, path: str | Path | None = None, *, screen_tolerance: float = SCREEN_TOLERANCE,
                 region_tolerance: float = REGION_TOLERANCE, max_entries: int = 5000) -> None:
        self.path = Path(path) if path is not None else None
        self.screen_tolerance = screen_tolerance
        self.region_tolerance = region_tolerance
        self.max_entries = max_entries
        self.entries: list[dict[str, Any]] = []
        self.answers: dict[str, Any] = {}
        if self.path is not None and self.path.exists():
            self.entries, self.answers = self._read()

    # grounding
    @classmethod
    def of(cls, cache: "GroundingCache | str | Path | bool | None") -> "GroundingCache | None":
        """The cache a `cache=` setting names: a GroundingCache as it is, True for the default
        file, a path for that file, False or None for none."""
        if isinstance(cache, GroundingCache):
            return cache
        if cache is True:
            return cls(default_cache_path())
        if cache is False or cache is None:
            return None
        return cls(Path(cache))

    def lookup(self, instruction: str, image: Image.Image, device_size: tuple[int, int],
               *, screen: PHash | None = None) -> CacheHit | None:
        key = normalize_instruction(instruction)
        screen = screen or screen_hash(image)
        best: CacheHit | None = None
        for entry in self.entries:
            if (entry["instruction"] != key or tuple(entry["image_size"]) != image.size
                    or tuple(entry["device_size"]) != tuple(device_size)):
                continue
            d_screen = screen.distance(PHash.parse(entry["screen"]))
            if d_screen > self.screen_tolerance:
                continue
            region = tuple(entry["region"])
            d_region = screen_hash(image, region).distance(PHash.parse(entry["region_hash"]))
            if d_region > self.region_tolerance:
                continue
            if best is None or (d_region, d_screen) < (best.region_distance, best.screen_distance):
                best = CacheHit(tuple(entry["point"]), d_screen, d_region)
                entry["used_at"] = time.time()
        if best is None:
            log.info("grounding cache miss for %r — asking the model", instruction)
        else:
            log.info("grounding cache hit for %r — no model call (screen %.1f%%, region %.1f%% apart)",
                     instruction, 100 * best.screen_distance, 100 * best.region_distance)
        return best

    def store(self, instruction: str, image: Image.Image, device_size: tuple[int, int],
              point: tuple[int, int], *, screen: PHash | None = None) -> None:
        sx, sy = image.width / device_size[0], image.height / device_size[1]
        region = region_around((point[0] * sx, point[1] * sy), image.size)
        entry = {
            "instruction": normalize_instruction(instruction),
            "image_size": list(image.size), "device_size": list(device_size),
            "screen": str(screen or screen_hash(image)), "region": list(region),
            "region_hash": str(screen_hash(image, region)), "point": [int(point[0]), int(point[1])],
            "created_at": time.time(), "used_at": time.time(),
        }
        self.entries = [e for e in self.entries if _entry_key(e) != _entry_key(entry)] + [entry]
        self.save()

    # answers to queries and assertions
    @staticmethod
    def answer_key(kind: str, question: str, schema: str, digest: str) -> str:
        raw = json.dumps([kind, normalize_instruction(question), schema, digest])
        return hashlib.sha256(raw.encode()).hexdigest()

    def get_answer(self, key: str) -> Any | None:
        hit = self.answers.get(key)
        return None if hit is None else hit["value"]

    def put_answer(self, key: str, value: Any) -> None:
        self.answers[key] = {"value": value, "created_at": time.time()}
        self.save()

    # disk
    def clear(self) -> None:
        self.entries, self.answers = [], {}
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _read(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable grounding cache %s (%s)", self.path, e)
            return [], {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            log.warning("ignoring grounding cache %s: not a version-%d cache", self.path, CACHE_VERSION)
            return [], {}
        return list(data.get("entries", [])), dict(data.get("answers", {}))

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # merge: another process may have written since we read
            theirs, their_answers = self._read()
            mine = {_entry_key(e) for e in self.entries}
            self.entries = [e for e in theirs if _entry_key(e) not in mine] + self.entries
            self.answers = {**their_answers, **self.answers}
        if len(self.entries) > self.max_entries:
            self.entries = sorted(self.entries, key=lambda e: e.get("used_at", 0))[-self.max_entries:]
        if len(self.answers) > self.max_entries:
            keep = sorted(self.answers.items(), key=lambda kv: kv[1].get("created_at", 0))[-self.max_entries:]
            self.answers = dict(keep)
        data = json.dumps({"version": CACHE_VERSION, "entries": self.entries, "answers": self.answers})
        write_atomic(self.path, data)


def _entry_key(entry: dict[str, Any]) -> tuple:
    return (entry["instruction"], tuple(entry["image_size"]), entry["screen"], tuple(entry["point"]))


# -- asking the model ---------------------------------------------------------------------------

# {box}: the box as the model's family writes it (its profile's box_answer).
GROUNDING_PROMPT = (
    "Find this on the screen: {target}\n"
    "Answer with its bounding box, written as {box}, {units}. If it is not on the screen, "
    "answer NOT FOUND."
)
EXAMPLE_PROMPT = (
    "The first image is a crop of an earlier screen, centred on the element that was tapped "
    "there{hint}. The second image is the current screen, the screenshot. Find the same element "
    "on it and answer with its bounding box, written as {box}, {units}. If it is not there, "
    "answer NOT FOUND."
)
RETRY_PROMPT = "Error: {error}\nAnswer again: only the bounding box, in the format asked for."
_NOT_FOUND = re.compile(r"\bnot[ _-]?found\b", re.IGNORECASE)
_POINT = re.compile(r"[\[(]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[\])]")


class TargetNotFound(RecoverableError):
    """The model answered that the target is not on the screen."""


def box_answer(model: Any, ref: str) -> str:
    """How `model`'s family writes a box around `ref` (Qwen2-VL's tokens for a model without a
    profile)."""
    profile = getattr(model, "profile", None) or PROFILES[DEFAULT_PROFILE]
    return profile.box_answer.format(ref=ref)


def point_from_text(text: str, screen: Screen, system: str, box_format: str | None = None) -> tuple[int, int]:
    """Device point from a grounding reply: a box (its centre), a UI-tool click, or a bare point.
    Raises ParseError / ActionOutOfBounds (to show the model, `box_format` being the format it
    was asked for) or TargetNotFound."""
    boxes = parse_boxes(text)
    if boxes:
        return screen.to_device(box_center(boxes[0].box), system)
    try:
        calls = parse_tool_calls(text)
    except ParseError:
        calls = []
    for call in calls:
        coordinate = call.arguments.get("coordinate")
        if isinstance(coordinate, (list, tuple)) and len(coordinate) == 2:
            return screen.to_device((float(coordinate[0]), float(coordinate[1])), system)
    if _NOT_FOUND.search(text):
        raise TargetNotFound(f"the model says it is not on the screen: {text.strip()[:200]!r}")
    if json_boxes := parse_json_boxes(text):  # Qwen2.5-VL: {"bbox_2d": [...], "label": ...}
        return screen.to_device(box_center(json_boxes[0].box), system)
    if (bare := parse_bare_box(text)) is not None:  # a box whose tokens a server stripped
        return screen.to_device(box_center(bare), system)
    if m := _POINT.search(text):
        return screen.to_device((float(m.group(1)), float(m.group(2))), system)
    raise ParseError(
        f"no bounding box in the answer: write {box_format or box_answer(None, 'the element')}. "
        f"Your answer began: {text.strip()[:120]!r}"
    )


@dataclass(frozen=True)
class Grounded:
    point: tuple[int, int]
    text: str  # the model's final reply
    calls: int  # model calls it took (1, or 2 after a retry)


Generate = Callable[[list[Message]], str]


def ground(generate: Generate, model: Any, frame: Image.Image, device_size: tuple[int, int],
           target: str, *, example: Image.Image | None = None, hint: str = "") -> Grounded:
    """Ask for `target` on `frame` (or, with `example`, for the element that crop shows) and
    return its device point; an unreadable or off-screen answer gets one retry with the error."""
    system = getattr(model, "coordinate_system", "relative-1000")
    seen = fit_to_model(frame, model.min_pixels, model.max_pixels)
    screen = Screen(image_size=frame.size, device_size=tuple(device_size), model_size=seen.size)
    if example is None:
        content: list[dict[str, Any]] = [
            {"type": "image", "image": seen},
            {"type": "text", "text": GROUNDING_PROMPT.format(target=target, box=box_answer(model, target),
                                                             units=screen.units(system))},
        ]
    else:
        crop = fit_to_model(example, model.min_pixels, model.max_pixels)
        text = EXAMPLE_PROMPT.format(hint=f" ({hint})" if hint else "", box=box_answer(model, "the element"),
                                     units=screen.units(system))
        content = [{"type": "image", "image": crop}, {"type": "text", "text": text},
                   {"type": "image", "image": seen}]
    messages: list[Message] = [{"role": "user", "content": content}]
    for attempt in (1, 2):
        reply = generate(messages)
        try:
            return Grounded(point_from_text(reply, screen, system, box_answer(model, target)), reply, attempt)
        except TargetNotFound:
            raise
        except RecoverableError as e:
            if attempt == 2:
                raise
            messages = messages + [{"role": "assistant", "content": reply},
                                   {"role": "user", "content": RETRY_PROMPT.format(error=e)}]
    raise AssertionError("unreachable")
