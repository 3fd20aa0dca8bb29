"""What a `Session` keeps of its steps: events (always), a trajectory (when it records to a
folder, so `vlagent.replay` can replay it) and the screenshot of each step that failed."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from . import actions as A
from .call_records import CallRecord, ResultRecord
from .errors import ScriptError
from .trajectory import Step, Trajectory, TrajectoryWriter


@dataclass
class Event:
    """One step of a session, for logs and results: what ran, whether the model was asked."""

    kind: str
    detail: str
    seconds: float
    model_calls: int = 0
    cached: bool = False
    result: Any = None


class SessionLog:
    """A session's events, its trajectory in `out` (None: events only) and its failure screenshots."""

    def __init__(self, out: Path | None, *, name: str, model: Any, device: Any) -> None:
        self.out = out
        self.events: list[Event] = []
        self._failures: Path | None = None
        self._writer: TrajectoryWriter | None = None
        if out is not None:
            system = getattr(model, "coordinate_system", "relative-1000")
            traj = Trajectory(goal=name, model=_describe(model), device=_describe(device), coordinate_system=system)
            self._writer = TrajectoryWriter(out, traj)
            self._writer.write()

    @property
    def recording(self) -> bool:
        """Whether steps go into a trajectory (and so need their screenshot)."""
        return self._writer is not None

    @property
    def path(self) -> Path | None:
        return self._writer.path if self._writer else None

    @property
    def steps(self) -> list[Step]:
        return self._writer.trajectory.steps if self._writer else []

    def event(self, kind: str, detail: str, started: float, calls: int = 0, cached: bool = False,
              result: Any = None) -> None:
        self.events.append(Event(kind, detail, time.perf_counter() - started, calls, cached, result))

    def record(self, name: str, arguments: dict[str, Any], frame: Image.Image | None, actions: list[A._Action],
               text: str, *, result: str, started: float, device_size: tuple[int, int], is_error: bool = False) -> None:
        """One step in the trajectory: the screen before it, what was done and how it went."""
        if self._writer is None or frame is None:
            return
        index = len(self._writer.trajectory.steps)
        step = Step(
            index=index, started_at=time.time() - (time.perf_counter() - started),
            screenshot=self._writer.save_screenshot(index, frame), screenshot_size=frame.size,
            device_size=device_size, model_output=text,
            calls=[CallRecord(name=name, arguments=arguments)], actions=list(actions),
            results=[ResultRecord(name=name, content=result, is_error=is_error)],
            errors=[result] if is_error else [], timings={"total": time.perf_counter() - started},
        )
        self._writer.trajectory.steps.append(step)
        self._writer.write()

    def adopt(self, traj: Trajectory, sub: Path) -> None:
        """Copy an Agent run's steps (and screenshots) into this session's trajectory."""
        if self._writer is None:
            return
        for step in traj.steps:
            index = len(self._writer.trajectory.steps)
            copy = step.model_copy(update={"index": index})
            if step.screenshot and (sub / step.screenshot).exists():
                name = f"step_{index:03d}.png"
                shutil.copyfile(sub / step.screenshot, self._writer.dir / name)
                copy = copy.model_copy(update={"screenshot": name})
            self._writer.trajectory.steps.append(copy)
        self._writer.write()

    def failure(self, error: type[ScriptError], frame: Image.Image, kind: str, message: str) -> ScriptError:
        """`error` with `frame` saved, its path at the end of `message`."""
        path = self.save_failure(frame, kind)
        return error(f"{message} (screenshot: {path})", screenshot=path)

    def save_failure(self, frame: Image.Image, kind: str) -> Path:
        """Save the screen a step failed on, in `out`/failures (or a temporary folder)."""
        if self._failures is None:
            self._failures = (self.out / "failures") if self.out else Path(tempfile.mkdtemp(prefix="vlagent-failures-"))
            self._failures.mkdir(parents=True, exist_ok=True)
        path = self._failures / f"{len(self.events):03d}_{kind}.png"
        frame.save(path, compress_level=1)
        return path

    def close(self, exc_type: type[BaseException] | None = None, exc: BaseException | None = None) -> None:
        """End the trajectory: `success`, or how the exception that ended the session ended it."""
        if self._writer is None:
            return
        traj = self._writer.trajectory
        if exc is not None:
            traj.error = f"{type(exc).__name__}: {exc}"
            traj.status = "interrupted" if exc_type is KeyboardInterrupt else "error"
        elif traj.status == "running":
            traj.status = "success"
        self._writer.write()


def _describe(obj: Any) -> str:
    if obj is None:
        return "none"
    return getattr(obj, "description", None) or type(obj).__name__
