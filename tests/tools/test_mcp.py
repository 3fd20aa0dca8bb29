"""The MCP bridge against a real MCP server (the official SDK's) in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from ports import free_port

pytest.importorskip("mcp")

from vlagent import ToolExecutionError, UserError  # noqa: E402
from vlagent.calls import ToolCall
from vlagent.tools import Tool, call_tool, call_tools, tool_schema  # noqa: E402
from vlagent.tools.mcp import MCPServer  # noqa: E402

SERVER = str(Path(__file__).parent / "servers" / "mcp_server.py")


@pytest.fixture(scope="module")
def stdio_server():
    with MCPServer.stdio(sys.executable, [SERVER], env={"VLAGENT_TEST_SECRET": "42"}, timeout=30) as server:
        yield server


@pytest.fixture(scope="module")
def tools(stdio_server):
    return {t.name: t for t in stdio_server.tools}


def test_tools_are_listed_with_the_servers_schemas(tools):
    assert {"add", "echo", "red_square", "sleep", "fail", "crash", "die", "environment"} <= set(tools)
    add = tools["add"]
    assert isinstance(add, Tool) and add.description == "Add two integers."
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert tool_schema(tools["echo"])["function"]["parameters"]["properties"]["times"]["default"] == 1
    assert "Args:" in tools["echo"].description and not tools["echo"].description.startswith(" ")
    assert add.timeout == 30


def test_the_policy_reads_the_servers_tool_annotations(tools):
    """add: readOnlyHint; echo: not read-only but not destructive; sleep: no annotations at all.
    Under deny only the read-only one runs."""
    from vlagent import Policy, PolicyViolation
    from vlagent.policy import classify

    assert classify(ToolCall("add", {"a": 1, "b": 2}), tool=tools["add"]).risks == []
    assert [str(r) for r in classify(ToolCall("echo", {"text": "x"}), tool=tools["echo"]).risks] == ["unknown"]
    assert [str(r) for r in classify(ToolCall("sleep", {"seconds": 0}), tool=tools["sleep"]).risks] == ["unknown"]
    deny = Policy("deny")
    deny.check(ToolCall("add", {"a": 1, "b": 2}), tool=tools["add"])
    for name in ("echo", "sleep"):
        with pytest.raises(PolicyViolation, match=name):
            deny.check(ToolCall(name, {}), tool=tools[name])


def test_calls_through_the_runner(tools):
    results = call_tools(tools, [
        ToolCall("add", {"a": 2, "b": 3}),
        ToolCall("echo", {"text": "héllo", "times": 2}),
        ToolCall("red_square", {"size": 5}),
        ToolCall("add", {"a": 2}),
        ToolCall("fail", {"message": "disk full"}),
        ToolCall("crash", {}),
        ToolCall("environment", {"name": "VLAGENT_TEST_SECRET"}),
    ])
    assert [r.is_error for r in results] == [False, False, False, True, True, True, False], results
    assert results[0].content == "5"
    assert results[1].content == "héllo héllo"
    (part,) = results[2].content
    assert part["type"] == "image" and isinstance(part["image"], Image.Image)
    assert part["image"].size == (5, 5) and part["image"].convert("RGB").getpixel((2, 2)) == (255, 0, 0)
    assert "'b' is a required property" in results[3].content  # refused before it reached the server
    assert "fail failed on MCP server" in results[4].content and "disk full" in results[4].content
    assert "crash failed on MCP server" in results[5].content
    assert results[6].content == "42"  # env reaches the server


def test_a_slow_call_times_out_and_the_server_lives_on(tools, monkeypatch):
    monkeypatch.setattr(tools["sleep"], "timeout", 0.5)  # a Tool's own timeout reaches the request
    with pytest.raises(ToolExecutionError, match=r"sleep on MCP server .* timed out after 0.5 s"):
        tools["sleep"](seconds=60)
    assert call_tool(tools["add"], {"a": 1, "b": 1}).content == "2"
    assert call_tool(tools["sleep"], {"seconds": 0.01}).content == "slept 0.01"


def test_a_server_that_dies_is_a_clear_error():
    with MCPServer.stdio(sys.executable, [SERVER], timeout=30, prefix="doomed_") as server:
        tools = {t.name: t for t in server.tools}
        assert "doomed_add" in tools
        died = call_tool(tools["doomed_die"], {})
        assert died.is_error and "is gone" in died.content and "dying on purpose" in died.content
        after = call_tool(tools["doomed_add"], {"a": 1, "b": 2})
        assert after.is_error and "is gone" in after.content
    closed = call_tool(tools["doomed_add"], {"a": 1, "b": 2})
    assert closed.is_error and "is not connected" in closed.content


def test_a_server_that_cannot_start_says_why():
    script = "import sys; print('no MCP here: missing config', file=sys.stderr); sys.exit(2)"
    with pytest.raises(UserError, match="could not connect to MCP server.*missing config"):
        with MCPServer.stdio(sys.executable, ["-c", script], connect_timeout=30):
            pass


@pytest.fixture(scope="module")
def http_url():
    port = free_port()
    process = subprocess.Popen([sys.executable, SERVER, "--http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the MCP HTTP server exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the MCP HTTP server did not start listening")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


def test_streamable_http(http_url):
    with MCPServer.http(http_url, headers={"X-Test": "1"}, timeout=30) as server:
        tools = {t.name: t for t in server.tools}
        add, square, fail = call_tools(tools, [
            ToolCall("add", {"a": 40, "b": 2}), ToolCall("red_square", {}), ToolCall("fail", {"message": "nope"}),
        ])
        assert add.content == "42"
        assert square.content[0]["image"].size == (8, 8)
        assert fail.is_error and "nope" in fail.content
