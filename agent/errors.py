"""The exception tree, in one place.

    VLAgentError
    ├── UserError              bad config, missing model or adb: the message says how to fix it
    │   └── FlowError             a flow file that cannot run; `.problems`, one `file:line:column: what` each
    ├── DeviceError            the device failed
    │   ├── DeviceOffline         it went away (unplugged, adb server gone, unauthorized)
    │   └── DeviceCommandError    a command on it failed
    ├── ModelError             the model backend failed (OOM, server error, bad checkpoint)
    ├── PolicyViolation        a guard refused an action
    ├── UserAbort              the person stopped the run (pyautogui fail-safe corner, Ctrl-C)
    ├── ScriptError            a scripted step failed (for the script's author); `.screenshot` is its screen
    │   ├── AssertionFailed       assert_: the model says the condition does not hold (an AssertionError too)
    │   │   └── WaitTimeout          wait_for: it did not hold within the timeout
    │   ├── GroundingFailed       the model could not locate the target (not found, or unreadable twice)
    │   ├── QueryFailed           the answer to a question (query, check) did not match, twice
    │   └── ReplayDiverged        replay: the screen differs from the recording and no model can re-ground
    └── RecoverableError       the model's own mistakes: the loop shows the message to the model
        ├── ParseError            output with a tool call that cannot be recovered
        ├── ToolArgumentsError    arguments that break the tool's JSON Schema
        ├── ToolExecutionError    the tool ran and raised
        └── ActionOutOfBounds     a coordinate that lands off the screen

Only `RecoverableError`s are fed back to the model; everything else stops the run with the
trajectory saved. Messages of recoverable errors are written for the model to read.
`ScriptError`s stop a scripted run (`vlagent.connect`, `vlagent flow run`, `vlagent replay`)
at the failing step: they are for whoever wrote the script or flow, and each names the screenshot
of the screen it failed on. `AssertionFailed` is also an `AssertionError`, as a failed `assert` is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class VLAgentError(Exception):
    """Root of every error vlagent raises on purpose."""


class UserError(VLAgentError):
    """Something the person running vlagent must fix; the message names the fix."""


class FlowError(UserError):
    """A flow file that cannot run; each line of the message is `file:line:column: problem`."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class DeviceError(VLAgentError):
    """The device failed to capture or act."""


class DeviceOffline(DeviceError):
    """The device is gone: disconnected, unauthorized or its transport died."""


class DeviceCommandError(DeviceError):
    """A command sent to the device failed."""


class ModelError(VLAgentError):
    """The model backend failed (not the model's answer: that is a RecoverableError)."""


class PolicyViolation(VLAgentError):
    """A guard blocked an action."""


class UserAbort(VLAgentError):
    """The person stopped the run on purpose; the trajectory records it as interrupted."""


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


class ReplayDiverged(ScriptError):
    """The screen differs from the recording at a step that acts on a point, and there is no
    model (or cached grounding) to find its target again."""


class RecoverableError(VLAgentError):
    """A mistake of the model's that it can fix when shown the message."""


class ParseError(RecoverableError):
    """The model's output holds a tool call that cannot be recovered."""


class ToolArgumentsError(RecoverableError):
    """The arguments of a tool call do not match the tool's schema."""


class ToolExecutionError(RecoverableError):
    """The tool raised while running."""


class ActionOutOfBounds(RecoverableError):
    """A coordinate the model gave lands outside the screen."""
