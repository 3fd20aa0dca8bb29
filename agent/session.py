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

Errors of a scripted step (defined here until they join `vlagent.errors`):

    VLAgentError
    └── ScriptError            a scripted step failed; `.screenshot` is the screen it failed on
        ├── AssertionFailed       assert_: the model says the condition does not hold
        │   └── WaitTimeout          wait_for: it did not hold within the timeout
        ├── GroundingFailed       the model could not locate the target (not found, or unreadable twice)
        └── QueryFailed           the answer did not match the schema, twice
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import json5
from PIL import Image
from pydantic import BaseModel, TypeAdapter, ValidationError

from . import actions as A
from .errors import RecoverableError, UserError, VLAgentError
from .grounding import (
    GroundingCache,
    TargetNotFound,
    default_cache_path,
    ground,
    screen_digest,
    screen_hash,
)
from .models.base import Message
from .settle import wait_until_stable
from .trajectory import CallRecord, ResultRecord, Step, Trajectory, TrajectoryWriter
from .vision import fit_to_model

log = logging.getLogger("vlagent.session")

__all__ = [
    "AssertionFailed", "GroundingFailed", "QueryFailed", "ScriptError", "Session", "WaitTimeout",
    "connect",
]


class ScriptError(VLAgentError):
    """A scripted step failed; `screenshot` is where the screen it failed on was saved."""

    def __init__(self, message: str, *, screenshot: Path | None = None) -> None:
        super().__init__(message)
        self.screenshot = screenshot


class AssertionFailed(ScriptError, AssertionError):
    """`assert_`: the model says the condition does not hold on the screen."""


class WaitTimeout(AssertionFailed):
    """`wait_for`: the condition did not hold within the timeout."""


class GroundingFailed(ScriptError):
    """The model could not locate the target: not on the screen, or no usable answer twice."""


class QueryFailed(ScriptError):
    """The model's answer did not match the schema, even after being shown the error."""


QUERY_PROMPT = (
    "Look at the screen and answer: {question}\n"
    'Reply with only a JSON object {{"answer": ...}} whose answer matches this JSON Schema: {schema}'
)
CHECK_PROMPT = (
    "Look at the screen. Is this true: {condition}\n"
    'Reply with only a JSON object {{"answer": true or false, "reason": "what on the screen shows it"}}.'
)
ANSWER_RETRY = "Error: {error}\nReply again with only the JSON object asked for."


class _Verdict(BaseModel):
    answer: bool
    reason: str = ""


@dataclass
class Event:
    """One step of a session, for logs and results: what ran, whether the model was asked."""

    kind: str
    detail: str
    seconds: float
    model_calls: int = 0
    cached: bool = False
    result: Any = None


@dataclass
class _Located:
    point: tuple[int, int]
    frame: Image.Image
    text: str = ""
    cached: bool = False
    calls: int = 0


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


class Session:
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
        self.events.append(Event("wait", f"{seconds:g} s", time.perf_counter() - started))

    def screenshot(self, path: str | Path | None = None) -> Image.Image:
        frame = self._observe()
        if path is not None:
            frame.save(path)
        return frame

    # -- grounded steps -----------------------------------------------------------------------

    def locate(self, target: str) -> tuple[int, int]:
        """Where `target` is, in device pixels: from the cache when this screen was seen before,
        else from the model."""
        started = time.perf_counter()
        found = self._locate(target, "locate")
        self.events.append(Event("locate", target, time.perf_counter() - started, found.calls, found.cached,
                                 found.point))
        return found.point

    def locate_like(self, example: Image.Image, hint: str = "") -> tuple[int, int]:
        """Where the element shown in `example` (a crop of an earlier screen) is now, asking the
        model; `hint` is any text saying what it is. Used by replay to re-ground a recorded tap."""
        started = time.perf_counter()
        frame = self._observe()
        self._need_model("locate", hint or "the element in the example")
        before = self.model_calls
        try:
            grounded = ground(self._generate, self.model, frame, tuple(self.device.size), hint, example=example, hint=hint)
        except RecoverableError as e:
            path = self._save_failure(frame, "locate")
            raise GroundingFailed(f"the recorded element ({hint or 'no description'}) was not found on the "
                                  f"screen: {e} (screenshot: {path})", screenshot=path) from None
        self.events.append(Event("locate", hint or "example", time.perf_counter() - started,
                                 self.model_calls - before, False, grounded.point))
        return grounded.point

    def query(self, question: str, schema: Any = str) -> Any:
        """Ask about the screen; the answer is validated by pydantic (`schema` is a type: int,
        list[str], a BaseModel, ...) or by jsonschema (`schema` is a JSON Schema dict)."""
        started = time.perf_counter()
        validate, json_schema, schema_key = _schema(schema)
        frame = self._observe()
        prompt = QUERY_PROMPT.format(question=question, schema=json.dumps(json_schema, ensure_ascii=False))
        value, text, calls, cached = self._ask("query", question, schema_key, frame, prompt,
                                               lambda reply: validate(_answer_of(reply, schema is str)),
                                               dump=lambda v: _dump(schema, v), load=validate)
        self._record("query", {"question": question}, frame, [], text,
                     result=json.dumps(_dump(schema, value), ensure_ascii=False), started=started)
        self.events.append(Event("query", question, time.perf_counter() - started, calls, cached, value))
        return value

    def check(self, condition: str) -> tuple[bool, str]:
        """Whether `condition` holds on the screen now, with the model's reason; never raises
        for a false one."""
        started = time.perf_counter()
        frame = self._observe()
        verdict, text, calls, cached = self._verdict(condition, frame)
        self.events.append(Event("check", condition, time.perf_counter() - started, calls, cached, verdict.answer))
        return verdict.answer, verdict.reason

    def assert_(self, condition: str) -> str:
        """Raise `AssertionFailed` (with the screenshot saved) unless `condition` holds on the
        screen; returns the model's reason."""
        started = time.perf_counter()
        frame = self._observe()
        verdict, text, calls, cached = self._verdict(condition, frame)
        self._record("assert", {"condition": condition}, frame, [], text,
                     result=f"{verdict.answer}: {verdict.reason}", is_error=not verdict.answer, started=started)
        self.events.append(Event("assert", condition, time.perf_counter() - started, calls, cached, verdict.answer))
        if not verdict.answer:
            path = self._save_failure(frame, "assert")
            raise AssertionFailed(f"assertion failed: {condition!r}; the model says: {verdict.reason or 'no'} "
                                  f"(screenshot: {path})", screenshot=path)
        return verdict.reason

    def wait_for(self, condition: str, timeout: float = 10.0, interval: float = 1.0) -> str:
        """Poll until `condition` holds; `WaitTimeout` (screenshot saved) after `timeout` s.
        An unchanged screen is not asked about twice (its answer is cached)."""
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        calls_before = self.model_calls
        while True:
            frame = self._observe()
            verdict, text, _, _ = self._verdict(condition, frame)
            if verdict.answer:
                break
            if time.monotonic() + interval > deadline:
                path = self._save_failure(frame, "wait_for")
                self._record("wait_for", {"condition": condition, "timeout": timeout}, frame, [], text,
                             result=f"timed out: {verdict.reason}", is_error=True, started=started)
                raise WaitTimeout(f"{condition!r} did not hold within {timeout:g} s; the model says: "
                                  f"{verdict.reason or 'no'} (screenshot: {path})", screenshot=path)
            time.sleep(interval)
            self._acted = False  # nothing we did changes the screen: no settling needed
        calls = self.model_calls - calls_before
        self._record("wait_for", {"condition": condition, "timeout": timeout}, frame, [], text,
                     result=f"True: {verdict.reason}", started=started)
        self.events.append(Event("wait_for", condition, time.perf_counter() - started, calls, calls == 0, True))
        return verdict.reason

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
        self.events.append(Event("run", goal, time.perf_counter() - started, calls, False, result.status))
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

    def _locate(self, target: str, verb: str, frame: Image.Image | None = None) -> _Located:
        frame = frame if frame is not None else self._observe()
        size = tuple(self.device.size)
        phash = screen_hash(frame)
        hit = self.cache.lookup(target, frame, size, screen=phash) if self.cache else None
        if hit is not None:
            self.cache_hits += 1
            return _Located(hit.point, frame, cached=True)
        self._need_model(verb, target)
        before = self.model_calls
        try:
            grounded = ground(self._generate, self.model, frame, size, target)
        except TargetNotFound as e:
            path = self._save_failure(frame, verb)
            raise GroundingFailed(f"{verb} {target!r}: {e} (screenshot: {path})", screenshot=path) from None
        except RecoverableError as e:
            path = self._save_failure(frame, verb)
            raise GroundingFailed(f"{verb} {target!r}: no usable location from the model after a retry: {e} "
                                  f"(screenshot: {path})", screenshot=path) from None
        if self.cache:
            self.cache.store(target, frame, size, grounded.point, screen=phash)
        return _Located(grounded.point, frame, grounded.text, False, self.model_calls - before)

    # -- internals: questions -----------------------------------------------------------------

    def _verdict(self, condition: str, frame: Image.Image) -> tuple[_Verdict, str, int, bool]:
        prompt = CHECK_PROMPT.format(condition=condition)
        return self._ask("check", condition, "bool", frame, prompt, _verdict_of,
                         dump=lambda v: v.model_dump(), load=_Verdict.model_validate)

    def _ask(self, kind: str, question: str, schema_key: str, frame: Image.Image, prompt: str,
             parse: Callable[[str], Any], *, dump: Callable[[Any], Any], load: Callable[[Any], Any]):
        """(value, model text, model calls, from cache) for a question about `frame`."""
        key = GroundingCache.answer_key(kind, question, schema_key, screen_digest(frame)) if self.cache else None
        if key is not None and (cached := self.cache.get_answer(key)) is not None:
            try:
                value = load(cached)
            except (ValidationError, ValueError):
                pass
            else:
                self.cache_hits += 1
                log.info("answer cache hit for %r — no model call (the screen is unchanged)", question)
                return value, "", 0, True
        self._need_model(kind, question)
        seen = fit_to_model(frame, self.model.min_pixels, self.model.max_pixels)
        messages: list[Message] = [{"role": "user", "content": [
            {"type": "image", "image": seen}, {"type": "text", "text": prompt}]}]
        for attempt in (1, 2):
            reply = self._generate(messages)
            try:
                value = parse(reply)
                break
            except (ValidationError, ValueError) as e:
                error = _short_error(e)
                if attempt == 2:
                    path = self._save_failure(frame, kind)
                    what = "assertion" if kind == "check" else "query"
                    raise QueryFailed(f"{what} {question!r}: the answer did not match after a retry: {error}; "
                                      f"last answer: {reply.strip()[:200]!r} (screenshot: {path})",
                                      screenshot=path) from None
                messages = messages + [{"role": "assistant", "content": reply},
                                       {"role": "user", "content": ANSWER_RETRY.format(error=error)}]
        if key is not None:
            self.cache.put_answer(key, dump(value))
        return value, reply, attempt, False

    def _generate(self, messages: list[Message]) -> str:
        self.model_calls += 1
        return self.model.generate(messages, None).text

    def _need_model(self, verb: str, what: str) -> None:
        if self.model is None:
            raise UserError(f"{verb} {what!r} needs a model and nothing cached matches this screen: pass "
                            "model=... to vlagent.connect (or --model / `model:` in a flow)")

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
            self.events.append(Event(name, str(detail), time.perf_counter() - started, calls, cached))

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


def _schema(schema: Any) -> tuple[Callable[[Any], Any], dict[str, Any], str]:
    """(validate, JSON Schema shown to the model, cache key) for a type or a JSON Schema dict."""
    if isinstance(schema, dict):
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)

        def validate_json(value: Any) -> Any:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
            if errors:
                where = "/".join(str(p) for p in errors[0].absolute_path) or "answer"
                raise ValueError(f"{where}: {errors[0].message}")
            return value

        text = json.dumps(schema, sort_keys=True)
        return validate_json, schema, text
    adapter = TypeAdapter(schema)
    try:
        json_schema = adapter.json_schema()
    except Exception:  # types pydantic validates but cannot describe
        json_schema = {"description": repr(schema)}
    return adapter.validate_python, json_schema, json.dumps(json_schema, sort_keys=True)


def _dump(schema: Any, value: Any) -> Any:
    if isinstance(schema, dict):
        return value
    return TypeAdapter(schema).dump_python(value, mode="json")


_FENCED = re.compile(r"```(?:json5?|JSON)?\s*(.*?)```", re.DOTALL)


def _extract_json(text: str) -> Any:
    """The first JSON value in a reply: whole, fenced, or embedded in prose (json5 tolerated)."""
    candidates = [m.group(1) for m in _FENCED.finditer(text)] + [text]
    for candidate in candidates:
        candidate = candidate.strip()
        for loads in (json.loads, json5.loads):
            try:
                return loads(candidate)
            except Exception:
                pass
    decoder = json.JSONDecoder(strict=False)
    for m in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, m.start())[0]
        except ValueError:
            continue
    raise ValueError('no JSON in the answer; reply with a JSON object such as {"answer": ...}')


def _answer_of(reply: str, plain_text_ok: bool) -> Any:
    try:
        value = _extract_json(reply)
    except ValueError:
        if plain_text_ok and reply.strip():
            return reply.strip()
        raise
    if isinstance(value, dict) and "answer" in value:
        return value["answer"]
    return value


def _verdict_of(reply: str) -> _Verdict:
    try:
        value = _extract_json(reply)
    except ValueError:
        word = reply.strip().strip(".!").lower()
        if word in ("yes", "true"):
            return _Verdict(answer=True)
        if word in ("no", "false"):
            return _Verdict(answer=False)
        raise
    if isinstance(value, bool):
        return _Verdict(answer=value)
    return _Verdict.model_validate(value)


def _short_error(e: Exception) -> str:
    if isinstance(e, ValidationError):
        parts = []
        for err in e.errors()[:3]:
            where = "/".join(str(p) for p in err.get("loc", ())) or "answer"
            parts.append(f"{where}: {err.get('msg')}")
        return "; ".join(parts)
    return str(e)
