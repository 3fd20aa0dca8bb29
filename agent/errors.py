"""The exception tree, in one place.

    VLAgentError
    ├── UserError              bad config, missing model or adb: the message says how to fix it
    ├── DeviceError            the device failed
    │   ├── DeviceOffline         it went away (unplugged, adb server gone, unauthorized)
    │   └── DeviceCommandError    a command on it failed
    ├── ModelError             the model backend failed (OOM, server error, bad checkpoint)
    ├── PolicyViolation        a guard refused an action
    ├── UserAbort              the person stopped the run (pyautogui fail-safe corner, Ctrl-C)
    └── RecoverableError       the model's own mistakes: the loop shows the message to the model
        ├── ParseError            output with a tool call that cannot be recovered
        ├── ToolArgumentsError    arguments that break the tool's JSON Schema
        ├── ToolExecutionError    the tool ran and raised
        └── ActionOutOfBounds     a coordinate that lands off the screen

Only `RecoverableError`s are fed back to the model; everything else stops the run with the
trajectory saved. Messages of recoverable errors are written for the model to read.
"""

from __future__ import annotations


class VLAgentError(Exception):
    """Root of every error vlagent raises on purpose."""


class UserError(VLAgentError):
    """Something the person running vlagent must fix; the message names the fix."""


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
