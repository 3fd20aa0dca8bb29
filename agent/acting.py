"""Carrying out a step's calls: UI actions on the device, function calls through their tools.

Each call is checked by the policy first, and recorded write-ahead: the step, the call included,
is durably on disk before the device or tool is touched, and marked `acted` once it returned, so
a run killed mid-call is resumed from evidence (`vlagent.interrupted`), never by acting twice.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from . import actions as A
from .call_records import ResultRecord
from .calls import ToolCall
from .coords import Screen
from .devices.base import ui_tree
from .errors import PolicyViolation, RecoverableError, ToolArgumentsError
from .guards import Secrets
from .run_config import RunConfig
from .run_state import RunEnded, RunState, append_once, fail, timed
from .tools.base import Tool
from .tools.runner import call_tool
from .trajectory import Step
from .ui_tools import UI_TOOL_NAMES, to_action

if TYPE_CHECKING:
    from .policy import Policy

REPEAT_MESSAGE = (
    "You chose the same action on a screen that did not change, so it was not repeated. Look "
    "at the screen again and try something different, or terminate."
)


class Actor:
    """Carries out calls for one run on `device` with `tools`, as `config` and `policy` allow."""

    def __init__(self, run: RunState, *, device: Any, tools: dict[str, Tool], policy: "Policy | None",
                 secrets: Secrets, config: RunConfig, ui_tool: str, system: str) -> None:
        self.run, self.device, self.tools, self.policy = run, device, tools, policy
        self.secrets, self.config, self.ui_tool, self.system = secrets, config, ui_tool, system

    def execute(self, call: ToolCall, screen: Screen, step: Step, seen_print: bytes) -> bool:
        """Run one call; whether the device acted. Raises RunEnded for terminate and ask_user."""
        try:
            if call.name in UI_TOOL_NAMES:
                return self._ui_action(call, screen, step, seen_print)
            if call.name not in self.tools:
                known = ", ".join([self.ui_tool, *self.tools])
                raise ToolArgumentsError(f"there is no tool named {call.name!r}; the tools are: {known}")
            if self.policy is not None:
                self.policy.check(call, tool=self.tools[call.name])  # reads a declared tool.risk
            if self.config.dry_run:
                step.results.append(ResultRecord(name=call.name, content="dry run: not called"))
                return False
            with self._acting(step):
                result = call_tool(self.tools[call.name], call.arguments)  # validated, timed, wrapped
                if result.is_error:
                    step.errors.append(result.text)
                step.results.append(ResultRecord(name=call.name, content=result.text, is_error=result.is_error))
            return False
        except (RecoverableError, PolicyViolation) as e:
            fail(step, call.name, str(e))  # a blocked action too: the model may find a safe way or stop
            return False

    def _ui_action(self, call: ToolCall, screen: Screen, step: Step, seen_print: bytes) -> bool:
        if call.name != self.ui_tool:
            raise ToolArgumentsError(f"this device is driven with `{self.ui_tool}`, not `{call.name}`")
        action = to_action(call.name, call.arguments, screen, self.system)
        if isinstance(action, (A.Terminate, A.AskUser)):
            step.actions.append(action)
            if isinstance(action, A.AskUser):
                step.results.append(ResultRecord(name=call.name, content="handed back to the user"))
                raise RunEnded("ask_user", action.question)
            step.results.append(ResultRecord(name=call.name, content=f"terminated: {action.status}"))
            raise RunEnded(action.status, action.answer)
        if isinstance(action, A.Wait):
            step.actions.append(action)
            time.sleep(action.seconds)
            step.results.append(ResultRecord(name=call.name, content="ok"))
            return True
        if self.run.repeats.observe(action, seen_print) > 1:
            raise ToolArgumentsError(REPEAT_MESSAGE)
        if self.policy is not None:
            needs_tree = A.points_of(action) or isinstance(action, (A.TypeText, A.Key, A.SystemButton))
            self.policy.check(action, ui_xml=ui_tree(self.device) if needs_tree else None,
                              context=self.run.guard_context)
        step.actions.append(action)  # recorded with placeholders, never secret values
        if self.config.dry_run:
            step.results.append(ResultRecord(name=call.name, content="dry run: not executed"))
            return False
        typed = self.secrets.substitute(action.text) if isinstance(action, A.TypeText) else None
        self.run.masks.before(action, types_secret=typed is not None and typed != action.text)
        with self._acting(step):
            self.device.execute(A.TypeText(text=typed) if typed is not None else action)
            step.results.append(ResultRecord(name=call.name, content="ok"))
        return True

    @contextmanager
    def _acting(self, step: Step) -> Iterator[None]:
        """Around a call to the device or a tool: the step as it stands, the call included,
        durably on disk (fsync) before it (a run killed during the call is known to have been
        acting), and marked `acted` on disk once it returned, without waiting for that write (a
        resume that finds the mark knows the call happened; one that does not looks further)."""
        writer = self.run.writer
        with timed(step.timings, "record"):
            step.acting, step.acted = True, False
            append_once(self.run.traj, step)
            writer.write()
            writer.flush()
        yield
        with timed(step.timings, "record"):
            step.acted = True
            writer.write()
