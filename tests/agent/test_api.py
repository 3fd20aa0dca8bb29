"""The public API is small and pinned; importing it is cheap."""

import subprocess
import sys

import vlagent

def test_all_is_the_module_namespace():
    """__all__ lists exactly what the package offers: its public globals and lazy names, each once."""
    import types

    offered = {name for name, value in vars(vlagent).items()
               if not name.startswith("_") and not isinstance(value, types.ModuleType)
               and name not in ("annotations", "TYPE_CHECKING", "lazy_exports")}
    offered |= set(vlagent._LAZY) | {"__version__"}
    assert sorted(vlagent.__all__) == sorted(offered)
    assert len(vlagent.__all__) == len(set(vlagent.__all__)), "duplicates in __all__"


def test_the_whole_error_tree_is_exported():
    """A user catches what `connect()`, flows and replays raise without importing vlagent.errors."""
    from vlagent import errors

    tree = {name for name, value in vars(errors).items()
            if isinstance(value, type) and issubclass(value, errors.VLAgentError)}
    assert tree <= set(vlagent.__all__), tree - set(vlagent.__all__)
    assert issubclass(vlagent.GroundingFailed, vlagent.ScriptError) and issubclass(vlagent.FlowError, vlagent.UserError)


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
