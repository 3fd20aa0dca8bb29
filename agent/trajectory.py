"""Trajectories: one versioned JSON file per run, rewritten atomically after every step.

`trajectory.json` holds everything needed to audit, resume or replay a run without the model:
the raw model text, the parsed calls, each executed action in device pixels, tool results,
errors and per-stage timings. Screenshots sit beside it as PNG files. No pickle, ever.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticSerializationError

from .actions import Action
from .run_config import RunConfig
from .atomic import write_atomic
from .errors import UserError
from .parsing import valid_value

SCHEMA_VERSION = 1
RunStatus = Literal[
    "running", "success", "failure", "ask_user", "max_steps", "timeout", "max_tokens", "stuck",
    "too_many_errors", "error", "interrupted",
]

# Validators are built on a model's first use, not at import: `from vlagent import Agent` stays
# cheap (issue #20, cold start); the first step builds them.
_DEFERRED = ConfigDict(defer_build=True)


class CallRecord(BaseModel):
    model_config = _DEFERRED

    name: str
    arguments: dict[str, Any]


class ResultRecord(BaseModel):
    model_config = _DEFERRED

    name: str
    content: str
    is_error: bool = False


class Step(BaseModel):
    model_config = _DEFERRED

    index: int
    started_at: float = Field(description="Unix time the step began")
    screenshot: str | None = Field(None, description="PNG file beside trajectory.json")
    screenshot_size: tuple[int, int]
    device_size: tuple[int, int]
    model_size: tuple[int, int] | None = Field(None, description="Size of the image the model saw")
    model_output: str = ""
    calls: list[CallRecord] = []
    actions: list[Action] = Field([], description=(
        "Actions sent to the device, in device pixels (in a step cut short, the last may not have "
        "happened: its result says so)"))
    results: list[ResultRecord] = []
    errors: list[str] = Field([], description="Recoverable errors fed back to the model")
    acting: bool = Field(False, description=(
        "Written before the step's calls are carried out and cleared after: true in a file means "
        "the process stopped mid-step, and its actions may or may not have happened"))
    acted: bool = Field(False, description=(
        "Set when the action or tool call announced by the latest write-ahead has returned, and "
        "written then (without waiting for the disk): with `acting`, it says that call happened"))
    timings: dict[str, float] = Field({}, description="Seconds per stage")
    usage: dict[str, int] = {}


class Trajectory(BaseModel):
    model_config = _DEFERRED

    schema_version: Literal[1] = SCHEMA_VERSION
    goal: str
    model: str
    device: str
    coordinate_system: str
    config: RunConfig | None = Field(None, description=(
        "How the run was set up (budgets, images per step, ...): a resume goes on with it"))
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    status: RunStatus = "running"
    answer: str | None = None
    error: str | None = None
    steps: list[Step] = []

    @classmethod
    def load(cls, path: str | Path) -> "Trajectory":
        path = Path(path)
        if path.is_dir():
            path = path / TrajectoryWriter.FILENAME
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


def trajectory_schema() -> dict[str, Any]:
    """JSON Schema of trajectory.json, for validating files written by any version."""
    return Trajectory.model_json_schema()


MIN_FREE_BYTES = 64 * 10**6  # a few dozen steps' screenshots


def prepare_run_dir(path: str | Path, *, overwrite: bool = False) -> None:
    """Check, before a run starts, that `path` can take a new run; raise a UserError saying what
    to do otherwise. A new or empty directory is fine; one holding a run is refused unless
    `overwrite` (the old run is then deleted); anything else is never touched."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} is a file; give a directory, new or empty")
    existing = next(iter(path.iterdir()), None) if path.is_dir() else None
    if existing is not None:
        record = path / TrajectoryWriter.FILENAME
        if not record.is_file():
            raise UserError(f"--out {path} is not empty and holds no run ({existing.name} and more); "
                            "choose a new or empty directory")
        if not overwrite:
            raise UserError(f"--out {path} already holds a run; continue it with --resume {path}, "
                            "replace it with --overwrite, or choose another directory")
        shutil.rmtree(path)
    parent = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {path}: {parent} is not writable; choose a directory you can write to")
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise UserError(f"--out {path}: only {free / 1e6:.1f} MB free there, and a run writes a screenshot "
                        f"(1-2 MB) every step; free {MIN_FREE_BYTES // 10**6} MB or more, or choose another disk")


class TrajectoryWriter:
    """Owns a run directory: writes screenshots and rewrites trajectory.json atomically.

    With `background=True` the PNG encoding and the file writes run on one worker thread, in
    submission order, so the loop does not wait for zlib or fsync (~45 ms a step for a
    1080x2400 frame on two cores); the JSON text is still made on the caller's thread, from the
    trajectory as it is at that moment. Order keeps the files consistent: a trajectory.json on
    disk never names a screenshot that is not there yet. A write that fails is raised by the next
    call or by `flush()`/`close()`, which the owner calls before it returns.
    """

    FILENAME = "trajectory.json"

    def __init__(self, out_dir: str | Path, trajectory: Trajectory, *, background: bool = False):
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.trajectory = trajectory
        self.path = self.dir / self.FILENAME
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="vlagent-record") if background else None
        self._pending: list[Future] = []

    def save_screenshot(self, index: int, image: Image.Image) -> str:
        name = f"step_{index:03d}.png"
        image.load()  # a lazily decoded image would load itself on the worker while others read it
        # compress_level=1: a 1080x2400 frame in tens of ms instead of hundreds, files ~1.5x larger.
        self._submit(image.save, self.dir / name, format="PNG", compress_level=1)
        return name

    def write(self) -> None:
        """Replace trajectory.json so a reader never sees a half-written file, even on a crash."""
        self.trajectory.updated_at = time.time()
        try:
            text = self.trajectory.model_dump_json(indent=1)
        except PydanticSerializationError:  # a lone surrogate that came in by another door
            text = json.dumps(valid_value(self.trajectory.model_dump(mode="json")), ensure_ascii=False, indent=1)
        self._submit(write_atomic, self.path, text, durable=True)

    def remove_orphans(self, steps: int) -> None:
        """Delete what a run killed mid-write leaves: screenshots of steps the record does not
        hold (index >= `steps`) and half-written temp files of trajectory.json."""
        for path in self.dir.glob("step_*.png"):
            if path.stem[5:].isdigit() and int(path.stem[5:]) >= steps:
                path.unlink(missing_ok=True)
        for path in self.dir.glob(f".{self.FILENAME}.*.tmp"):
            path.unlink(missing_ok=True)

    def flush(self) -> None:
        """Wait for every queued write; raise the first that failed."""
        pending, self._pending = self._pending, []
        for future in pending:
            self._result(future)

    def _result(self, future: Future) -> None:
        try:
            future.result()
        except OSError as e:
            raise self._unwritable(e) from None

    def _unwritable(self, e: OSError) -> UserError:
        """A full disk, a directory removed under the run: the user's to fix, said in one line."""
        if e.errno == errno.ENOSPC:
            fix = "the disk is full; free space there or choose another --out"
        else:
            fix = f"{e.strerror or e}; check that directory or choose another --out"
        return UserError(f"cannot write the run to {self.dir}: {fix}, then continue it with --resume")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._worker is not None:
                self._worker.shutdown(wait=True)
                self._worker = None

    def _submit(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        if self._worker is None:
            try:
                fn(*args, **kwargs)
            except OSError as e:
                raise self._unwritable(e) from None
            return
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        for future in done:
            self._result(future)  # an earlier write failed: say so now, not at the end of the run
        self._pending.append(self._worker.submit(fn, *args, **kwargs))
