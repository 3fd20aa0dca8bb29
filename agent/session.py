"""Scripted automation: exact steps where you know the pixel, model steps where you do not.

    import vlagent
    with vlagent.connect("sim", model="http://localhost:8000/v1#Qwen2-VL-7B-Instruct") as phone:
        phone.open_app("Settings")
        phone.tap("Network & internet")          # the model finds it (cached for reruns)
        phone.tap("the Wi-Fi switch")
        phone.wait_for("Wi-Fi is on", timeout=10)
        level = phone.query("the battery level in percent", schema=int)
        phone.tap(540, 1200)                      # exact, in device pixels

Grounded taps go through a `GroundingCache` (perceptual hash of the screen and of the region
around the target, plus the instruction): a rerun on an unchanged screen asks the model nothing,
and logs so. Answers to `query`/`assert_`/`wait_for` are cached for bit-identical screens only.
With `out`, every step is recorded as a trajectory (screenshot before, action in device pixels,
the instruction or model text), which `vlagent.replay` can replay without the model.

The steps that ask the model (`locate`, `query`, `check`, `assert_`, `wait_for`) are in
`vlagent.answers`. A failed step raises a `ScriptError` (see `vlagent.errors`) naming the
screenshot of the screen it failed on.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image

from . import actions as A
from .answers import ScreenQuestions
from .errors import ScriptError, UserError, VLAgentError
from .grounding import GroundingCache, default_cache_path
from .settle import wait_until_stable
from .trajectory import CallRecord, ResultRecord, Step, Trajectory, TrajectoryWriter

__all__ = ["Session", "connect"]


@dataclass
class Event:
    """One step of a session, for logs and results: what ran, whether the model was asked."""

    kind: str
    detail: str
    seconds: float
    model_calls: int = 0
    cached: bool = False
    result: Any = None


def connect(
    device: Any = "sim",
    model: Any = None,
    *,
    out: str | Path | None = None,
    cache: bool | str | Path | GroundingCache = True,
    settle_timeout: float = 2.0,
    name: str = "script",
) -> "Session":
    """A `Session` on `device`, a spec ("sim", "adb[:SERIAL]", "desktop[:N]", "image:PATH") or a
    connected Device, with `model`, a spec (see `vlagent.load_model`), a Model, or None for
    exact steps and cached groundings only. Closing the session stops a SimPhone it started.

    cache: True for the user cache ($VLAGENT_CACHE or ~/.cache/vlagent/grounding.json), a path,
    a GroundingCache, or False for none. out: a folder to record the session as a trajectory.
    """
    from .specs import load_model, open_device

    stack = contextlib.ExitStack()
    try:
        dev = stack.enter_context(open_device(device)) if isinstance(device, str) else device
        mdl = load_model(model) if isinstance(model, str) else model
        return Session(dev, mdl, out=out, cache=cache, settle_timeout=settle_timeout, name=name, closer=stack)
    except BaseException:
        stack.close()
        raise


class Session(ScreenQuestions):
    """Exact and grounded actions on one device; see the module docstring. Use `connect()`."""

    def __init__(
        self,
        device: Any,
        model: Any = None,
        *,
        out: str | Path | None = None,
        cache: bool | str | Path | GroundingCache = True,
        settle_timeout: float = 2.0,
        name: str = "script",
        closer: contextlib.ExitStack | None = None,
    ) -> None:
        self.device = device
        self.model = model
        self.out = Path(out) if out is not None else None
        self.cache = _make_cache(cache)
        self.settle_timeout = settle_timeout
        self.model_calls = 0
        self.cache_hits = 0
        self.events: list[Event] = []
        self._closer = closer or contextlib.ExitStack()
        self._acted = True  # the first observation waits for a settled screen too
        self._failures: Path | None = None
        self._writer: TrajectoryWriter | None = None
        if self.out is not None:
            system = getattr(model, "coordinate_system", "relative-1000")
            traj = Trajectory(goal=name, model=_describe(model), device=_describe(device),
                              coordinate_system=system)
            self._writer = TrajectoryWriter(self.out, traj)
            self._writer.write()

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and self._writer is not None:
            self._writer.trajectory.error = f"{type(exc).__name__}: {exc}"
            self._writer.trajectory.status = "interrupted" if exc_type is KeyboardInterrupt else "error"
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            if self._writer.trajectory.status == "running":
                self._writer.trajectory.status = "success"
            self._writer.write()
        self._closer.close()

    @property
    def trajectory_path(self) -> Path | None:
        return self._writer.path if self._writer else None

    # -- exact actions (device pixels) --------------------------------------------------------

    def tap(self, x: int | str | Sequence[int], y: int | None = None) -> tuple[int, int]:
        """Tap a point (`tap(540, 1200)`, `tap((540, 1200))`) or a described target
        (`tap("the Wi-Fi switch")`, located by the model or the cache). Returns the point."""
        return self._pointer("tap", x, y, lambda px, py: A.Tap(x=px, y=py))

    def long_press(self, x: int | str | Sequence[int], y: int | None = None, *, duration_ms: int = 1000) -> tuple[int, int]:
        return self._pointer("long_press", x, y, lambda px, py: A.LongPress(x=px, y=py, duration_ms=duration_ms))

    def swipe(self, start: str | Sequence[int], end: str | Sequence[int] | None = None, *, duration_ms: int = 300) -> None:
        """`swipe((x1, y1), (x2, y2))`, with either end possibly a description, or
        `swipe("up")` (the finger moves up the middle of the screen: content scrolls down)."""
        started = time.perf_counter()
        w, h = self.device.size
        text, calls, grounded, cached = "", 0, False, True
        if end is None:
            if not isinstance(start, str) or start.lower() not in _DIRECTIONS:
                raise UserError(f"swipe({start!r}) needs an end point, or one of {', '.join(_DIRECTIONS)}")
            (fx, fy), (tx, ty) = _DIRECTIONS[start.lower()]
            p1, p2 = (int(fx * w), int(fy * h)), (int(tx * w), int(ty * h))
            arguments: dict[str, Any] = {"direction": start.lower()}
            frame = self._frame_for_record()
        else:
            frame = None
            points = []
            for end_ in (start, end):
                if isinstance(end_, str):
                    found = self._locate(end_, "swipe", frame)
                    frame, text, calls = found.frame, text + found.text, calls + found.calls
                    grounded, cached = True, cached and found.cached
                    points.append(found.point)
                else:
                    points.append(self._exact_point("swipe", end_))
            p1, p2 = points
            if frame is None:
                frame = self._frame_for_record()
            arguments = {"from": _arg(start, p1), "to": _arg(end, p2), "duration_ms": duration_ms}
        action = A.Swipe(x1=p1[0], y1=p1[1], x2=p2[0], y2=p2[1], duration_ms=duration_ms)
        self._act("swipe", arguments, [action], frame, text, started, calls=calls, cached=grounded and cached)

    def type(self, text: str) -> None:
        """Type `text` into the focused field (unicode included, through ADBKeyboard on phones)."""
        self._simple("type", {"text": text}, A.TypeText(text=text))

    def key(self, *names: str) -> None:
        """Press a key ("enter", "back", "del", "volume_up") or a combination ("ctrl", "c")."""
        if not names:
            raise UserError("key() needs a key name, e.g. key('enter')")
        self._simple("key", {"keys": list(names)}, A.Key(keys=tuple(names)))

    def back(self) -> None:
        self._simple("back", {}, A.SystemButton(button="back"))

    def home(self) -> None:
        self._simple("home", {}, A.SystemButton(button="home"))

    def open_app(self, name: str) -> None:
        """Bring an app to the front by label ("Settings") or package."""
        self._simple("open_app", {"name": name}, A.OpenApp(name=name))

    def execute(self, action: A._Action, *, name: str | None = None, arguments: dict[str, Any] | None = None) -> None:
        """Run one `vlagent.actions` Action (device pixels) as a recorded step; `Wait` sleeps."""
        if isinstance(action, A.Wait):
            return self.wait(action.seconds)
        if isinstance(action, (A.Terminate, A.AskUser)):
            raise UserError(f"{action.type} ends an agent run; a session cannot execute it")
        self._simple(name or action.type, arguments if arguments is not None else action.model_dump(exclude={"type"}),
                     action)

    def wait(self, seconds: float) -> None:
        started = time.perf_counter()
        time.sleep(seconds)
        self._event("wait", f"{seconds:g} s", started)

    def screenshot(self, path: str | Path | None = None) -> Image.Image:
        frame = self._observe()
        if path is not None:
            frame.save(path)
        return frame

    # -- autonomous sub-tasks -----------------------------------------------------------------

    def run(self, goal: str, max_steps: int = 10, tools: Sequence[Any] = ()) -> Any:
        """An autonomous sub-task: `vlagent.Agent` on this device and model. Returns its RunResult;
        its steps join this session's trajectory, so a replay covers them too."""
        from .loop import Agent

        self._need_model("run", goal)
        started = time.perf_counter()
        sub = Path(tempfile.mkdtemp(prefix="vlagent-run-")) if self.out is None else \
            self.out / f"run_{len(self._steps()):03d}"
        agent = Agent(self.model, self.device, tools, max_steps=max_steps, out_dir=sub,
                      settle_timeout=self.settle_timeout)
        calls = 0
        try:
            result = agent.run(goal)
        finally:
            try:
                traj = Trajectory.load(sub)
                calls = len(traj.steps)
                self.model_calls += calls
                self._adopt(traj, sub)
            except (OSError, ValueError):
                pass
            self._acted = True
        self._event("run", goal, started, calls, False, result.status)
        return result

    # -- internals: pointer steps -------------------------------------------------------------

    def _pointer(self, verb: str, x: Any, y: Any, make: Callable[[int, int], A._Action]) -> tuple[int, int]:
        started = time.perf_counter()
        if isinstance(x, str):
            if y is not None:
                raise UserError(f"{verb}({x!r}, {y!r}): give a description or two coordinates, not both")
            found = self._locate(x, verb)
            self._act(verb, {"target": x}, [make(*found.point)], found.frame, found.text, started,
                      calls=found.calls, cached=found.cached)
            return found.point
        point = self._exact_point(verb, x if y is None else (x, y))
        self._act(verb, {"x": point[0], "y": point[1]}, [make(*point)], self._frame_for_record(), "", started)
        return point

    def _exact_point(self, verb: str, point: Any) -> tuple[int, int]:
        try:
            px, py = (int(round(float(v))) for v in point)
        except (TypeError, ValueError):
            raise UserError(f"{verb}: expected (x, y) in device pixels or a description, got {point!r}") from None
        w, h = self.device.size
        if not (0 <= px < w and 0 <= py < h):
            raise UserError(f"{verb}({px}, {py}) is off the {w}x{h} screen")
        return px, py

    # -- internals: acting, observing, recording ----------------------------------------------

    def _simple(self, name: str, arguments: dict[str, Any], action: A._Action) -> None:
        started = time.perf_counter()
        self._act(name, arguments, [action], self._frame_for_record(), "", started)

    def _act(self, name: str, arguments: dict[str, Any], actions: list[A._Action], frame: Image.Image | None,
             text: str, started: float, *, calls: int = 0, cached: bool = False) -> None:
        error = None
        try:
            for action in actions:
                self.device.execute(action)
        except VLAgentError as e:
            error = e
            raise
        finally:
            self._acted = True
            result = "ok" if error is None else f"Error: {error}"
            if cached:
                result += " (grounding cache hit: no model call)"
            self._record(name, arguments, frame, actions, text, result=result, is_error=error is not None,
                         started=started)
            detail = arguments.get("target") or json.dumps(arguments, ensure_ascii=False)
            self._event(name, str(detail), started, calls, cached)

    def _observe(self) -> Image.Image:
        """The current screen; after an action, once it has stopped changing."""
        if self._acted and self.settle_timeout > 0:
            frame, _ = wait_until_stable(self.device.screenshot, timeout=self.settle_timeout, interval=0.05)
        else:
            frame = self.device.screenshot()
        self._acted = False
        return frame

    def _frame_for_record(self) -> Image.Image | None:
        return self._observe() if self._writer is not None else None

    def _steps(self) -> list[Step]:
        return self._writer.trajectory.steps if self._writer else []

    def _record(self, name: str, arguments: dict[str, Any], frame: Image.Image | None, actions: list[A._Action],
                text: str, *, result: str, started: float, is_error: bool = False) -> None:
        if self._writer is None or frame is None:
            return
        index = len(self._writer.trajectory.steps)
        step = Step(
            index=index, started_at=time.time() - (time.perf_counter() - started),
            screenshot=self._writer.save_screenshot(index, frame), screenshot_size=frame.size,
            device_size=tuple(self.device.size), model_output=text,
            calls=[CallRecord(name=name, arguments=arguments)], actions=list(actions),
            results=[ResultRecord(name=name, content=result, is_error=is_error)],
            errors=[result] if is_error else [], timings={"total": time.perf_counter() - started},
        )
        self._writer.trajectory.steps.append(step)
        self._writer.write()

    def _adopt(self, traj: Trajectory, sub: Path) -> None:
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

    def _event(self, kind: str, detail: str, started: float, calls: int = 0, cached: bool = False,
               result: Any = None) -> None:
        self.events.append(Event(kind, detail, time.perf_counter() - started, calls, cached, result))

    def _failure(self, error: type[ScriptError], frame: Image.Image, kind: str, message: str) -> ScriptError:
        """`error` with `frame` saved, its path at the end of `message`."""
        path = self._save_failure(frame, kind)
        return error(f"{message} (screenshot: {path})", screenshot=path)

    def _save_failure(self, frame: Image.Image, kind: str) -> Path:
        if self._failures is None:
            self._failures = (self.out / "failures") if self.out else Path(tempfile.mkdtemp(prefix="vlagent-failures-"))
            self._failures.mkdir(parents=True, exist_ok=True)
        path = self._failures / f"{len(self.events):03d}_{kind}.png"
        frame.save(path, compress_level=1)
        return path


# -- helpers -------------------------------------------------------------------------------------

_DIRECTIONS = {  # finger start and end, as fractions of (width, height)
    "up": ((0.5, 0.7), (0.5, 0.3)), "down": ((0.5, 0.3), (0.5, 0.7)),
    "left": ((0.8, 0.5), (0.2, 0.5)), "right": ((0.2, 0.5), (0.8, 0.5)),
}


def _arg(given: Any, point: tuple[int, int]) -> Any:
    return given if isinstance(given, str) else [point[0], point[1]]


def _make_cache(cache: Any) -> GroundingCache | None:
    if isinstance(cache, GroundingCache):
        return cache
    if cache is True:
        return GroundingCache(default_cache_path())
    if cache is False or cache is None:
        return None
    return GroundingCache(Path(cache))


def _describe(obj: Any) -> str:
    if obj is None:
        return "none"
    return getattr(obj, "description", None) or type(obj).__name__
