"""The public API is small and pinned; importing it is cheap."""

import subprocess
import sys

import vlagent

PUBLIC_API = {
    "__version__",
    "Agent", "RunResult", "Trajectory",
    "Device", "Model", "Completion", "Tool", "tool",
    "ScriptedModel", "TransformersModel", "OpenAIModel", "load_model", "Assistant", "Reply", "Policy", "connect",
    "ToolCall", "GroundedBox", "parse_tool_calls", "parse_boxes", "smart_resize", "Screen",
    "VLAgentError", "UserError", "DeviceError", "DeviceOffline", "DeviceCommandError",
    "ModelError", "PolicyViolation", "UserAbort", "RecoverableError", "ParseError",
    "ToolArgumentsError", "ToolExecutionError", "ActionOutOfBounds",
}


def test_all_is_pinned():
    assert set(vlagent.__all__) == PUBLIC_API
    assert len(vlagent.__all__) == len(PUBLIC_API), "duplicates in __all__"


def test_every_public_name_resolves():
    for name in vlagent.__all__:
        assert getattr(vlagent, name) is not None, name


def test_unknown_attribute_is_an_attribute_error():
    try:
        vlagent.NoSuchThing  # noqa: B018
    except AttributeError as e:
        assert "NoSuchThing" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def test_recoverable_errors_share_a_root():
    for name in ("ParseError", "ToolArgumentsError", "ToolExecutionError", "ActionOutOfBounds"):
        assert issubclass(getattr(vlagent, name), vlagent.RecoverableError)
    for name in ("UserError", "DeviceError", "ModelError", "PolicyViolation", "UserAbort"):
        cls = getattr(vlagent, name)
        assert issubclass(cls, vlagent.VLAgentError) and not issubclass(cls, vlagent.RecoverableError)
    assert issubclass(vlagent.DeviceOffline, vlagent.DeviceError)


def test_import_pulls_no_heavy_modules():
    code = (
        "import sys, vlagent\n"
        "from vlagent import parse_tool_calls, smart_resize, Agent, ScriptedModel, TransformersModel, OpenAIModel\n"
        "from vlagent.devices import Device\n"
        "heavy = [m for m in ('torch', 'transformers', 'pyautogui', 'mss', 'adbutils') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
