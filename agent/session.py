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

The steps that ask the model (`locate`, `query`, `check`, `assert_`, `wait_for`) ask it through
a `vlagent.answers.ScreenModel`; the session's record is a `vlagent.session_log.SessionLog`. A
failed step raises a `ScriptError` (see `vlagent.errors`) naming the screenshot of the screen it
failed on.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image

from . import actions as A
from .answers import (CHECK_PROMPT, QUERY_PROMPT, VIDEO_QUERY_PROMPT, AnswerMismatch, Located, ScreenModel, Verdict,
                      answer_of, answer_schema, dump_answer, verdict_of)
from .errors import (
    AssertionFailed, GroundingFailed, QueryFailed, RecoverableError, UserError, VLAgentError, WaitTimeout,
)
from .grounding import GroundingCache, TargetNotFound
from .session_log import Event, SessionLog
from .session_points import as_given, direction_swipe, exact_point
from .settle import wait_until_stable
from .trajectory import Trajectory

__all__ = ["Session"]


class Session:
    """Exact and grounded actions on one device; see the module docstring. Use
    `vlagent.connect()`."""

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
        self.out = Path(out) if out is not None else None
        self.screen_model = ScreenModel(model, GroundingCache.of(cache))
        self.log = SessionLog(self.out, name=name, model=model, device=device)
        self.settle_timeout = settle_timeout
        self._closer = closer or contextlib.ExitStack()
        self._acted = True  # the first observation waits for a settled screen too

    @property
    def model(self) -> Any:
        return self.screen_model.model

    @property
    def model_calls(self) -> int:
        return self.screen_model.model_calls

    @property
    def cache_hits(self) -> int:
        return self.screen_model.cache_hits

    @property
    def events(self) -> list[Event]:
        return self.log.events

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.log.close(exc_type, exc)
        finally:
            self._closer.close()

    def close(self) -> None:
        try:
            self.log.close()
        finally:
            self._closer.close()

    @property
    def trajectory_path(self) -> Path | None:
        return self.log.path

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
        text, calls, grounded, cached = "", 0, False, True
        if end is None:
            p1, p2 = direction_swipe(start, self.device.size)
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
                    points.append(exact_point("swipe", end_, self.device.size))
            p1, p2 = points
            if frame is None:
                frame = self._frame_for_record()
            arguments = {"from": as_given(start, p1), "to": as_given(end, p2), "duration_ms": duration_ms}
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
        self.log.event("wait", f"{seconds:g} s", started)

    def record(self, seconds: float, path: str | Path | None = None) -> Any:
        """Record the screen for `seconds` (a phone: screenrecord, whole seconds; a desktop: mss
        frames, 2 a second) into an MP4 (a temporary file unless `path`); a `vlagent.video.Video`
        of it, for `query(..., video=)` or a model message."""
        from .video import Video

        recorder = getattr(self.device, "record", None)
        if recorder is None:
            raise UserError(f"{type(self.device).__name__} cannot record its screen")
        started = time.perf_counter()
        saved = recorder(seconds, path=path)
        self.log.event("record", f"{seconds:g} s", started)
        self._acted = True
        return Video(saved)

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

        self.screen_model.need("run", goal)
        started = time.perf_counter()
        sub = Path(tempfile.mkdtemp(prefix="vlagent-run-")) if self.out is None else \
            self.out / f"run_{len(self.log.steps):03d}"
        agent = Agent(self.model, self.device, tools, max_steps=max_steps, out_dir=sub,
                      settle_timeout=self.settle_timeout)
        calls = 0
        try:
            result = agent.run(goal)
        finally:
            try:
                traj = Trajectory.load(sub)
                calls = len(traj.steps)
                self.screen_model.model_calls += calls
                self.log.adopt(traj, sub)
            except (OSError, ValueError):
                pass
            self._acted = True
        self.log.event("run", goal, started, calls, False, result.status)
        return result

    # -- steps that ask the model ---------------------------------------------------------------

    def locate(self, target: str) -> tuple[int, int]:
        """Where `target` is, in device pixels: from the cache when this screen was seen before,
        else from the model."""
        started = time.perf_counter()
        found = self._locate(target, "locate")
        self.log.event("locate", target, started, found.calls, found.cached, found.point)
        return found.point

    def locate_like(self, example: Image.Image, hint: str = "") -> tuple[int, int]:
        """Where the element shown in `example` (a crop of an earlier screen) is now, asking the
        model; `hint` is any text saying what it is. Used by replay to re-ground a recorded tap."""
        started = time.perf_counter()
        frame = self._observe()
        try:
            found = self.screen_model.locate_like(example, hint, frame, tuple(self.device.size))
        except RecoverableError as e:
            raise self.log.failure(GroundingFailed, frame, "locate", f"the recorded element "
                                   f"({hint or 'no description'}) was not found on the screen: {e}") from None
        self.log.event("locate", hint or "example", started, found.calls, False, found.point)
        return found.point

    def query(self, question: str, schema: Any = str, *, video: Any = None) -> Any:
        """Ask about the screen; the answer is validated by pydantic (`schema` is a type: int,
        list[str], a BaseModel, ...) or by jsonschema (`schema` is a JSON Schema dict).
        video: ask about this instead (a `vlagent.video.Video`, an MP4 path or a list of frames,
        e.g. `session.record(3)`): what happened, not only what is on the screen now."""
        from . import video as videos

        started = time.perf_counter()
        validate, json_schema, schema_key = answer_schema(schema)
        frame = self._observe()
        template = QUERY_PROMPT if video is None else VIDEO_QUERY_PROMPT
        prompt = template.format(question=question, schema=json.dumps(json_schema, ensure_ascii=False))
        clip = video if video is None or isinstance(video, videos.Video) else videos.Video(video)
        value, text, calls, cached = self._ask("query", question, schema_key, frame, prompt,
                                               lambda reply: validate(answer_of(reply, schema is str)),
                                               dump=lambda v: dump_answer(schema, v), load=validate,
                                               video=clip)
        self._record("query", {"question": question}, frame, [], text,
                     result=json.dumps(dump_answer(schema, value), ensure_ascii=False), started=started)
        self.log.event("query", question, started, calls, cached, value)
        return value

    def check(self, condition: str) -> tuple[bool, str]:
        """Whether `condition` holds on the screen now, with the model's reason; never raises
        for a false one."""
        started = time.perf_counter()
        verdict, _, calls, cached = self._verdict(condition, self._observe())
        self.log.event("check", condition, started, calls, cached, verdict.answer)
        return verdict.answer, verdict.reason

    def assert_(self, condition: str) -> str:
        """Raise `AssertionFailed` (with the screenshot saved) unless `condition` holds on the
        screen; returns the model's reason."""
        started = time.perf_counter()
        frame = self._observe()
        verdict, text, calls, cached = self._verdict(condition, frame)
        self._record("assert", {"condition": condition}, frame, [], text,
                     result=f"{verdict.answer}: {verdict.reason}", is_error=not verdict.answer, started=started)
        self.log.event("assert", condition, started, calls, cached, verdict.answer)
        if not verdict.answer:
            raise self.log.failure(AssertionFailed, frame, "assert",
                                   f"assertion failed: {condition!r}; the model says: {verdict.reason or 'no'}")
        return verdict.reason

    def wait_for(self, condition: str, timeout: float = 10.0, interval: float = 1.0) -> str:
        """Poll until `condition` holds; `WaitTimeout` (screenshot saved) after `timeout` s.
        An unchanged screen is not asked about twice (its answer is cached)."""
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        calls_before = self.model_calls
        arguments = {"condition": condition, "timeout": timeout}
        while True:
            frame = self._observe()
            verdict, text, _, _ = self._verdict(condition, frame)
            if verdict.answer:
                break
            if time.monotonic() + interval > deadline:
                error = self.log.failure(WaitTimeout, frame, "wait_for", f"{condition!r} did not hold within "
                                         f"{timeout:g} s; the model says: {verdict.reason or 'no'}")
                self._record("wait_for", arguments, frame, [], text, result=f"timed out: {verdict.reason}",
                             is_error=True, started=started)
                raise error
            time.sleep(interval)
            self._acted = False  # nothing we did changes the screen: no settling needed
        calls = self.model_calls - calls_before
        self._record("wait_for", arguments, frame, [], text, result=f"True: {verdict.reason}", started=started)
        self.log.event("wait_for", condition, started, calls, calls == 0, True)
        return verdict.reason

    def _locate(self, target: str, verb: str, frame: Image.Image | None = None) -> Located:
        """`target` on `frame` (the screen now, if None); `GroundingFailed`, with the screen
        saved, when neither the cache nor the model finds it."""
        frame = frame if frame is not None else self._observe()
        try:
            return self.screen_model.locate(target, frame, tuple(self.device.size), verb)
        except TargetNotFound as e:
            raise self.log.failure(GroundingFailed, frame, verb, f"{verb} {target!r}: {e}") from None
        except RecoverableError as e:
            raise self.log.failure(GroundingFailed, frame, verb, f"{verb} {target!r}: no usable location from "
                                   f"the model after a retry: {e}") from None

    def _verdict(self, condition: str, frame: Image.Image) -> tuple[Verdict, str, int, bool]:
        return self._ask("check", condition, "bool", frame, CHECK_PROMPT.format(condition=condition), verdict_of,
                         dump=lambda v: v.model_dump(), load=Verdict.model_validate)

    def _ask(self, kind: str, question: str, schema_key: str, frame: Image.Image, prompt: str,
             parse: Callable[[str], Any], *, dump: Callable[[Any], Any], load: Callable[[Any], Any],
             video: Any = None):
        """(value, model text, model calls, from cache); QueryFailed, with the screen saved, for
        an answer that does not match after a retry."""
        try:
            return self.screen_model.ask(kind, question, schema_key, frame, prompt, parse, dump=dump, load=load,
                                         video=video)
        except AnswerMismatch as e:
            what = "assertion" if kind == "check" else "query"
            raise self.log.failure(QueryFailed, frame, kind,
                                   f"{what} {question!r}: the answer did not match after a retry: {e.error}; "
                                   f"last answer: {e.reply.strip()[:200]!r}") from None

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
        point = exact_point(verb, x if y is None else (x, y), self.device.size)
        self._act(verb, {"x": point[0], "y": point[1]}, [make(*point)], self._frame_for_record(), "", started)
        return point

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
            self.log.event(name, str(detail), started, calls, cached)

    def _observe(self) -> Image.Image:
        """The current screen; after an action, once it has stopped changing."""
        if self._acted and self.settle_timeout > 0:
            frame, _ = wait_until_stable(self.device.screenshot, timeout=self.settle_timeout, interval=0.05)
        else:
            frame = self.device.screenshot()
        self._acted = False
        return frame

    def _frame_for_record(self) -> Image.Image | None:
        return self._observe() if self.log.recording else None

    def _record(self, name: str, arguments: dict[str, Any], frame: Image.Image | None, actions: list[A._Action],
                text: str, *, result: str, started: float, is_error: bool = False) -> None:
        self.log.record(name, arguments, frame, actions, text, result=result, started=started,
                        device_size=tuple(self.device.size), is_error=is_error)

