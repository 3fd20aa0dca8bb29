"""Replay a recorded run without the model; re-ground only the steps whose screen differs.

A trajectory (from `vlagent run`, a recorded `Session`, or a flow run with `--out`) holds, per
step, the screenshot the step was decided on and the actions it executed in device pixels. Replay
runs those actions again. Before a step that acts on a point (tap, long press, swipe), it compares
the current screen with the recorded one by perceptual hash: within tolerance the recorded pixels
are used; beyond it the step is re-grounded — by its recorded description when a `Session`
recorded one ("the Wi-Fi switch", through the grounding cache), else by showing the model a crop
of the recorded screen around the old point — or, without a model, replay stops with
`ReplayDiverged` naming the step. Keys, text and app launches are replayed as recorded.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from . import actions as A
from .errors import ReplayDiverged, UserError
from .grounding import SCREEN_TOLERANCE, screen_hash
from .session import Session
from .specs import connect
from .trajectory import Step, Trajectory, TrajectoryWriter

log = logging.getLogger("vlagent.replay")

__all__ = ["ReplayResult", "ReplayedStep", "replay", "replay_on"]


@dataclass
class ReplayedStep:
    index: int  # the recorded step's index
    outcome: str  # "replayed", "regrounded" or "skipped" (nothing to execute)
    actions: list[Any] = field(default_factory=list)  # what ran, in device pixels
    distance: float | None = None  # perceptual distance from the recorded screen (pointer steps)
    detail: str = ""


@dataclass
class ReplayResult:
    source: Path
    steps: list[ReplayedStep]
    model_calls: int
    seconds: float
    trajectory: Path | None = None

    @property
    def replayed(self) -> int:
        return sum(s.outcome == "replayed" for s in self.steps)

    @property
    def regrounded(self) -> int:
        return sum(s.outcome == "regrounded" for s in self.steps)

    def summary(self) -> str:
        return (f"{self.replayed} step(s) replayed as recorded, {self.regrounded} re-grounded, "
                f"{self.model_calls} model call(s), {self.seconds:.1f} s")


def replay(trajectory_dir: str | Path, device_spec: Any, model_spec: Any = None, out: str | Path | None = None,
           *, tolerance: float = SCREEN_TOLERANCE, cache: Any = True, settle_timeout: float = 2.0) -> ReplayResult:
    """Replay the run in `trajectory_dir` on `device_spec` (a spec string or a connected Device);
    `model_spec` (spec or Model) re-grounds steps whose screen differs. With `out`, the replay is
    recorded as a trajectory of its own."""
    source = Path(trajectory_dir)
    try:
        traj = Trajectory.load(source)
    except FileNotFoundError:
        raise UserError(f"no trajectory in {source} (expected {source / TrajectoryWriter.FILENAME})") from None
    except ValueError as e:
        raise UserError(f"{source} does not hold a readable trajectory: {str(e)[:300]}") from None
    folder = source if source.is_dir() else source.parent
    with connect(device_spec, model_spec, out=out, cache=cache, settle_timeout=settle_timeout,
                 name=f"replay of {traj.goal}") as session:
        result = replay_on(session, traj, folder, tolerance=tolerance)
        result.trajectory = session.trajectory_path
        return result


def replay_on(session: Session, traj: Trajectory, folder: Path, *, tolerance: float = SCREEN_TOLERANCE) -> ReplayResult:
    """Replay `traj` (screenshots in `folder`) on an open session."""
    started = time.perf_counter()
    calls_before = session.model_calls
    done: list[ReplayedStep] = []
    for step in traj.steps:
        actions = [a for a in step.actions if not isinstance(a, (A.Terminate, A.AskUser))]
        if not actions:
            done.append(ReplayedStep(step.index, "skipped", detail="no action recorded"))
            continue
        if not any(A.points_of(a) for a in actions):
            for action in actions:
                _execute(session, step, action)
            done.append(ReplayedStep(step.index, "replayed", actions))
            log.info("step %d: replayed %s", step.index, _describe(actions))
            continue
        frame = session.screenshot()
        distance = _distance(frame, folder, step)
        if distance <= tolerance:
            for action in actions:
                _execute(session, step, action)
            done.append(ReplayedStep(step.index, "replayed", actions, distance))
            log.info("step %d: screen matches the recording (%.0f%% apart) — replayed %s", step.index,
                     100 * distance, _describe(actions))
            continue
        log.info("step %d: screen differs from the recording (%.0f%% apart, tolerance %.0f%%) — re-grounding",
                 step.index, 100 * distance, 100 * tolerance)
        regrounded = [_reground(session, step, action, folder, frame, distance, tolerance) for action in actions]
        for action, arguments in regrounded:
            session.execute(action, name=_call_name(step), arguments=arguments)
        new = [a for a, _ in regrounded]
        done.append(ReplayedStep(step.index, "regrounded", new, distance,
                                 f"{_describe(actions)} -> {_describe(new)}"))
        log.info("step %d: re-grounded %s", step.index, done[-1].detail)
    result = ReplayResult(Path(folder), done, session.model_calls - calls_before, time.perf_counter() - started)
    log.info("replay of %s: %s", folder, result.summary())
    return result


def _execute(session: Session, step: Step, action: Any) -> None:
    arguments = step.calls[0].arguments if len(step.calls) == 1 and len(step.actions) == 1 else None
    session.execute(action, name=_call_name(step), arguments=arguments)


def _call_name(step: Step) -> str | None:
    return step.calls[0].name if len(step.calls) == 1 else None


def _distance(frame: Image.Image, folder: Path, step: Step) -> float:
    if not step.screenshot or not (folder / step.screenshot).exists():
        return 1.0  # nothing to compare with: treat as different, never guess
    with Image.open(folder / step.screenshot) as recorded:
        if recorded.size != frame.size:
            return 1.0
        return screen_hash(frame).distance(screen_hash(recorded.convert("RGB")))


def _reground(session: Session, step: Step, action: Any, folder: Path, frame: Image.Image,
              distance: float, tolerance: float) -> tuple[Any, dict[str, Any] | None]:
    """The action with its points found again on the current screen, and the call arguments to
    record; ReplayDiverged without a model to do it."""
    arguments = step.calls[0].arguments if len(step.calls) == 1 else {}
    try:
        if isinstance(action, (A.Tap, A.LongPress, A.Click)):
            target = arguments.get("target") if isinstance(arguments.get("target"), str) else None
            point = session.locate(target) if target else _locate_like(session, step, (action.x, action.y), folder)
            return action.model_copy(update={"x": point[0], "y": point[1]}), ({"target": target} if target else None)
        if isinstance(action, A.Swipe):
            ends = []
            for key, (x, y) in (("from", (action.x1, action.y1)), ("to", (action.x2, action.y2))):
                given = arguments.get(key)
                if isinstance(given, str):
                    ends.append(session.locate(given))
                else:  # a gesture, not an element: same place relative to the screen
                    ends.append(_rescale((x, y), step.device_size, session.device.size))
            (x1, y1), (x2, y2) = ends
            return action.model_copy(update={"x1": x1, "y1": y1, "x2": x2, "y2": y2}), None
        if isinstance(action, (A.Drag, A.Scroll, A.MouseMove)):
            return action, None  # desktop gestures: replayed as recorded
        return action, None
    except UserError as e:
        if "needs a model" not in str(e):
            raise
        where = (f"the recorded target {arguments['target']!r}" if isinstance(arguments.get("target"), str)
                 else f"the point {A.points_of(action)[0]}")
        path = session.log.save_failure(frame, f"replay_step{step.index}")
        raise ReplayDiverged(
            f"step {step.index} ({_describe([action])}): the screen differs from the recording "
            f"({100 * distance:.0f}% apart, tolerance {100 * tolerance:.0f}%) and there is no model to find "
            f"{where} again; pass a model (--model) to re-ground it, or start from the recorded screen "
            f"(current screen: {path}; recorded: {folder / (step.screenshot or '?')})", screenshot=path) from None


def _locate_like(session: Session, step: Step, point: tuple[int, int], folder: Path) -> tuple[int, int]:
    if session.model is None:
        raise UserError("re-grounding needs a model")
    if not step.screenshot or not (folder / step.screenshot).exists():
        raise UserError(f"step {step.index} has no recorded screenshot to re-ground from; needs a model and a screenshot")
    with Image.open(folder / step.screenshot) as recorded:
        recorded = recorded.convert("RGB")
    sx, sy = recorded.width / step.device_size[0], recorded.height / step.device_size[1]
    cx, cy = int(point[0] * sx), int(point[1] * sy)
    half = max(16, min(recorded.size) // 6)
    crop = recorded.crop((max(0, cx - half), max(0, cy - half), min(recorded.width, cx + half),
                          min(recorded.height, cy + half)))
    return session.locate_like(crop, _hint(step.model_output))


_MARKUP = re.compile(r"<tool_call>.*|✿FUNCTION✿.*|<\|.*", re.DOTALL)


def _hint(model_output: str) -> str:
    """The model's own words before its call, e.g. "The Wi-Fi switch is off; I will turn it on"."""
    text = " ".join(_MARKUP.sub("", model_output).split())
    return text[:200]


def _rescale(point: tuple[int, int], old: tuple[int, int], new: tuple[int, int]) -> tuple[int, int]:
    return (min(new[0] - 1, int(point[0] * new[0] / old[0])), min(new[1] - 1, int(point[1] * new[1] / old[1])))


def _describe(actions: list[Any]) -> str:
    parts = []
    for a in actions:
        fields = a.model_dump(exclude={"type"}, exclude_defaults=False)
        inner = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v is not None)
        parts.append(f"{a.type}({inner})")
    return "; ".join(parts)
