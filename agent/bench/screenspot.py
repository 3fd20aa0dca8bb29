"""ScreenSpot: GUI grounding accuracy -- does the predicted point fall in the target's box?

ScreenSpot (Cheng et al., 2024, njucckevin/SeeClick) ships `screenspot_{mobile,desktop,web}.json`,
each a list of {"img_filename", "bbox": [x, y, w, h] in image pixels, "instruction", "data_type":
"text" | "icon", "data_source": "ios" | "android" | "windows" | "macos" | "shop" | ...}.
ScreenSpot-v2 uses the same shape.

As in SeeClick's `pretrain/screenspot_test.py`, a prediction is correct when its point lies in the
box, edges included, both compared as fractions of the image. The point is read, in this order,
from the first `mobile_use` / `computer_use` call with a `coordinate` (click, long press, ...), or
from the center of the first Qwen2-VL grounding box, in the model's own units (0-1000 relative,
or pixels of the smart-resized image). Metrics: accuracy per platform (mobile, desktop, web)
split into text and icon, as the paper's table; `accuracy` over all examples and `macro` over the
cells present.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..coords import Screen, box_center
from ..errors import RecoverableError
from ..parsing import parse_boxes, parse_tool_calls

PLATFORMS = ("mobile", "desktop", "web")
_SOURCE_PLATFORM = {"ios": "mobile", "android": "mobile", "windows": "desktop", "macos": "desktop"}
_POINT_ACTIONS = {"click", "long_press", "left_click", "double_click", "right_click", "middle_click", "mouse_move"}


@dataclass(frozen=True)
class GroundingExample:
    index: int
    image: str
    instruction: str
    bbox: tuple[float, float, float, float]  # x, y, w, h in image pixels
    data_type: str  # "text" or "icon"
    platform: str

    @property
    def episode_id(self) -> str:  # for the runner's progress, which counts "episodes"
        return str(self.index)


def point_in_box(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    """(x, y) inside (x1, y1, x2, y2), edges included."""
    x, y = point
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def predicted_point(text: str, screen: Screen, system: str) -> tuple[tuple[float, float] | None, str | None]:
    """The model's point as fractions (x, y) of the screenshot, or (None, why)."""
    ext_x, ext_y = screen.model_extent(system)
    try:
        for call in parse_tool_calls(text):
            args = call.arguments
            coordinate = args.get("coordinate")
            if args.get("action") in _POINT_ACTIONS and isinstance(coordinate, (list, tuple)) and len(coordinate) == 2:
                return (float(coordinate[0]) / ext_x, float(coordinate[1]) / ext_y), None
        boxes = parse_boxes(text)
    except (RecoverableError, TypeError, ValueError) as e:
        return None, str(e)
    if boxes:
        x, y = box_center(boxes[0].box)
        return (x / ext_x, y / ext_y), None
    return None, "no click call and no grounding box"


def score_output(example: GroundingExample, text: str, screen: Screen, system: str) -> dict[str, Any]:
    w, h = screen.image_size
    x, y, bw, bh = example.bbox
    box = (x / w, y / h, (x + bw) / w, (y + bh) / h)  # fractions, as SeeClick compares them
    point, error = predicted_point(text, screen, system)
    return {
        "index": example.index, "platform": example.platform, "data_type": example.data_type,
        "point": point, "correct": point is not None and point_in_box(point, box), "error": error,
    }


def gold_arguments(example: GroundingExample, screen: Screen, system: str) -> dict[str, Any]:
    """A click at the box center: what a perfect model answers (scripted runs score 100%)."""
    w, h = screen.image_size
    x, y, bw, bh = example.bbox
    ext_x, ext_y = screen.model_extent(system)
    return {"action": "click", "coordinate": [round((x + bw / 2) / w * ext_x), round((y + bh / 2) / h * ext_y)]}


def instruction(example: GroundingExample) -> str:
    return example.instruction


def _platform(record: dict[str, Any], file: Path) -> str:
    if record.get("platform") in PLATFORMS:
        return record["platform"]
    for platform in PLATFORMS:
        if platform in file.stem:
            return platform
    return _SOURCE_PLATFORM.get(str(record.get("data_source", "")).lower(), "web")


def load_examples(path: str | Path) -> list[GroundingExample]:
    """Examples from one `screenspot_*.json` file, or from every one in a folder."""
    path = Path(path)
    files = sorted(path.glob("screenspot_*.json")) if path.is_dir() else [path]
    examples = []
    for file in files:
        for record in json.loads(file.read_text(encoding="utf-8")):
            examples.append(GroundingExample(
                len(examples), record["img_filename"], record["instruction"],
                tuple(float(v) for v in record["bbox"]),  # type: ignore[arg-type]
                record.get("data_type", "text"), _platform(record, file),
            ))
    return examples


def load_episodes(path: str | Path) -> list[list[GroundingExample]]:
    """Each example as a one-step episode, the shape the dataset runner walks."""
    return [[e] for e in load_examples(path)]


def _rate(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cells: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        cells[f"{r['platform']}_{r['data_type']}"].append(r["correct"])
    table = {name: _rate(hits) for name, hits in sorted(cells.items())}
    return {
        "examples": len(rows),
        "accuracy": _rate([r["correct"] for r in rows]),
        "macro": round(sum(table.values()) / len(table), 4) if table else None,
        "by_platform_type": table,
        "invalid_outputs": sum(r["error"] is not None for r in rows),
    }
