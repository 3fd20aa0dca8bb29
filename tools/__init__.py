"""Tools: typed functions the model can call, next to the UI tools.

    from vlagent.tools import tool, call_tools

    @tool(timeout=10)
    def add(a: int, b: int) -> int:
        '''Add two numbers.'''
        return a + b

Built-in tools live in submodules (`vlagent.tools.weather.get_weather`,
`vlagent.tools.flights.flight_status` / `search_flights`); MCP servers' tools come through
`vlagent.tools.mcp.MCPServer`; installed plugins through `load_plugins()`. Those submodules pull
in httpx or the MCP SDK, so they are imported only when named.
"""

from ..calls import ToolResult
from .arguments import validate_arguments
from .base import (
    DEFAULT_TIMEOUT,
    FunctionTool,
    RawTool,
    Tool,
    load_plugins,
    tool,
    tool_schema,
)
from .runner import call_tool, call_tools, to_content

__all__ = [
    "DEFAULT_TIMEOUT",
    "FunctionTool",
    "RawTool",
    "Tool",
    "ToolResult",
    "call_tool",
    "call_tools",
    "load_plugins",
    "to_content",
    "tool",
    "tool_schema",
    "validate_arguments",
]
