"""The observe-think-act loop.

One step: capture the screen, ask the model, parse its calls, turn UI calls into device actions
and run function tools, record everything, wait for the screen to settle. Errors the model can
fix go back to it as tool results; errors a person must fix raise, with the trajectory saved.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from PIL import Image

from . import actions as A
from .coords import Screen
from .errors import RecoverableError, ToolArgumentsError, UserAbort, VLAgentError
from .models.base import Message, Model
from .parsing import ToolCall, parse_tool_calls
from .prompts import render
from .settle import wait_until_stable
from .tools.base import Tool, tool_schema
from .tools.runner import call_tool
from .trajectory import CallRecord, ResultRecord, Step, Trajectory, TrajectoryWriter
from .ui_tools import UI_TOOL_NAMES, to_action, ui_tool_schema
from .vision import fit_to_model

NO_CALL_MESSAGE = (
    "Your reply had no tool call. Call `{tool}` with the next action, or its `terminate` action "
    "when the task is finished."
)


@dataclass(frozen=True)
class RunResult:
    status: str
    answer: str | None
    steps: int
    trajectory_path: Path | None


class Agent:
    """Drive `device` toward a goal with `model`, using the UI tool plus any function `tools`.

    history_images: how many of the latest screenshots the model sees (older steps are summarised
    as text). settle_timeout: longest wait for the screen to stop changing after an action.
    on_step: called with each recorded Step (the CLI prints progress with it). The tool-call
    format (Hermes or ✿) is the model backend's business: it renders prompts and results.
    """

    def __init__(
        self,
        model: Model,
        device: Any,
        tools: Iterable[Tool] = (),
        *,
        max_steps: int = 20,
        max_seconds: float | None = None,
        history_images: int = 2,
        out_dir: str | Path | None = None,
        settle_timeout: float = 2.0,
        on_step: Callable[[Step], None] | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.model = model
        self.device = device
        self.tools = {t.name: t for t in tools}
        clash = set(self.tools) & set(UI_TOOL_NAMES)
        if clash:
            raise ValueError(f"tool names {sorted(clash)} are reserved for the UI tools")
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.history_images = max(1, history_images)
        self.out_dir = Path(out_dir) if out_dir else None
        self.settle_timeout = settle_timeout
        self.on_step = on_step
        self.ui_tool = "computer_use" if getattr(device, "kind", "phone") == "desktop" else "mobile_use"
        self.system = getattr(model, "coordinate_system", "relative-1000")

    # -- the loop ---------------------------------------------------------------------------

    def run(self, goal: str) -> RunResult:
        out_dir = self.out_dir or Path(tempfile.mkdtemp(prefix="vlagent-run-"))
        traj = Trajectory(
            goal=goal, model=_describe(self.model), device=_describe(self.device),
            coordinate_system=self.system,
        )
        writer = TrajectoryWriter(out_dir, traj)
        writer.write()
        started = time.monotonic()
        frame: Image.Image | None = None
        self._seen: dict[int, Image.Image] = {}  # model-sized images of recent steps
        try:
            for index in range(self.max_steps):
                if self.max_seconds is not None and time.monotonic() - started > self.max_seconds:
                    traj.status = "timeout"
                    break
                step, frame, final = self._step(index, goal, traj, writer, frame)
                traj.steps.append(step)
                t = time.perf_counter()
                writer.write()
                step.timings["record"] += time.perf_counter() - t
                if self.on_step:
                    self.on_step(step)
                if final is not None:
                    traj.status, traj.answer = final
                    break
            else:
                traj.status = "max_steps"
        except KeyboardInterrupt:
            traj.status, traj.error = "interrupted", "interrupted by the user (Ctrl-C)"
            raise
        except UserAbort as e:
            traj.status, traj.error = "interrupted", str(e)
            raise
        except VLAgentError as e:
            traj.status, traj.error = "error", f"{type(e).__name__}: {e}"
            raise
        finally:
            writer.write()
        return RunResult(traj.status, traj.answer, len(traj.steps), writer.path)

    def _step(self, index, goal, traj, writer, frame):
        timings: dict[str, float] = {}
        started_at = time.time()
        t = time.perf_counter()
        if frame is None:
            frame = self.device.screenshot()
        timings["capture"] = time.perf_counter() - t

        t = time.perf_counter()
        seen = fit_to_model(frame, self.model.min_pixels, self.model.max_pixels)
        screen = Screen(image_size=frame.size, device_size=tuple(self.device.size), model_size=seen.size)
        schemas = [ui_tool_schema(self.ui_tool, screen, self.system)]
        schemas += [tool_schema(t_) for t_ in self.tools.values()]
        messages = self._messages(goal, traj.steps, seen, screen)
        self._seen[index] = seen
        self._seen.pop(index - self.history_images, None)
        timings["preprocess"] = time.perf_counter() - t

        t = time.perf_counter()
        completion = self.model.generate(messages, schemas)
        timings["model"] = time.perf_counter() - t
        timings.update({f"model_{k}": v for k, v in completion.timings.items()})

        step = Step(
            index=index, started_at=started_at, screenshot_size=frame.size,
            device_size=screen.device_size, model_size=seen.size,
            model_output=completion.text, usage=completion.usage, timings=timings,
        )
        t = time.perf_counter()
        step.screenshot = writer.save_screenshot(index, frame)
        timings["record"] = time.perf_counter() - t  # the JSON rewrite is added in run()

        t = time.perf_counter()
        try:
            calls = parse_tool_calls(completion.text)
        except RecoverableError as e:
            calls = []
            step.errors.append(str(e))
            step.results.append(ResultRecord(name="parse", content=f"Error: {e}", is_error=True))
        step.calls = [CallRecord(name=c.name, arguments=c.arguments) for c in calls]
        timings["parse"] = time.perf_counter() - t
        if not calls and not step.errors:
            message = NO_CALL_MESSAGE.format(tool=self.ui_tool)
            step.errors.append(message)
            step.results.append(ResultRecord(name="none", content=f"Error: {message}", is_error=True))

        t = time.perf_counter()
        final, acted = None, False
        for call in calls:
            final, did_act = self._execute(call, screen, step)
            acted = acted or did_act
            if final is not None:
                break
        timings["act"] = time.perf_counter() - t

        t = time.perf_counter()
        next_frame = None
        if final is None and acted:
            next_frame, _ = wait_until_stable(self.device.screenshot, timeout=self.settle_timeout)
        timings["settle"] = time.perf_counter() - t
        step.timings = timings  # pydantic copied the dict at construction; keep the full one
        return step, next_frame, final

    def _execute(self, call: ToolCall, screen: Screen, step: Step) -> tuple[tuple[str, str | None] | None, bool]:
        """Run one call; returns (final status and answer, or None; whether the device acted)."""
        try:
            if call.name in UI_TOOL_NAMES:
                if call.name != self.ui_tool:
                    raise ToolArgumentsError(f"this device is driven with `{self.ui_tool}`, not `{call.name}`")
                action = to_action(call.name, call.arguments, screen, self.system)
                step.actions.append(action)
                if isinstance(action, A.Terminate):
                    step.results.append(ResultRecord(name=call.name, content=f"terminated: {action.status}"))
                    return (action.status, action.answer), False
                if isinstance(action, A.AskUser):
                    step.results.append(ResultRecord(name=call.name, content="handed back to the user"))
                    return ("ask_user", action.question), False
                if isinstance(action, A.Wait):
                    time.sleep(action.seconds)
                else:
                    self.device.execute(action)
                step.results.append(ResultRecord(name=call.name, content="ok"))
                return None, True
            if call.name not in self.tools:
                known = ", ".join([self.ui_tool, *self.tools])
                raise ToolArgumentsError(f"there is no tool named {call.name!r}; the tools are: {known}")
            result = call_tool(self.tools[call.name], call.arguments)  # validated, timed, wrapped
            if result.is_error:
                step.errors.append(result.text)
            step.results.append(ResultRecord(name=call.name, content=result.text, is_error=result.is_error))
            return None, False
        except RecoverableError as e:
            step.errors.append(str(e))
            step.results.append(ResultRecord(name=call.name, content=f"Error: {e}", is_error=True))
            return None, False

    # -- prompt -----------------------------------------------------------------------------

    def _messages(self, goal: str, history: list[Step], image: Image.Image, screen: Screen) -> list[Message]:
        """System prompt, the goal, recent steps in full, older ones as one line each."""
        w, h = screen.model_extent(self.system)
        template = "desktop_system" if self.ui_tool == "computer_use" else "phone_system"
        system = render(template, coordinate_system=self.system, width=w, height=h)
        keep = self.history_images - 1  # past steps shown in full; the current screen is one image
        split = max(0, len(history) - keep)
        older, recent = history[:split], history[split:]
        intro = f"The user's task: {goal}"
        if older:
            lines = [f"{s.index + 1}. {_summarise(s)}" for s in older]
            intro += "\n\nSteps taken so far (oldest first):\n" + "\n".join(lines)
        messages: list[Message] = [
            {"role": "system", "content": system},
            {"role": "user", "content": intro},
        ]
        for s in recent:
            past = self._seen.get(s.index)
            if past is not None:
                messages.append({"role": "user", "content": [{"type": "image", "image": past}]})
            messages.append({"role": "assistant", "content": s.model_output})
            for r in s.results:
                messages.append({"role": "tool", "name": r.name, "content": r.content})
        messages.append({"role": "user", "content": [
            {"type": "image", "image": image},
            {"type": "text", "text": "This is the current screen. What is the next action?"},
        ]})
        return messages


def _summarise(step: Step) -> str:
    """One line for an old step: what was called and how it went."""
    calls = "; ".join(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in step.calls)
    outcome = "; ".join(r.content for r in step.results)
    return f"{calls or 'no valid call'} -> {outcome or 'ok'}"[:300]


def _describe(obj: Any) -> str:
    return getattr(obj, "description", None) or type(obj).__name__
