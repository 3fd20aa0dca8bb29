"""Running an Agent's runs: the observe-think-act steps, from the first (or the first not on
record, for a resumed run) to the end.

One step: observe the screen, think (ask the model), parse its calls, act (UI calls become device
actions, function calls run their tools), settle (wait for the screen to stop changing) and
record. Errors the model can fix go back to it as tool results; errors a person must fix raise,
with the trajectory saved. A run ends by an exception (`RunEnded`: terminated, out of budget,
stuck), caught in one place, `Stepper._run`.

`Agent` (vlagent.loop) imports this module on its first run, so that `from vlagent import Agent`
stays cheap (issue #20, cold start).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PIL import Image

from .acting import Actor
from .call_records import CallRecord
from .conversation import Conversation
from .coords import Screen, smart_resize
from .devices.base import ui_tree
from .errors import RecoverableError, UserAbort, VLAgentError
from .guards import fingerprint, is_black, thumbnail
from .interrupted import settle_interrupted
from .parsing import parse_tool_calls, valid_text
from .run_config import configured
from .run_state import Prepared, RunEnded, RunResult, RunState, append_once, fail, timed
from .screen_risks import GuardContext
from .secret_masks import SecretMasks
from .settle import settle_and_prepare
from .tools.base import tool_schema
from .trajectory import Step, Trajectory, TrajectoryWriter
from .ui_tools import ui_tool_schema
from .vision import fit_to_model

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .calls import ToolCall
    from .loop import Agent
    from .models.base import Completion, Message
    from .video import Video

BLACK_FRAME_MESSAGE = (
    "The screen capture came back black (a secure screen or a failed capture), so it is not "
    "shown. {tree}Wait, go back, or terminate if the task cannot continue."
)
NO_CALL_MESSAGE = (
    "Your reply had no tool call. Call `{tool}` with the next action, or its `terminate` action "
    "when the task is finished."
)
STAGES = ("capture", "preprocess", "record", "model", "parse", "act", "settle")  # a step's timings, in seconds
CUT_OFF_MESSAGE = (
    "Your reply was cut off at the token limit ({tokens} tokens) before it ended. Answer "
    "shorter: the tool call first, little or no text before it. "
)


class Observation(NamedTuple):
    """The screen a step acts on, and what the model gets with it."""

    frame: Image.Image
    prepared: Prepared
    screenshot: str  # its file name in the run directory
    screen: Screen
    messages: list[Message]
    schemas: list[dict]


class Stepper:
    """Carries out `agent`'s runs: its model, device, tools, secrets and policy, as its config says.
    Made for each `Agent.run`, `resume` and `first_prompt` call, with the Agent as it is then."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.config, self.model, self.device, self.tools = agent.config, agent.model, agent.device, agent.tools
        self.secrets, self.policy, self.on_step = agent.secrets, agent.policy, agent.on_step
        self.ui_tool, self.system = agent.ui_tool, agent.system

    # -- a run ------------------------------------------------------------------------------

    def run(self, goal: str) -> RunResult:
        out_dir = self.agent.out_dir or Path(tempfile.mkdtemp(prefix="vlagent-run-"))
        traj = Trajectory(
            goal=goal, model=_describe(self.model), device=_describe(self.device),
            coordinate_system=self.system, config=self.config,
        )
        return self._run(self._start(traj, TrajectoryWriter(out_dir, traj, background=True)))

    def resume(self, run_dir: str | Path, *, same_script: bool, settings: dict[str, Any]) -> RunResult:
        """`Agent.resume`: the run in `run_dir` continued, with `settings` changed."""
        traj = Trajectory.load(run_dir)
        writer = TrajectoryWriter(run_dir, traj, background=True)
        if traj.status in ("success", "failure", "ask_user"):
            return RunResult(traj.status, traj.answer, len(traj.steps), writer.path)
        # The run goes on as it was set up; a record from before configs were saved takes ours.
        self.config = self.agent.config = traj.config = configured(traj.config or self.config, settings)
        traj.status, traj.error = "running", None
        settle_interrupted(traj, writer.dir, self.device, self.ui_tool, self.config.settle_timeout)
        writer.write()
        writer.flush()  # the record no longer names a dropped step's screenshot before it goes
        writer.remove_orphans(len(traj.steps))
        if same_script:
            self.model.resume_at(len(traj.steps))
        run = self._start(traj, writer)
        for step in traj.steps[run.conversation.window_start(len(traj.steps)):] if self.config.history_images > 1 else []:
            if step.screenshot and (writer.dir / step.screenshot).exists():
                with Image.open(writer.dir / step.screenshot) as image:
                    run.conversation.see(step.index, fit_to_model(image, self.model.min_pixels, self.model.max_pixels))
        return self._run(run)

    def first_prompt(self, goal: str) -> tuple[list[Message], list[dict]]:
        """`Agent.first_prompt`: GOAL's first messages and tool schemas on the screen as it is now."""
        frame = self.device.screenshot()
        _, messages, schemas = self._compose(self._conversation(goal), [], frame, self._prepare(frame))
        return messages, schemas

    def _start(self, traj: Trajectory, writer: TrajectoryWriter) -> RunState:
        return RunState(traj, writer, self._conversation(traj.goal), GuardContext(goal=traj.goal), SecretMasks(self.device))

    def _conversation(self, goal: str) -> Conversation:
        return Conversation(goal, ui_tool=self.ui_tool, system=self.system, history_images=self.config.history_images,
                            secrets=self.secrets, roll=self.config.history_roll,
                            bare=self.config.prompt_style == "bare")

    def _run(self, run: RunState) -> RunResult:
        traj = run.traj
        run.writer.write()
        actor = Actor(run, device=self.device, tools=self.tools, policy=self.policy, secrets=self.secrets,
                      config=self.config, ui_tool=self.ui_tool, system=self.system)
        try:
            for index in range(len(traj.steps), self.config.max_steps):
                self._step(run, actor, index)
            raise RunEnded("max_steps")
        except RunEnded as end:
            if run.inflight is not None:  # the step that ended the run (terminate, ask_user)
                self._record(run, run.inflight)
            traj.status, traj.answer = end.status, end.answer
        except (KeyboardInterrupt, UserAbort) as e:
            error = str(e) if isinstance(e, UserAbort) else "interrupted by the user (Ctrl-C)"
            traj.status, traj.error = "interrupted", error
            self._keep_inflight(run, error)
            raise
        except Exception as e:  # ours, or a bug of ours or a device driver's: the record says how it ended
            if isinstance(e, VLAgentError):
                e.args = tuple(self.secrets.scrub(str(a)) for a in e.args)  # whoever prints it next
            traj.status, traj.error = "error", self.secrets.scrub(f"{type(e).__name__}: {e}")
            self._keep_inflight(run, traj.error)
            raise
        finally:
            run.preparer.shutdown(wait=True, cancel_futures=True)
            try:
                run.writer.write()
            finally:
                run.writer.close()
        return RunResult(traj.status, traj.answer, len(traj.steps), run.writer.path)

    # -- a step -----------------------------------------------------------------------------

    def _step(self, run: RunState, actor: Actor, index: int) -> None:
        """observe → think → parse → act → settle → record, then the run's budgets."""
        if self.config.max_seconds is not None and time.monotonic() - run.started > self.config.max_seconds:
            raise RunEnded("timeout")
        timings = dict.fromkeys(STAGES, 0.0)
        started_at = time.time()
        seen = self._observe(run, index, timings)
        completion = self._think(seen.messages, seen.schemas, timings)
        step = run.inflight = Step(
            index=index, started_at=started_at, screenshot=seen.screenshot, screenshot_size=seen.frame.size,
            device_size=seen.screen.device_size, model_size=seen.screen.model_size,
            model_output=self.secrets.scrub(valid_text(completion.text)), usage=completion.usage, timings=timings,
        )
        step.timings = timings  # the same dict from here on: the write-ahead adds its time to it
        with timed(timings, "record"):
            run.writer.flush()  # the last step's record and this screenshot, written during the model call
        with timed(timings, "parse"):
            calls = self._parse(step, completion)
        with timed(timings, "act"):
            acted = any([actor.execute(call, seen.screen, step, seen.prepared.fingerprint) for call in calls])
        with timed(timings, "settle"):
            run.observed = self._settle(run) if acted else None
        self._record(run, step)
        self._check_budgets(run, step)

    def _observe(self, run: RunState, index: int, timings: dict[str, float]) -> Observation:
        """The screen to act on (the settled frame and its preparation if there is one, else a
        new capture; a black frame is captured again twice, as a failed capture often is), and
        what the model is to get with it."""
        for attempt in range(3):
            with timed(timings, "capture"):
                if run.observed is None or attempt:
                    if attempt:
                        time.sleep(0.25)
                    frame, job = run.masks.capture(), None
                else:
                    frame, job = run.observed
            with timed(timings, "preprocess"):
                prepared = job.result() if job is not None else self._prepare(frame)
            if prepared.seen is not None:
                break
        transition, run.transition = run.transition, None
        with timed(timings, "preprocess"):
            screen, messages, schemas = self._compose(run.conversation, run.traj.steps, frame, prepared, transition)
            run.guard_context.see(frame, screen.device_size)  # read when there is no UI tree
            run.conversation.see(index, prepared.seen, transition)
        with timed(timings, "record"):
            # Encoded on the writer's thread during the model call, so the write-ahead before the
            # action finds it done (a step the model fails leaves it behind; resume removes it).
            shot = run.writer.save_screenshot(index, frame)
        return Observation(frame, prepared, shot, screen, messages, schemas)

    def _think(self, messages: list[Message], schemas: list[dict], timings: dict[str, float]) -> Completion:
        with timed(timings, "model"):
            completion = self.model.generate(messages, schemas)
        timings.update({f"model_{k}": v for k, v in completion.timings.items()})
        return completion

    def _parse(self, step: Step, completion: Completion) -> list[ToolCall]:
        """The reply's calls, recorded in the step; what the model must fix goes to its errors."""
        cut_off = "" if completion.finish_reason != "length" else CUT_OFF_MESSAGE.format(
            tokens=completion.usage.get("completion_tokens", "?"))
        try:
            calls = parse_tool_calls(completion.text)
        except RecoverableError as e:
            fail(step, "parse", cut_off + str(e))
            return []
        if not calls:
            fail(step, "none", cut_off + NO_CALL_MESSAGE.format(tool=self.ui_tool))
        step.calls = [CallRecord(name=c.name, arguments=json.loads(self.secrets.scrub(json.dumps(c.arguments))))
                      for c in calls]
        return calls

    def _settle(self, run: RunState) -> tuple[Image.Image, Future[Prepared] | None]:
        """Wait until the screen stops changing; the next frame is prepared while settle waits
        for its twin. With show_transitions, the frames seen meanwhile become run.transition."""
        captured: list[Image.Image] | None = [] if self.config.show_transitions else None
        started = time.monotonic()
        settled, _, job = settle_and_prepare(run.masks.capture, self._prepare, run.preparer,
                                             timeout=self.config.settle_timeout, captured=captured)
        if captured:
            run.transition = self._transition(captured, time.monotonic() - started)
        return settled, job

    def _transition(self, frames: list[Image.Image], seconds: float) -> Video | None:
        """The frames an action's settle captured as a video at the model's size, or None when
        the screen did not move (a video of one still frame says nothing the screenshot does not)."""
        from .video import Video  # only with show_transitions: `import vlagent` stays cheap

        prints = [fingerprint(thumbnail(f)) for f in frames]
        if len(set(prints)) < 2:
            return None
        seen = [fit_to_model(f, self.model.min_pixels, self.model.max_pixels) for f in frames]
        return Video(seen, sample_fps=round(len(frames) / max(seconds, 1e-3), 2))

    def _record(self, run: RunState, step: Step) -> None:
        run.inflight = None
        step.acting = False
        step.errors = [self.secrets.scrub(e) for e in step.errors]
        for r in step.results:
            r.content = self.secrets.scrub(r.content)
        append_once(run.traj, step)  # a step that acted is in already (write-ahead)
        with timed(step.timings, "record"):
            run.writer.write()
        if self.on_step:
            self.on_step(step)

    def _check_budgets(self, run: RunState, step: Step) -> None:
        run.tokens += step.usage.get("prompt_tokens", 0) + step.usage.get("completion_tokens", 0)
        run.errors_in_a_row = 0 if any(not r.is_error for r in step.results) else run.errors_in_a_row + 1
        if run.repeats.count >= self.config.repeat_limit:
            raise RunEnded("stuck")
        if run.errors_in_a_row >= self.config.max_consecutive_errors:
            raise RunEnded("too_many_errors")
        if self.config.max_tokens is not None and run.tokens >= self.config.max_tokens:
            raise RunEnded("max_tokens")

    # -- what a step is made of -------------------------------------------------------------

    def _compose(self, conversation: Conversation, history: list[Step], frame: Image.Image, prepared: Prepared,
                 transition: Video | None = None):
        """(screen geometry, messages, tool schemas) for a step that sees `frame` (after `transition`)."""
        seen = prepared.seen
        model_size = seen.size if seen is not None else smart_resize(
            frame.height, frame.width, min_pixels=self.model.min_pixels, max_pixels=self.model.max_pixels)[::-1]
        screen = Screen(image_size=frame.size, device_size=tuple(self.device.size), model_size=model_size)
        schemas = [ui_tool_schema(self.ui_tool, screen, self.system)]
        schemas += [tool_schema(t_) for t_ in self.tools.values()]
        current: Image.Image | str = self._black_frame_note(screen) if seen is None else seen
        return screen, conversation.messages(history, current, screen, transition), schemas

    def _prepare(self, frame: Image.Image) -> Prepared:
        """What the next step needs of a frame before the model: the image at the model's size
        (None for a black frame, which is never shown), its pixel values where the model makes
        them itself, and the fingerprint the repeat detector compares."""
        thumb = thumbnail(frame)
        seen = None if is_black(thumb) else fit_to_model(frame, self.model.min_pixels, self.model.max_pixels)
        if seen is not None and (prepare_image := getattr(self.model, "prepare_image", None)) is not None:
            prepare_image(seen)  # an in-process model turns it into pixel values now, off the step's path
        return Prepared(seen, fingerprint(thumb))

    def _black_frame_note(self, screen: Screen) -> str:
        """What the model gets instead of a black frame: the UI tree's labels, where there is one."""
        from .uitree import summarize

        xml = ui_tree(self.device)
        tree = self.secrets.scrub(summarize(xml, screen, self.system)) if xml else ""  # fields show typed secrets
        return BLACK_FRAME_MESSAGE.format(tree=f"The UI tree shows:\n{tree}\n" if tree else "")

    def _keep_inflight(self, run: RunState, error: str) -> None:
        """A step cut short after the model replied (the device went away mid-action, Ctrl-C) is
        kept with what it did and how it ended: its action may have reached the device, and a
        resumed run's model reads that here rather than guessing from the screen alone."""
        step, run.inflight = run.inflight, None
        if step is None:
            return
        step.acting = False  # how it ended is said here
        fail(step, self.ui_tool, error)
        append_once(run.traj, step)


def _describe(obj: Any) -> str:
    return getattr(obj, "description", None) or type(obj).__name__
