"""vlagent.tools' public names are pinned, and importing it stays light."""

import subprocess
import sys

import vlagent.tools

PUBLIC = {
    "DEFAULT_TIMEOUT", "FunctionTool", "RawTool", "Tool", "ToolResult", "call_tool", "call_tools",
    "load_plugins", "to_content", "tool", "tool_schema", "validate_arguments",
}


def test_all_is_pinned():
    assert set(vlagent.tools.__all__) == PUBLIC and len(vlagent.tools.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(vlagent.tools, name) is not None


def test_import_pulls_neither_httpx_nor_the_mcp_sdk():
    code = (
        "import sys, vlagent.tools\n"
        "heavy = [m for m in ('httpx', 'mcp', 'PIL', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
