"""What one agent run keeps between its steps, how it ends, and the record-keeping every stage shares."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NamedTuple

from PIL import Image

from .call_records import ResultRecord
from .conversation import Conversation
from .guards import RepeatDetector
from .screen_risks import GuardContext
from .secret_masks import SecretMasks
from .trajectory import Step, Trajectory, TrajectoryWriter

if TYPE_CHECKING:
    from .video import Video


class RunEnded(Exception):
    """The run is over: `status` (and the model's `answer`) go into the trajectory."""

    def __init__(self, status: str, answer: str | None = None) -> None:
        super().__init__(status)
        self.status, self.answer = status, answer


class Prepared(NamedTuple):
    seen: Image.Image | None  # the frame at the model's size; None when the frame is black
    fingerprint: bytes


@dataclass
class RunState:
    """What one run keeps between its steps."""

    traj: Trajectory
    writer: TrajectoryWriter
    conversation: Conversation
    guard_context: GuardContext  # the policy's memory of this run
    masks: SecretMasks  # every capture from here on hides typed secrets
    # One worker prepares each settled frame (resize, fingerprint) while settle still waits.
    preparer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="vlagent-prepare"))
    repeats: RepeatDetector = field(default_factory=RepeatDetector)
    started: float = field(default_factory=time.monotonic)
    observed: tuple[Image.Image, "Future[Prepared] | None"] | None = None  # the settled frame, prepared
    inflight: Step | None = None  # the step whose model reply is being carried out
    transition: Video | None = None  # the last action's frames, for RunConfig.show_transitions
    tokens: int = 0
    errors_in_a_row: int = 0


@dataclass(frozen=True)
class RunResult:
    status: str
    answer: str | None
    steps: int
    trajectory_path: Path | None


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the block's wall time to `timings[stage]`."""
    t = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t


def fail(step: Step, name: str, message: str) -> None:
    """Record an error the model is told about, as the result of `name`."""
    step.errors.append(message)
    step.results.append(ResultRecord(name=name, content=f"Error: {message}", is_error=True))


def append_once(traj: Trajectory, step: Step) -> None:
    """Put `step` in the trajectory once: the write-ahead, the step's end and an interrupted
    step each record it, whichever comes first."""
    if not traj.steps or traj.steps[-1] is not step:
        traj.steps.append(step)
