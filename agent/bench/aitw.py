"""Android in the Wild (AITW): the paper's action matching, and scoring a model over its test set.

`check_actions_match` gives the same results as `android_in_the_wild/action_matching.py` in
google-research (Rawles et al., 2023), written in NumPy instead of JAX. Two taps match when both
fall in the same annotation box (boxes grown by 1.4x their size, clamped oddly, as there) or lie
within 0.14 of the screen of each other; two swipes match when they move along the same main axis
(vertical or horizontal: an up swipe matches a down swipe, as the README says); any other pair
matches when the action types are equal, so typed text is never compared there.

The reference runs in float32 (JAX's default), which decides points that sit exactly on a
threshold, so we compute in float32 too. The one place we differ: a screen with no annotations,
where the reference raises (`max` of an empty array) and we fall back to the distance test.

The original data is TFRecord. `load_episodes` reads the two JSON exports people evaluate with:
- SeeClick's `aitw_data_{train,val,test}.json`: {"general": [[step, ...], ...], "single": ...};
  a step has `ep_id`, `step`, `goal`, `img_filename` (no extension), `action_type_id`,
  `touch` and `lift` as [x, y] (note: x first), `type_text`, `annot_position` (flat y, x, h, w);
- JSON lines with the TFRecord feature names, one step per line: `episode_id`, `step_id`,
  `goal_info`, `image` (a path), `results/action_type`, `results/yx_touch`, `results/yx_lift`,
  `results/type_action`, `image/ui_annotations_positions` (flat y, x, h, w), optional `subset`.
"""

from __future__ import annotations

import enum
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .. import actions as A
from ..coords import Screen
from ..errors import RecoverableError
from ..parsing import parse_tool_calls
from ..ui_tools import to_action

TAP_DISTANCE_THRESHOLD = 0.14  # fraction of the screen
ANNOTATION_WIDTH_AUGMENT_FRACTION = 1.4
ANNOTATION_HEIGHT_AUGMENT_FRACTION = 1.4
SWIPE_DISTANCE_THRESHOLD = 0.04  # a dual-point gesture shorter than this is a tap

# Model points become device pixels in a virtual 0..GRID pointer space, so a prediction keeps six
# decimals of the screen fraction instead of being rounded to a real screen's pixels.
GRID = 1_000_000


class ActionType(enum.IntEnum):
    """Action type ids as stored in the dataset (`results/action_type`)."""

    UNUSED_0 = 0
    UNUSED_1 = 1
    UNUSED_2 = 2
    TYPE = 3
    DUAL_POINT = 4
    PRESS_BACK = 5
    PRESS_HOME = 6
    PRESS_ENTER = 7
    UNUSED_8 = 8
    UNUSED_9 = 9
    STATUS_TASK_COMPLETE = 10
    STATUS_TASK_IMPOSSIBLE = 11


# -- the reference matcher ----------------------------------------------------------------------


def _f32(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _norm(vector: np.ndarray) -> np.float32:
    # sqrt(sum(x * x)) step by step in float32, as jnp.linalg.norm does; np.linalg.norm may fuse.
    return np.sqrt(np.sum(vector * vector, dtype=np.float32))


def is_tap_action(normalized_start_yx: Any, normalized_end_yx: Any) -> bool:
    distance = _norm(_f32(normalized_start_yx) - _f32(normalized_end_yx))
    return bool(distance <= np.float32(SWIPE_DISTANCE_THRESHOLD))


def _augmented_boxes(positions: Any, width_fraction: float, height_fraction: float) -> np.ndarray:
    """Boxes (top, left, height, width) grown by the fractions, as float32.

    Like the reference, the growth is computed in the input's own precision (float64 for lists
    and most NumPy arrays), the top-left is clamped at 0 *without* shrinking the box, and the size
    (not the far edge) is capped at 1.
    """
    pos = np.asarray(positions)
    if pos.size == 0:
        return np.zeros((0, 4), np.float32)
    pos = pos.reshape(-1, 4)
    grow_h = height_fraction * pos[:, 2]
    grow_w = width_fraction * pos[:, 3]
    return np.stack(
        [
            np.maximum(np.float32(0), _f32(pos[:, 0] - grow_h / 2)),
            np.maximum(np.float32(0), _f32(pos[:, 1] - grow_w / 2)),
            np.minimum(np.float32(1), _f32(pos[:, 2] + grow_h)),
            np.minimum(np.float32(1), _f32(pos[:, 3] + grow_w)),
        ],
        axis=1,
    )


def _inside(yx: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    top, left, height, width = boxes.T
    y, x = yx
    return (y >= top) & (y <= top + height) & (x >= left) & (x <= left + width)  # edges count


def check_actions_match(
    action_1_touch_yx: Any,
    action_1_lift_yx: Any,
    action_1_action_type: int,
    action_2_touch_yx: Any,
    action_2_lift_yx: Any,
    action_2_action_type: int,
    annotation_positions: Any,
    tap_distance_threshold: float = TAP_DISTANCE_THRESHOLD,
    annotation_width_augment_fraction: float = ANNOTATION_WIDTH_AUGMENT_FRACTION,
    annotation_height_augment_fraction: float = ANNOTATION_HEIGHT_AUGMENT_FRACTION,
) -> bool:
    """Whether two actions would lead to the same screen, by AITW's action matching.

    Points are normalised (y, x); `annotation_positions` is an (N, 4) array -- or a flat one -- of
    normalised (y_top, x_left, height, width) boxes of the screen's UI elements.
    """
    type_1, type_2 = int(action_1_action_type), int(action_2_action_type)
    if type_1 != ActionType.DUAL_POINT or type_2 != ActionType.DUAL_POINT:
        return type_1 == type_2
    touch_1, lift_1 = _f32(action_1_touch_yx), _f32(action_1_lift_yx)
    touch_2, lift_2 = _f32(action_2_touch_yx), _f32(action_2_lift_yx)
    tap_1, tap_2 = is_tap_action(touch_1, lift_1), is_tap_action(touch_2, lift_2)
    if tap_1 != tap_2:
        return False
    if not tap_1:  # two swipes: same main axis; ties go to y, as np.argmax picks the first
        return int(np.argmax(np.abs(lift_1 - touch_1))) == int(np.argmax(np.abs(lift_2 - touch_2)))
    boxes = _augmented_boxes(
        annotation_positions, annotation_width_augment_fraction, annotation_height_augment_fraction
    )
    if np.any(_inside(touch_1, boxes) & _inside(touch_2, boxes)):  # the *same* box holds both
        return True
    return bool(_norm(touch_1 - touch_2) <= np.float32(tap_distance_threshold))


# -- dataset steps and our actions ------------------------------------------------------------


@dataclass(frozen=True)
class AitwAction:
    action_type: int
    touch_yx: tuple[float, float] = (-1.0, -1.0)
    lift_yx: tuple[float, float] = (-1.0, -1.0)
    typed_text: str = ""

    @property
    def kind(self) -> str:
        """click / scroll / type / press_back / ... : the label the per-kind metrics use."""
        if self.action_type == ActionType.DUAL_POINT:
            return "click" if is_tap_action(self.touch_yx, self.lift_yx) else "scroll"
        if self.action_type in iter(ActionType):
            return ActionType(self.action_type).name.lower()
        return str(self.action_type)


@dataclass(frozen=True)
class AitwStep:
    episode_id: str
    step_id: int
    goal: str
    image: str  # as written in the file, relative to the images folder
    action: AitwAction
    annotations: np.ndarray = field(compare=False, repr=False)  # (N, 4) normalised y, x, h, w
    subset: str = ""


_BUTTONS = {"back": ActionType.PRESS_BACK, "home": ActionType.PRESS_HOME, "enter": ActionType.PRESS_ENTER}


def from_action(action: A._Action, device_size: tuple[int, int]) -> AitwAction | None:
    """A device action as AITW's (type, touch_yx, lift_yx, text); None if AITW has no such action.

    Long presses are taps (AITW records a press as one dual point); opening an app, waiting and
    asking the user have no AITW counterpart.
    """
    w, h = device_size

    def yx(x: float, y: float) -> tuple[float, float]:
        return (y / h, x / w)

    match action:
        case A.Tap(x=x, y=y) | A.LongPress(x=x, y=y) | A.Click(x=int() as x, y=int() as y):
            return AitwAction(ActionType.DUAL_POINT, yx(x, y), yx(x, y))
        case A.Swipe(x1=x1, y1=y1, x2=x2, y2=y2):
            return AitwAction(ActionType.DUAL_POINT, yx(x1, y1), yx(x2, y2))
        case A.TypeText(text=text):
            return AitwAction(ActionType.TYPE, typed_text=text)
        case A.SystemButton(button=button) if button in _BUTTONS:
            return AitwAction(_BUTTONS[button])
        case A.Key(keys=(key,)) if key.lower() in _BUTTONS:
            return AitwAction(_BUTTONS[key.lower()])
        case A.Terminate(status=status):
            done = status == "success"
            return AitwAction(ActionType.STATUS_TASK_COMPLETE if done else ActionType.STATUS_TASK_IMPOSSIBLE)
    return None


def predicted_action(
    text: str, screen: Screen, system: str, tool: str = "mobile_use"
) -> tuple[A._Action | None, str | None]:
    """The first `tool` call in a model's output as an Action in a 0..GRID pointer space.

    Returns (action, None), or (None, why) when there is no readable, valid call: such a step
    counts as a miss, as the reference scripts count their "wrong format" steps.
    """
    try:
        calls = [c for c in parse_tool_calls(text) if c.name == tool]
        if not calls:
            return None, f"no {tool} call"
        grid = Screen(image_size=screen.image_size, device_size=(GRID, GRID), model_size=screen.model_size)
        return to_action(tool, calls[0].arguments, grid, system), None
    except RecoverableError as e:
        return None, str(e)


def model_point(fraction_xy: tuple[float, float], screen: Screen, system: str) -> list[int]:
    """A screen fraction (x, y) in the model's units, rounded as a model would write it."""
    ext_x, ext_y = screen.model_extent(system)
    return [round(fraction_xy[0] * ext_x), round(fraction_xy[1] * ext_y)]


def to_arguments(action: AitwAction, screen: Screen, system: str) -> dict[str, Any] | None:
    """An AITW action as `mobile_use` arguments: the gold history shown to the model, and what a
    perfect model would answer (scripted runs check that it scores 100%)."""
    t = action.action_type
    if t == ActionType.DUAL_POINT:
        touch = model_point(action.touch_yx[::-1], screen, system)
        if is_tap_action(action.touch_yx, action.lift_yx):
            return {"action": "click", "coordinate": touch}
        lift = model_point(action.lift_yx[::-1], screen, system)
        return {"action": "swipe", "coordinate": touch, "coordinate2": lift}
    if t == ActionType.TYPE:
        return {"action": "type", "text": action.typed_text}
    buttons = {ActionType.PRESS_BACK: "Back", ActionType.PRESS_HOME: "Home", ActionType.PRESS_ENTER: "Enter"}
    if t in buttons:
        return {"action": "system_button", "button": buttons[t]}
    if t in (ActionType.STATUS_TASK_COMPLETE, ActionType.STATUS_TASK_IMPOSSIBLE):
        return {"action": "terminate", "status": "success" if t == ActionType.STATUS_TASK_COMPLETE else "failure"}
    return None


# -- loading ----------------------------------------------------------------------------------


def _maybe_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def _step(record: dict[str, Any], subset: str = "") -> AitwStep:
    if "action_type_id" in record:  # SeeClick's export: points are [x, y]
        touch, lift = record.get("touch", [-1.0, -1.0]), record.get("lift", [-1.0, -1.0])
        action = AitwAction(
            int(record["action_type_id"]), (float(touch[1]), float(touch[0])),
            (float(lift[1]), float(lift[0])), record.get("type_text") or "",
        )
        episode, step_id = record.get("ep_id", ""), record.get("step", 0)
        goal, image = record.get("goal", ""), record["img_filename"]
        image = image if Path(image).suffix else image + ".png"
        positions = record.get("annot_position", [])
    else:  # TFRecord feature names, as dumped to JSON lines
        touch = _maybe_json(record.get("results/yx_touch", [-1.0, -1.0]))
        lift = _maybe_json(record.get("results/yx_lift", [-1.0, -1.0]))
        action = AitwAction(
            int(record["results/action_type"]), (float(touch[0]), float(touch[1])),
            (float(lift[0]), float(lift[1])), record.get("results/type_action") or "",
        )
        episode, step_id = record.get("episode_id", ""), record.get("step_id", 0)
        goal, image = record.get("goal_info", ""), record.get("image") or record.get("image/path", "")
        positions = _maybe_json(record.get("image/ui_annotations_positions", []))
    annotations = np.asarray(positions, dtype=np.float64).reshape(-1, 4)
    return AitwStep(str(episode), int(step_id), goal, image, action, annotations, record.get("subset", subset))


def load_episodes(path: str | Path) -> list[list[AitwStep]]:
    """Episodes (lists of steps, in step order) from either JSON export described above."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        grouped: dict[str, list[AitwStep]] = defaultdict(list)
        for line in text.splitlines():
            if line.strip():
                step = _step(json.loads(line))
                grouped[step.episode_id].append(step)
        return [sorted(steps, key=lambda s: s.step_id) for steps in grouped.values()]
    data = json.loads(text)
    subsets: Iterable[tuple[str, Any]] = data.items() if isinstance(data, dict) else [("", data)]
    return [[_step(r, subset) for r in episode] for subset, episodes in subsets for episode in episodes]


# -- scoring ----------------------------------------------------------------------------------


def _text_matches(predicted: str, gold: str) -> bool:
    # Auto-UI's and SeeClick's rule: lower-cased (and the prediction stripped), either contains
    # the other -- so "pizza" matches "Pizza Hut".
    predicted, gold = predicted.lower().strip(), gold.lower()
    return predicted in gold or gold in predicted


def score_step(step: AitwStep, predicted: AitwAction | None, error: str | None = None) -> dict[str, Any]:
    gold = step.action
    match = type_match = False
    if predicted is not None:
        type_match = predicted.action_type == gold.action_type
        match = check_actions_match(
            predicted.touch_yx, predicted.lift_yx, predicted.action_type,
            gold.touch_yx, gold.lift_yx, gold.action_type, step.annotations,
        )
    text_match = None
    if gold.action_type == ActionType.TYPE:
        text_match = bool(match and _text_matches(predicted.typed_text, gold.typed_text))
    return {
        "episode_id": step.episode_id, "step_id": step.step_id, "subset": step.subset,
        "gold": gold.kind, "predicted": predicted.kind if predicted else None,
        "match": match, "type_match": type_match, "text_match": text_match, "error": error,
    }


def score_output(step: AitwStep, text: str, screen: Screen, system: str) -> dict[str, Any]:
    """Score a model's raw output for one step (its first `mobile_use` call)."""
    action, error = predicted_action(text, screen, system)
    predicted = from_action(action, (GRID, GRID)) if action is not None else None
    if action is not None and predicted is None:
        error = f"{action.type} has no AITW equivalent"
    return score_step(step, predicted, error)


def gold_arguments(step: AitwStep, screen: Screen, system: str) -> dict[str, Any] | None:
    return to_arguments(step.action, screen, system)


def instruction(step: AitwStep) -> str:
    return step.goal


def _rate(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def _metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    episodes: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        episodes[r["episode_id"]].append(r["match"])
    return {
        "steps": len(rows),
        "action_matching": _rate([r["match"] for r in rows]),  # the paper's partial match
        "complete_match": _rate([all(e) for e in episodes.values()]),  # every step of an episode
        "type_accuracy": _rate([r["type_match"] for r in rows]),
        "text_accuracy": _rate([r["text_match"] for r in rows if r["text_match"] is not None]),
        "click_accuracy": _rate([r["match"] for r in rows if r["gold"] == "click"]),
        "scroll_accuracy": _rate([r["match"] for r in rows if r["gold"] == "scroll"]),
        "invalid_outputs": sum(r["error"] is not None for r in rows),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-subset metrics; `average` is the mean over subsets, as papers report."""
    subsets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        subsets[r["subset"]].append(r)
    out = _metrics(rows)
    if len(subsets) > 1 or "" not in subsets:
        out["subsets"] = {name: _metrics(rs) for name, rs in subsets.items()}
        rates = [sum(r["match"] for r in rs) / len(rs) for rs in subsets.values()]
        out["average"] = round(sum(rates) / len(rates), 4)
    return out
