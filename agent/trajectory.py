"""Trajectories: one versioned JSON file per run, appended to after every step.

`trajectory.json` holds everything needed to audit, resume or replay a run without the model:
the raw model text, the parsed calls, each executed action in device pixels, tool results,
errors and per-stage timings. Screenshots sit beside it as PNG files. No pickle, ever.

The file is one JSON document laid out a record a line, so a step costs the same to record at
step 1,000 as at step 10 (issue #20; the whole file used to be rewritten every step):

    {"schema_version":1,"goal":...,"status":"running",...,"steps":[     <- the header, one line
    {"index":0,...},                                                    <- a step record a line
    {"index":0,...,"acted":true},                                       <- supersedes the one above
    {"index":1,...}
    ]}

A step is recorded by writing its line over the closing `]}` and the closing after it (one
`pwrite` and an fdatasync), so the file stays a JSON document after every write. A later record of
the same step index supersedes an earlier one (the write-ahead, then the `acted` mark, then the
step's end are three appends). A change to the header (the status at the end of a run, the
config on resume) or to a step before the last rewrites the file whole and compact, atomically,
as does `TrajectoryWriter.close()` when records were superseded: a finished run's file holds each
step once. `Trajectory.load` reads this layout, files cut short inside their last record (a run
killed mid-write, a power cut: the partial record is ignored) and the earlier layout (the whole
document, indented, rewritten every step).
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
from .call_records import CallRecord, ResultRecord
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
        return cls.model_validate(_read_while_written(path))


_CLOSE = "\n]}\n"  # ends the file after every write; the next record is written over it
_OPEN_STEPS = ',"steps":['


def _read_while_written(path: Path, attempts: int = 5) -> dict[str, Any]:
    """The trajectory at `path` as plain data, read safely while a run may be writing it (a
    report or a progress callback reads a live run). A read is not atomic with the writer's
    pwrite: it can take the first page before the write and the next after it, and so see the old
    closing `]}` followed by new records. Such a read fails to parse while the file changed under
    it; it is read again. A file that fails to parse and did not change is damaged: that error
    is raised."""
    for _ in range(attempts - 1):
        before = path.stat()
        try:
            return _read_document(_decode(path.read_bytes()))
        except (json.JSONDecodeError, UnicodeDecodeError):
            after = path.stat()
            if (before.st_mtime_ns, before.st_size, before.st_ino) == (after.st_mtime_ns, after.st_size, after.st_ino):
                raise
            time.sleep(0.005)
    return _read_document(_decode(path.read_bytes()))  # the last attempt: its error, if any, is raised


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if b"\n" in raw[e.start:]:
            raise
        # A kill cut the last record inside a character: that record is dropped anyway.
        return raw.decode("utf-8", errors="replace")


def _read_document(text: str) -> dict[str, Any]:
    """The trajectory in `text` as plain data, each step once (its latest record). A document
    that does not parse whole is read a line at a time, as its writer laid it out: a last line
    cut short by a kill is dropped, and the steps before it are kept."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as whole:
        data = _read_lines(text, whole)
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        latest: dict[Any, int] = {}
        steps: list[Any] = []
        for record in data["steps"]:
            key = record.get("index") if isinstance(record, dict) else None
            if key is not None and key in latest:
                steps[latest[key]] = record  # a later record of a step supersedes the earlier
            else:
                latest[key] = len(steps)
                steps.append(record)
        data["steps"] = steps
    return data


def _read_lines(text: str, whole: json.JSONDecodeError) -> dict[str, Any]:
    lines = text.split("\n")  # not splitlines(): U+2028 may sit raw inside a JSON string
    if not lines[0].endswith(_OPEN_STEPS):
        raise whole  # not our layout (or its header is torn): nothing to recover
    data = json.loads(lines[0] + "]}")
    decoder = json.JSONDecoder()
    for number, line in enumerate(lines[1:], 1):
        if not line.strip() or line.startswith("]"):
            continue
        try:
            record, _ = decoder.raw_decode(line)  # what follows the record: "," or a torn closing
        except json.JSONDecodeError:
            if any(rest.strip() not in ("", "]}", "}") for rest in lines[number + 1:]):
                raise whole from None  # damage before the last record is not a kill's doing
            break  # the record being written when the writer died: it never happened
        data["steps"].append(record)
    return data


def _dump(model: BaseModel, **options: Any) -> str:
    """`model` as one line of JSON (a record of the file: no raw newline in it)."""
    try:
        return model.model_dump_json(**options)
    except PydanticSerializationError:  # a lone surrogate that came in by another door
        return json.dumps(valid_value(model.model_dump(mode="json", **options)), ensure_ascii=False)


_sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


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
    """Owns a run directory: writes screenshots and records trajectory.json (see the module).

    `write()` records the trajectory as it is now, at a cost that does not grow with the run: the
    steps added since the last call and the last step written before, if it changed (an
    append each, O(1)); the whole file, compact, only when the header changed, a step was
    removed or replaced, or on this writer's first write (a resumed run starts compact). Steps
    before the last one written are taken as final: change one and `write(full=True)`.

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
        # What the file holds, as of the writes submitted so far (the caller's side):
        self._header: str | None = None   # the header's text, less updated_at; None: nothing written yet
        self._steps = 0                   # steps recorded
        self._last: Step | None = None    # the last of them, and the text of its latest record
        self._last_text = ""
        self._superseded = False          # records a compaction would drop
        # Where the closing `]}` starts (the worker's side: only file operations touch it).
        self._tail = 0

    def save_screenshot(self, index: int, image: Image.Image) -> str:
        name = f"step_{index:03d}.png"
        image.load()  # a lazily decoded image would load itself on the worker while others read it
        # compress_level=1: a 1080x2400 frame in tens of ms instead of hundreds, files ~1.5x larger.
        self._submit(image.save, self.dir / name, format="PNG", compress_level=1)
        return name

    def write(self, *, full: bool = False) -> None:
        """Record the trajectory as it is now (see the class). full: rewrite the whole file,
        compact, e.g. after changing a step before the last one written."""
        traj = self.trajectory
        traj.updated_at = time.time()
        header = _dump(traj, exclude={"steps", "updated_at"})
        steps = traj.steps
        known = self._steps
        if (full or header != self._header or len(steps) < known
                or (known and steps[known - 1] is not self._last)):
            self._rewrite(header)
            return
        records = []
        if known:
            text = _dump(steps[known - 1])
            if text != self._last_text:  # the step in flight moved on (acted, ended)
                records.append(text)
                self._superseded = True
                self._last_text = text
        for step in steps[known:]:
            self._last, self._last_text = step, _dump(step)
            records.append(self._last_text)
        if not records:
            return
        data = ("\n" if known == 0 else ",\n") + ",\n".join(records) + _CLOSE
        self._steps = len(steps)
        self._submit(self._append, data.encode("utf-8"))

    def _rewrite(self, header: str) -> None:
        """The whole trajectory, each step once, replacing the file atomically (fsync'd)."""
        traj = self.trajectory
        texts = [_dump(step) for step in traj.steps]
        document = _dump(traj, exclude={"steps"})[:-1] + _OPEN_STEPS
        document += "".join(("\n" if i == 0 else ",\n") + text for i, text in enumerate(texts)) + _CLOSE
        self._header, self._steps, self._superseded = header, len(texts), False
        self._last, self._last_text = (traj.steps[-1], texts[-1]) if texts else (None, "")
        self._submit(self._replace, document)

    def _replace(self, document: str) -> None:
        write_atomic(self.path, document, durable=True)
        self._tail = len(document.encode("utf-8")) - len(_CLOSE)

    def _append(self, data: bytes) -> None:
        """Write `data` (records and a new closing) over the closing, and make it durable."""
        fd = os.open(self.path, os.O_WRONLY)
        try:
            view = memoryview(data)
            while view:  # a regular file takes it in one call; a signal could cut it short
                view = view[os.pwrite(fd, view, self._tail + len(data) - len(view)):]
            _sync(fd)
        finally:
            os.close(fd)
        self._tail += len(data) - len(_CLOSE)

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
        """Wait for every write; compact the file if steps were superseded, so a finished run's
        record holds each step once."""
        try:
            if self._superseded:
                self._rewrite(self._header or "")
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
