"""A real MCP server's tools, called by the phone agent and by the assistant (ScriptedModel)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from vlagent import Agent, Assistant, ScriptedModel, Trajectory
from vlagent.testing import ImageDevice

pytest.importorskip("mcp")
from vlagent.tools.mcp import MCPServer  # noqa: E402

SERVER = str(Path(__file__).parent / "servers" / "mcp_server.py")


@pytest.fixture(scope="module")
def mcp_tools():
    with MCPServer.stdio(sys.executable, [SERVER], timeout=30) as server:
        yield {t.name: t for t in server.tools}


def test_agent_calls_an_mcp_tool(mcp_tools, tmp_path):
    model = ScriptedModel([
        '<tool_call>{"name": "add", "arguments": {"a": 40, "b": 2}}</tool_call>',
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success", "text": "42"}}</tool_call>',
    ])
    device = ImageDevice(Image.new("RGB", (1080, 2400), "white"))
    result = Agent(model, device, tools=[mcp_tools["add"]], out_dir=tmp_path).run("add 40 and 2")
    assert (result.status, result.answer) == ("success", "42")
    step = Trajectory.load(tmp_path).steps[0]
    assert step.results[0].name == "add" and step.results[0].content == "42" and not step.results[0].is_error
    # The model was told the server's own schema.
    schemas = {s["function"]["name"]: s["function"] for s in model.requests[0][1]}
    assert schemas["add"]["parameters"] == mcp_tools["add"].parameters
    assert set(schemas["add"]["parameters"]["required"]) == {"a", "b"}


def test_assistant_gets_an_mcp_error_back(mcp_tools):
    model = ScriptedModel([
        '<tool_call>{"name": "add", "arguments": {"a": "forty"}}</tool_call>',
        "I need two numbers.",
    ])
    reply = Assistant(model, [mcp_tools["add"]]).ask("add")
    assert reply.text == "I need two numbers."
    assert reply.results[0].is_error
