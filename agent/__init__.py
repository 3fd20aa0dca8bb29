"""vlagent: observe-think-act visual agents for phones and desktops on Qwen2-VL-family models.

    import vlagent
    agent = vlagent.Agent(vlagent.TransformersModel("Qwen/Qwen2-VL-2B-Instruct"), device)
    result = agent.run("turn on Wi-Fi")

Names are imported on first use (PEP 562), so `import vlagent` stays fast and never pulls in
torch, transformers or pyautogui; the parsers and coordinate helpers need none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__
from .errors import (
    ActionOutOfBounds,
    AssertionFailed,
    DeviceCommandError,
    DeviceError,
    DeviceOffline,
    FlowError,
    GroundingFailed,
    ModelError,
    ParseError,
    PolicyViolation,
    QueryFailed,
    RecoverableError,
    ReplayDiverged,
    ScriptError,
    ToolArgumentsError,
    ToolExecutionError,
    UserAbort,
    UserError,
    VLAgentError,
    WaitTimeout,
)

_LAZY = {
    "Agent": ".loop",
    "RunResult": ".run_state",
    "RunConfig": ".run_config",
    "ToolCall": ".calls",
    "GroundedBox": ".parsing",
    "parse_tool_calls": ".parsing",
    "parse_boxes": ".parsing",
    "smart_resize": ".coords",
    "Screen": ".coords",
    "Model": ".models.base",
    "Completion": ".models.base",
    "ScriptedModel": ".models.scripted",
    "TransformersModel": ".models.transformers_model",
    "OpenAIModel": ".models.openai_model",
    "Assistant": ".assistant",
    "load_model": ".specs",
    "Policy": ".policy",
    "connect": ".specs",
    "Reply": ".assistant",
    "Trajectory": ".trajectory",
    "Device": ".devices",
    "Tool": ".tools",
    "tool": ".tools",
}

__all__ = [
    "__version__",
    # the loop
    "Agent",
    "RunConfig",
    "RunResult",
    "Trajectory",
    # seams
    "Device",
    "Model",
    "Completion",
    "Tool",
    "tool",
    # models
    "ScriptedModel",
    "TransformersModel",
    "OpenAIModel",
    "load_model",
    # function-calling chat
    "Assistant",
    "Reply",
    # safety
    "Policy",
    # scripted automation
    "connect",
    # parsing and coordinates
    "ToolCall",
    "GroundedBox",
    "parse_tool_calls",
    "parse_boxes",
    "smart_resize",
    "Screen",
    # errors: the whole tree (vlagent.errors)
    "VLAgentError",
    "UserError",
    "FlowError",
    "DeviceError",
    "DeviceOffline",
    "DeviceCommandError",
    "ModelError",
    "PolicyViolation",
    "UserAbort",
    "ScriptError",
    "AssertionFailed",
    "WaitTimeout",
    "GroundingFailed",
    "QueryFailed",
    "ReplayDiverged",
    "RecoverableError",
    "ParseError",
    "ToolArgumentsError",
    "ToolExecutionError",
    "ActionOutOfBounds",
]


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .coords import Screen, smart_resize
    from .devices import Device
    from .loop import Agent
    from .run_state import RunResult
    from .run_config import RunConfig
    from .models.base import Completion, Model
    from .models.scripted import ScriptedModel
    from .models.transformers_model import TransformersModel
    from .models.openai_model import OpenAIModel
    from .assistant import Assistant, Reply
    from .specs import connect, load_model
    from .policy import Policy
    from .calls import ToolCall
    from .parsing import GroundedBox, parse_boxes, parse_tool_calls
    from .tools import Tool, tool
    from .trajectory import Trajectory
