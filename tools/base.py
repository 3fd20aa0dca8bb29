"""The Tool protocol and `@tool`, which builds a Tool from a typed, docstringed function.

A Tool is `name`, `description`, `parameters` (JSON Schema) and `__call__(**arguments)`. The
agent validates arguments against `parameters` before any call, so a tool body only ever sees
arguments of the right shape; a violation goes back to the model as a ToolArgumentsError.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Protocol, runtime_checkable

import jsonschema
import pydantic

from ..errors import ToolArgumentsError, ToolExecutionError


@runtime_checkable
class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]

    def __call__(self, **arguments: Any) -> Any: ...


def tool_schema(t: Tool) -> dict[str, Any]:
    """The OpenAI-style function schema the model sees."""
    return {
        "type": "function",
        "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
    }


def validate_arguments(t: Tool, arguments: dict[str, Any]) -> None:
    """Raise ToolArgumentsError, worded for the model, when `arguments` break `t.parameters`."""
    try:
        jsonschema.validate(arguments, t.parameters)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "arguments"
        raise ToolArgumentsError(
            f"{t.name}: {where}: {e.message}. Expected arguments matching {t.parameters}"
        ) from None


class FunctionTool:
    """A Tool backed by a Python function; arguments are coerced by pydantic after validation."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, description: str | None = None):
        self.fn = fn
        self.name = name or fn.__name__
        summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
        self.description = description or summary or self.name
        fields: dict[str, Any] = {}
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"@tool {self.name}: *args/**kwargs can't be described to a model")
            if param.annotation is inspect.Parameter.empty:
                raise TypeError(f"@tool {self.name}: parameter {pname!r} needs a type hint")
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (param.annotation, pydantic.Field(default, description=arg_docs.get(pname)))
        self._model = pydantic.create_model(f"{self.name}_arguments", **fields)
        schema = self._model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        self.parameters = schema

    def __call__(self, **arguments: Any) -> Any:
        try:
            parsed = self._model.model_validate(arguments)
        except pydantic.ValidationError as e:
            raise ToolArgumentsError(f"{self.name}: {e.errors(include_url=False)}") from None
        try:
            return self.fn(**{k: getattr(parsed, k) for k in type(parsed).model_fields})
        except Exception as e:  # the model sees what went wrong and may retry differently
            raise ToolExecutionError(f"{self.name} failed: {type(e).__name__}: {e}") from e

    def __repr__(self) -> str:
        return f"<tool {self.name}>"


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None):
    """Decorator: `@tool` or `@tool(name=..., description=...)` turns a function into a Tool.

    The description is the docstring's first paragraph; parameter descriptions come from its
    `Args:` section (Google style); the JSON Schema comes from the type hints.
    """
    if fn is None:
        return lambda f: FunctionTool(f, name=name, description=description)
    return FunctionTool(fn, name=name, description=description)


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$", re.MULTILINE)
_ARG_LINE = re.compile(r"^\s{2,}(\w+)\s*(?:\([^)]*\))?:\s*(.+)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    match = _ARGS_HEADER.search(doc)
    head = doc[: match.start()] if match else doc
    summary = " ".join(head.strip().split("\n\n")[0].split())
    args: dict[str, str] = {}
    if match:
        last = None
        for line in doc[match.end():].splitlines():
            if m := _ARG_LINE.match(line):
                last = m.group(1)
                args[last] = m.group(2).strip()
            elif last and line.strip() and line.startswith("    " * 2):
                args[last] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                break
    return summary, args
