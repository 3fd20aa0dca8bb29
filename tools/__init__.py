"""Tools: typed functions the model can call, next to the UI tools."""

from .base import FunctionTool, Tool, tool, tool_schema, validate_arguments

__all__ = ["FunctionTool", "Tool", "tool", "tool_schema", "validate_arguments"]
