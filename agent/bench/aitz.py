"""Android in the Zoo (AITZ): type match and exact match per action kind, as its paper reports.

AITZ (Zhang et al., 2024, `IMNearth/CoAT`) re-annotates AITW episodes; each episode is a JSON
list of steps in `<subset>/<EPISODE>/<EPISODE>.json` with the AITW fields flattened:
`episode_id`, `step_id`, `instruction`, `image_path` (relative to the dataset root),
`result_action_type` (AITW ids), `result_touch_yx` / `result_lift_yx` (normalised y, x; JSON
strings), `result_action_text`, `ui_positions` ([y, x, h, w] boxes in image pixels; a JSON string).

Scoring follows `coat/evaluate.py` (its ActionEvaluator):
- five kinds, taken from the gold AITW action as `coat/action_utils.py` names them: CLICK,
  SCROLL (up/down/left/right: the way the *finger* moves, vertical when |dy| >= 0.9 |dx|), TYPE,
  PRESS (back/home/enter) and STOP (task complete or impossible);
- type match: the predicted kind equals the gold kind;
- exact match: CLICK -- see below; SCROLL -- same direction; TYPE -- either text contains the other
  or their Levenshtein ratio exceeds 0.8 (case kept, as there); PRESS -- same button; STOP -- always;
- per episode, success (every step exact) and goal progress (exact steps before the first miss,
  over the episode's length).

Where we differ: CoAT scores a predicted *box* and, by a slip, compares it with the point (0, 0)
for every click (its `_parse_answer_` fills the gold point for scrolls only). Our models predict a
point, so a click is exact by AITW's tap rule against the gold touch point -- within 0.14 of the
screen, or inside the same 1.4x-grown UI box -- the rule AITZ inherits from AITW for points.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import aitw
from .aitw import ActionType, AitwAction

KINDS = ("CLICK", "SCROLL", "TYPE", "PRESS", "STOP")
_PRESS = {ActionType.PRESS_BACK: "back", ActionType.PRESS_HOME: "home", ActionType.PRESS_ENTER: "enter"}


@dataclass(frozen=True)
class AitzStep:
    episode_id: str
    step_id: int
    instruction: str
    image: str  # image_path, relative to the dataset root
    action: AitwAction
    ui_positions: np.ndarray = field(compare=False, repr=False)  # (N, 4) y, x, h, w in pixels
    subset: str = ""


@dataclass(frozen=True)
class AitzAction:
    """An action in AITZ's terms: a kind and its one detail."""

    kind: str | None
    direction: str = ""  # SCROLL
    text: str = ""  # TYPE
    button: str = ""  # PRESS
    point_yx: tuple[float, float] | None = None  # CLICK, normalised


def scroll_direction(touch_yx: tuple[float, float], lift_yx: tuple[float, float]) -> str:
    """The direction the finger moved, by `coat/action_utils.py`'s rule: vertical unless the
    horizontal move is more than 1/0.9 times the vertical one."""
    dy, dx = lift_yx[0] - touch_yx[0], lift_yx[1] - touch_yx[1]
    if abs(dy) >= 0.9 * abs(dx):
        return "up" if dy < 0 else "down"
    return "left" if dx < 0 else "right"


def from_aitw(action: AitwAction | None) -> AitzAction:
    if action is None:
        return AitzAction(None)
    t = action.action_type
    if t == ActionType.DUAL_POINT:
        if aitw.is_tap_action(action.touch_yx, action.lift_yx):
            return AitzAction("CLICK", point_yx=action.touch_yx)
        return AitzAction("SCROLL", direction=scroll_direction(action.touch_yx, action.lift_yx))
    if t == ActionType.TYPE:
        return AitzAction("TYPE", text=action.typed_text)
    if t in _PRESS:
        return AitzAction("PRESS", button=_PRESS[t])
    if t in (ActionType.STATUS_TASK_COMPLETE, ActionType.STATUS_TASK_IMPOSSIBLE):
        return AitzAction("STOP")
    return AitzAction(None)


def levenshtein_ratio(a: str, b: str) -> float:
    """python-Levenshtein's `ratio`: 1 - indel distance / (len(a) + len(b)), i.e. 2 LCS / total."""
    if not a and not b:
        return 1.0
    previous = [0] * (len(b) + 1)  # longest common subsequence, one row at a time
    for ca in a:
        current = [0]
        for j, cb in enumerate(b):
            current.append(previous[j] + 1 if ca == cb else max(previous[j + 1], current[j]))
        previous = current
    return 2 * previous[-1] / (len(a) + len(b))


def _text_matches(predicted: str, gold: str) -> bool:
    # Note `"" in gold` is True: an empty prediction (or gold) matches, as in CoAT.
    return predicted in gold or gold in predicted or levenshtein_ratio(predicted, gold) > 0.8


def exact_match(step: AitzStep, predicted: AitzAction, image_size: tuple[int, int]) -> bool:
    gold = from_aitw(step.action)
    if predicted.kind is None or predicted.kind != gold.kind:
        return False
    if gold.kind == "CLICK":
        w, h = image_size
        boxes = step.ui_positions
        if boxes.size and boxes.max() > 1:  # pixels, as AITZ stores them
            boxes = boxes / np.array([h, w, h, w], dtype=np.float64)
        return aitw.check_actions_match(
            predicted.point_yx, predicted.point_yx, ActionType.DUAL_POINT,
            step.action.touch_yx, step.action.lift_yx, ActionType.DUAL_POINT, boxes,
        )
    if gold.kind == "SCROLL":
        return predicted.direction == gold.direction
    if gold.kind == "TYPE":
        return _text_matches(predicted.text, gold.text)
    if gold.kind == "PRESS":
        return predicted.button == gold.button
    return True  # STOP


def score_step(
    step: AitzStep, predicted: AitzAction, image_size: tuple[int, int], error: str | None = None
) -> dict[str, Any]:
    gold = from_aitw(step.action)
    return {
        "episode_id": step.episode_id, "step_id": step.step_id, "subset": step.subset,
        "gold": gold.kind, "predicted": predicted.kind,
        "type_match": predicted.kind is not None and predicted.kind == gold.kind,
        "exact_match": exact_match(step, predicted, image_size),
        "text_ratio": levenshtein_ratio(predicted.text, gold.text)
        if gold.kind == "TYPE" and predicted.kind == "TYPE" else None,
        "error": error,
    }


def score_output(step: AitzStep, text: str, screen: aitw.Screen, system: str) -> dict[str, Any]:
    """Score a model's raw output (its first `mobile_use` call) for one step."""
    action, error = aitw.predicted_action(text, screen, system)
    converted = aitw.from_action(action, (aitw.GRID, aitw.GRID)) if action is not None else None
    if action is not None and converted is None:
        error = f"{action.type} has no AITZ equivalent"
    return score_step(step, from_aitw(converted), screen.image_size, error)


def gold_arguments(step: AitzStep, screen: aitw.Screen, system: str) -> dict[str, Any] | None:
    return aitw.to_arguments(step.action, screen, system)


def instruction(step: AitzStep) -> str:
    return step.instruction


# -- loading ----------------------------------------------------------------------------------


def _field(record: dict[str, Any], key: str, default: Any) -> Any:
    value = record.get(key, default)
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def _step(record: dict[str, Any]) -> AitzStep:
    touch = _field(record, "result_touch_yx", [-1.0, -1.0])
    lift = _field(record, "result_lift_yx", [-1.0, -1.0])
    action = AitwAction(
        int(record["result_action_type"]), (float(touch[0]), float(touch[1])),
        (float(lift[0]), float(lift[1])), record.get("result_action_text") or "",
    )
    image = record.get("image_path") or record.get("image_full_path", "")
    positions = np.asarray(_field(record, "ui_positions", []), dtype=np.float64).reshape(-1, 4)
    subset = record.get("subset") or (image.split("/")[0] if "/" in image else "")
    return AitzStep(
        str(record.get("episode_id", "")), int(record.get("step_id", 0)),
        record.get("instruction", ""), image, action, positions, subset,
    )


def load_episodes(path: str | Path) -> list[list[AitzStep]]:
    """Episodes from one AITZ episode file, or every `*.json` under a folder (the dataset's tree)."""
    path = Path(path)
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    episodes = []
    for file in files:
        data = json.loads(file.read_text(encoding="utf-8"))
        if data and isinstance(data[0], dict):
            data = [data]  # one episode per file, as AITZ ships it
        episodes += [sorted((_step(r) for r in episode), key=lambda s: s.step_id) for episode in data]
    return episodes


# -- metrics ----------------------------------------------------------------------------------


def _rate(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`compute_atomic_metrics` and `compute_episode_metrics` of CoAT's evaluator."""
    out: dict[str, Any] = {
        "steps": len(rows),
        "type_accuracy": _rate([r["type_match"] for r in rows]),
        "exact_accuracy": _rate([r["exact_match"] for r in rows]),
        "invalid_outputs": sum(r["error"] is not None for r in rows),
        "kinds": {},
    }
    for kind in KINDS:
        of_kind = [r for r in rows if r["gold"] == kind]
        if of_kind:
            entry = {
                "count": len(of_kind),
                "type_accuracy": _rate([r["type_match"] for r in of_kind]),
                "exact_accuracy": _rate([r["exact_match"] for r in of_kind]),
            }
            ratios = [r["text_ratio"] for r in of_kind if r["text_ratio"] is not None]
            if ratios:
                entry["text_ratio"] = round(sum(ratios) / len(ratios), 4)
            out["kinds"][kind] = entry
    episodes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        episodes[r["episode_id"]].append(r)
    success, progress = [], []
    for steps in episodes.values():
        steps = sorted(steps, key=lambda r: r["step_id"])
        done = next((i for i, r in enumerate(steps) if not r["exact_match"]), len(steps))
        success.append(done == len(steps))
        progress.append(done / len(steps))
    out["success_rate"] = _rate(success)
    out["goal_progress"] = round(sum(progress) / len(progress), 4) if progress else None
    return out
