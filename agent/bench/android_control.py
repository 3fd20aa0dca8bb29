"""AndroidControl: step accuracy of a model's actions against the human demonstrations.

AndroidControl (Li et al., 2024, google-research/android_control) ships GZIP TFRecords of whole
episodes. We read the JSON-lines exports people convert them to, in either shape:
- one episode per line, the TFRecord fields with screenshots as file paths: `episode_id`, `goal`,
  `screenshots` (paths), `screenshot_widths`, `screenshot_heights`, `actions` (JSON strings or
  objects; one fewer than screenshots), `step_instructions`, optional `target_boxes`;
- one step per line: `episode_id`, `step_id`, `goal`, `step_instruction`, `image` (a path),
  `action` (object or JSON string), optional `screenshot_width`/`screenshot_height` and
  `target_box`.
An action is {"action_type": ..., ...} with the dataset's types: click / long_press (`x`, `y` in
screenshot pixels), scroll (`direction`: up/down/left/right, the way the *content* moves, so
"down" is a finger swipe upward, as android_world executes it), open_app (`app_name`), type and
input_text (`text`), navigate_home, navigate_back, wait. A target box is [x1, y1, x2, y2] in
pixels: the accessibility-tree element the gold action acts on, when the export kept it.

The paper publishes no checker, so we score as the papers that report AndroidControl do (the
AITW conventions): the type must match; a click or long press is exact inside the target box or
within 0.14 of the screen of the gold point; a scroll needs the same direction; typed text and
app names match when, lower-cased and stripped, either contains the other. `type` and
`input_text` count as one kind (our model only types). High level gives the model the goal only;
low level adds the step instruction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import actions as A
from ..coords import Screen
from . import aitw

TAP_DISTANCE_THRESHOLD = aitw.TAP_DISTANCE_THRESHOLD
KINDS = ("click", "long_press", "scroll", "open_app", "input_text", "navigate_home", "navigate_back", "wait")
_KIND_ALIASES = {"type": "input_text"}
# Content moves opposite to the finger: scrolling "down" (to see what is below) swipes upward.
_SWIPES = {"down": ((0.5, 0.7), (0.5, 0.3)), "up": ((0.5, 0.3), (0.5, 0.7)),
           "right": ((0.7, 0.5), (0.3, 0.5)), "left": ((0.3, 0.5), (0.7, 0.5))}


@dataclass(frozen=True)
class ControlStep:
    episode_id: str
    step_id: int
    goal: str
    step_instruction: str
    image: str
    action: dict[str, Any]
    size: tuple[int, int] | None = None  # (width, height) of the screenshot, if the export has it
    target_box: tuple[float, float, float, float] | None = None  # pixels, x1 y1 x2 y2


@dataclass(frozen=True)
class ControlAction:
    """An action in AndroidControl's terms, points as screen fractions (x, y)."""

    kind: str | None
    point: tuple[float, float] | None = None
    direction: str = ""
    text: str = ""


def kind_of(action: dict[str, Any]) -> str:
    kind = str(action.get("action_type", ""))
    return _KIND_ALIASES.get(kind, kind)


def from_action(action: A._Action | None, device_size: tuple[int, int]) -> ControlAction:
    """One of our device actions in AndroidControl's terms (kind None if it has none)."""
    w, h = device_size
    match action:
        case A.Tap(x=x, y=y):
            return ControlAction("click", (x / w, y / h))
        case A.LongPress(x=x, y=y):
            return ControlAction("long_press", (x / w, y / h))
        case A.Swipe(x1=x1, y1=y1, x2=x2, y2=y2):
            dx, dy = (x2 - x1) / w, (y2 - y1) / h
            if abs(dy) >= abs(dx):
                return ControlAction("scroll", direction="down" if dy < 0 else "up")
            return ControlAction("scroll", direction="right" if dx < 0 else "left")
        case A.OpenApp(name=name):
            return ControlAction("open_app", text=name)
        case A.TypeText(text=text):
            return ControlAction("input_text", text=text)
        case A.SystemButton(button="home"):
            return ControlAction("navigate_home")
        case A.SystemButton(button="back"):
            return ControlAction("navigate_back")
        case A.Wait():
            return ControlAction("wait")
    return ControlAction(None)


def _contains(predicted: str, gold: str) -> bool:
    predicted, gold = predicted.lower().strip(), gold.lower().strip()
    return predicted in gold or gold in predicted


def exact_match(step: ControlStep, predicted: ControlAction, image_size: tuple[int, int]) -> bool:
    gold, kind = step.action, kind_of(step.action)
    if predicted.kind != kind:
        return False
    if kind in ("click", "long_press"):
        w, h = step.size or image_size
        px, py = predicted.point
        if step.target_box is not None:
            x1, y1, x2, y2 = step.target_box
            if x1 <= px * w <= x2 and y1 <= py * h <= y2:
                return True
        gold_yx = (float(gold["y"]) / h, float(gold["x"]) / w)
        return aitw.check_actions_match(  # AITW's tap rule with no boxes: the 0.14 distance
            (py, px), (py, px), aitw.ActionType.DUAL_POINT,
            gold_yx, gold_yx, aitw.ActionType.DUAL_POINT, [], TAP_DISTANCE_THRESHOLD,
        )
    if kind == "scroll":
        return predicted.direction == str(gold.get("direction", "")).lower()
    if kind == "input_text":
        return _contains(predicted.text, str(gold.get("text", "")))
    if kind == "open_app":
        return _contains(predicted.text, str(gold.get("app_name", "")))
    return True  # navigate_home, navigate_back, wait: the type is the whole action


def score_step(
    step: ControlStep, predicted: ControlAction, image_size: tuple[int, int], error: str | None = None
) -> dict[str, Any]:
    return {
        "episode_id": step.episode_id, "step_id": step.step_id,
        "gold": kind_of(step.action), "predicted": predicted.kind,
        "type_match": predicted.kind is not None and predicted.kind == kind_of(step.action),
        "exact_match": exact_match(step, predicted, image_size), "error": error,
    }


def score_output(step: ControlStep, text: str, screen: Screen, system: str) -> dict[str, Any]:
    """Score a model's raw output (its first `mobile_use` call) for one step."""
    action, error = aitw.predicted_action(text, screen, system)
    predicted = from_action(action, (aitw.GRID, aitw.GRID))
    if action is not None and predicted.kind is None:
        error = f"{action.type} has no AndroidControl equivalent"
    return score_step(step, predicted, screen.image_size, error)


def gold_arguments(step: ControlStep, screen: Screen, system: str) -> dict[str, Any] | None:
    """The gold action as `mobile_use` arguments (for the history and for scripted runs)."""
    a, kind = step.action, kind_of(step.action)
    w, h = step.size or screen.image_size
    if kind in ("click", "long_press"):
        point = aitw.model_point((float(a["x"]) / w, float(a["y"]) / h), screen, system)
        return {"action": "click" if kind == "click" else "long_press", "coordinate": point}
    if kind == "scroll":
        start, end = _SWIPES[str(a["direction"]).lower()]
        return {"action": "swipe", "coordinate": aitw.model_point(start, screen, system),
                "coordinate2": aitw.model_point(end, screen, system)}
    simple = {
        "input_text": {"action": "type", "text": a.get("text", "")},
        "open_app": {"action": "open", "text": a.get("app_name", "")},
        "navigate_home": {"action": "system_button", "button": "Home"},
        "navigate_back": {"action": "system_button", "button": "Back"},
        "wait": {"action": "wait", "time": 1},
    }
    return simple.get(kind)


def instruction(step: ControlStep, level: str = "high") -> str:
    if level == "low" and step.step_instruction:
        return f"{step.goal}\nThe next step: {step.step_instruction}"
    return step.goal


# -- loading ----------------------------------------------------------------------------------


def _object(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def _box(value: Any) -> tuple[float, float, float, float] | None:
    return tuple(float(v) for v in value) if value else None  # type: ignore[return-value]


def _episode_steps(record: dict[str, Any]) -> list[ControlStep]:
    actions = [_object(a) for a in record["actions"]]
    shots = record["screenshots"]
    widths, heights = record.get("screenshot_widths"), record.get("screenshot_heights")
    instructions = record.get("step_instructions") or [""] * len(actions)
    boxes = record.get("target_boxes") or [None] * len(actions)
    return [
        ControlStep(
            str(record["episode_id"]), i, record.get("goal", ""), instructions[i], shots[i], action,
            (int(widths[i]), int(heights[i])) if widths and heights else None, _box(boxes[i]),
        )
        for i, action in enumerate(actions)  # screenshot i is the screen before action i
    ]


def load_episodes(path: str | Path) -> list[list[ControlStep]]:
    grouped: dict[str, list[ControlStep]] = defaultdict(list)
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        record = json.loads(line)
        if "actions" in record:
            steps = _episode_steps(record)
        else:
            w, h = record.get("screenshot_width"), record.get("screenshot_height")
            steps = [ControlStep(
                str(record.get("episode_id", n)), int(record.get("step_id", n)), record.get("goal", ""),
                record.get("step_instruction", ""), record["image"], _object(record["action"]),
                (int(w), int(h)) if w and h else None, _box(record.get("target_box")),
            )]
        for step in steps:
            grouped[step.episode_id].append(step)
    return [sorted(steps, key=lambda s: s.step_id) for steps in grouped.values()]


# -- metrics ----------------------------------------------------------------------------------


def _rate(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Type and step accuracy overall and per gold kind; episode success (every step exact)."""
    episodes: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        episodes[r["episode_id"]].append(r["exact_match"])
    kinds = {}
    for kind in KINDS:
        of_kind = [r for r in rows if r["gold"] == kind]
        if of_kind:
            kinds[kind] = {
                "count": len(of_kind),
                "type_accuracy": _rate([r["type_match"] for r in of_kind]),
                "step_accuracy": _rate([r["exact_match"] for r in of_kind]),
            }
    return {
        "steps": len(rows),
        "type_accuracy": _rate([r["type_match"] for r in rows]),
        "step_accuracy": _rate([r["exact_match"] for r in rows]),
        "episode_success": _rate([all(e) for e in episodes.values()]),
        "invalid_outputs": sum(r["error"] is not None for r in rows),
        "kinds": kinds,
    }
