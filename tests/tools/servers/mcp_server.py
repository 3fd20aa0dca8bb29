"""A real MCP server for the bridge tests, on the official SDK.

    python mcp_server.py                       # stdio
    python mcp_server.py --http PORT           # streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import io
import os
import sys

import anyio
from mcp.server.mcpserver import MCPServer as _Server
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import ToolAnnotations

from PIL import Image as PILImage

server = _Server("vlagent-test")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def echo(text: str, times: int = 1) -> str:
    """Repeat a text.

    Args:
        text: What to say.
        times: How often.
    """
    return " ".join([text] * times)


@server.tool()
def red_square(size: int = 8) -> Image:
    """A red square PNG."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (size, size), (255, 0, 0)).save(buffer, format="PNG")
    return Image(data=buffer.getvalue(), format="png")


@server.tool()
async def sleep(seconds: float) -> str:
    """Sleep, then say so (async, so other calls go on meanwhile)."""
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def fail(message: str) -> str:
    """Always raises; the message reaches the client (ToolError is meant for that)."""
    raise ToolError(message)


@server.tool()
def crash() -> str:
    """Raises an unexpected exception; the SDK hides its message from the client."""
    raise RuntimeError("secret internals")


@server.tool()
def die() -> str:
    """Kill this server process, mid-call."""
    print("dying on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
def environment(name: str) -> str:
    """An environment variable of the server process."""
    return os.environ.get(name, "<unset>")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
