"""The Tool protocol, `@tool` (a Tool from a typed, docstringed function) and `RawTool`.

A Tool is `name`, `description`, `parameters` (JSON Schema) and `__call__(**arguments)`. Two
optional attributes tune how the runner calls it: `timeout` (seconds; None = no limit) and
`concurrent` (False: never run beside other calls). Tools without them get the defaults.

One schema, one truth: `parameters` is exactly what the model is shown *and* what
`validate_arguments` checks with jsonschema (formats included), before pydantic coerces the
checked JSON into Python values (dates, enums, nested models) for the function.

Nested models and enums are inlined: pydantic writes them as `$ref`s into `$defs`, and small
models reading a schema in their prompt handle a self-contained tree far better than pointers
(several chat templates even drop `$defs`). Only a recursive model, which cannot be inlined,
keeps `$defs` at the root, where jsonschema resolves its refs.
"""

from __future__ import annotations

import copy
import inspect
import logging
import re
import typing
from typing import Any, Callable, Protocol, runtime_checkable

import pydantic  # needed at import anyway: vlagent's actions and trajectories are pydantic models

# jsonschema (~40 ms) and asyncio (~15 ms) are imported where they are used, so that
# `from vlagent import Agent` stays cheap (issue #20, cold start): the first tool defined or
# checked pays for jsonschema, the first async tool for asyncio.

from ..errors import ToolArgumentsError, ToolExecutionError, VLAgentError
from .arguments import validate_arguments, validator_for

DEFAULT_TIMEOUT = 30.0

_log = logging.getLogger("vlagent.tools")


@runtime_checkable
class Tool(Protocol):
    """What the agent calls. Optional attributes: `timeout: float | None`, `concurrent: bool`."""

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


class _BaseTool:
    """Shared by FunctionTool and RawTool: the runner's attributes and error wrapping.

    risk: what calling it may do, for `vlagent.Policy`: "none" (it only reads), a risk name
    ("send", "pay", "delete", ...) or a list of them, True for "sensitive"; None (undeclared)
    makes it an unknown risk, which the policy asks about or denies. annotations: MCP's tool
    annotations (readOnlyHint, destructiveHint, ...), which the policy reads when risk is None."""

    name: str
    description: str
    parameters: dict[str, Any]

    def __init__(self, timeout: float | None, concurrent: bool, risk: Any = None,
                 annotations: Any = None) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"tool {self.name}: timeout must be positive seconds or None")
        self.timeout = timeout
        self.concurrent = concurrent
        self.risk = risk
        self.annotations = annotations
        validator_for(self.parameters)  # a broken schema fails at definition, not at the first call

    def _run(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        try:
            result = fn(**kwargs)
            if inspect.isawaitable(result):  # async def tools run on a fresh loop in the caller's thread
                import asyncio  # deferred: see the note at the imports

                result = asyncio.run(_await(result))
            return result
        except VLAgentError:  # the tool's own recoverable errors go to the model as they are;
            raise             # others (UserError, PolicyViolation, ...) must stop the run
        except Exception as e:  # the model sees what went wrong and may retry differently
            raise ToolExecutionError(f"{self.name} failed: {type(e).__name__}: {e}") from e

    def __repr__(self) -> str:
        return f"<tool {self.name}>"


async def _await(awaitable: Any) -> Any:
    return await awaitable


class FunctionTool(_BaseTool):
    """A Tool backed by a typed Python function: schema from its hints and docstring; arguments
    validated against that schema, then coerced by pydantic (dates, enums, nested models)."""

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, description: str | None = None,
        *, timeout: float | None = DEFAULT_TIMEOUT, concurrent: bool = True, risk: Any = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
        self.description = description or summary or self.name
        try:  # string hints (`from __future__ import annotations`) resolve in fn's module
            hints = typing.get_type_hints(fn, include_extras=True)
        except NameError as e:
            raise TypeError(
                f"@tool {self.name}: a type hint cannot be resolved ({e}); define the types it "
                "uses at module level"
            ) from None
        fields: dict[str, Any] = {}
        self._renamed: dict[str, str] = {}
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"@tool {self.name}: *args/**kwargs can't be described to a model")
            if pname not in hints:
                raise TypeError(f"@tool {self.name}: parameter {pname!r} needs a type hint")
            default = ... if param.default is inspect.Parameter.empty else param.default
            field = pydantic.Field(default, description=arg_docs.get(pname))
            if hasattr(pydantic.BaseModel, pname) or pname.startswith("model_"):
                # `json`, `copy`, `model_name`...: keep pydantic's names free, use an alias
                field = pydantic.Field(default, description=arg_docs.get(pname), alias=pname)
                self._renamed[f"{pname}_"] = pname
                pname = f"{pname}_"
            fields[pname] = (hints[param.name], field)
        # extra="forbid": a misspelt argument is reported to the model, not silently dropped.
        self._model = pydantic.create_model(
            f"{self.name}_arguments", __config__=pydantic.ConfigDict(extra="forbid", protected_namespaces=()), **fields
        )
        self.parameters = model_parameters(self._model)
        super().__init__(timeout, concurrent, risk)

    def __call__(self, **arguments: Any) -> Any:
        try:
            parsed = self._model.model_validate(arguments)
        except pydantic.ValidationError as e:
            problems = "; ".join(
                f"{'/'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors()
            )
            raise ToolArgumentsError(f"{self.name}: {problems}") from None
        kwargs = {self._renamed.get(k, k): getattr(parsed, k) for k in type(parsed).model_fields}
        return self._run(self.fn, kwargs)


class RawTool(_BaseTool):
    """A Tool declared with a raw JSON Schema: `fn(**arguments)` gets the validated JSON as is.

    For schemas that come from elsewhere (an MCP server, an OpenAPI file, a config).
    """

    def __init__(
        self, name: str, description: str, parameters: dict[str, Any], fn: Callable[..., Any],
        *, timeout: float | None = DEFAULT_TIMEOUT, concurrent: bool = True, risk: Any = None,
        annotations: Any = None,
    ) -> None:
        self.name, self.description, self.fn = name, description, fn
        self.parameters = parameters
        super().__init__(timeout, concurrent, risk, annotations)  # a broken schema fails here, at definition

    def __call__(self, **arguments: Any) -> Any:
        validate_arguments(self, arguments)
        return self._run(self.fn, arguments)


def tool(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT, concurrent: bool = True, risk: Any = None,
):
    """Decorator: `@tool` or `@tool(name=..., description=..., timeout=..., concurrent=..., risk=...)`.

    risk: declare what the tool may do (see _BaseTool): `risk="none"` for one that only reads;
    undeclared, a policy treats it as an unknown risk.

    The description is the docstring's text before its sections; parameter descriptions come
    from `Args:` (Google), `:param x:` (reST) or `Parameters` / `----------` (NumPy). The JSON
    Schema comes from the type hints: defaults, Literal and Enum, lists, Optional, dates,
    `Annotated[int, Field(ge=1)]` bounds and nested pydantic models all reach the schema.
    """
    options = dict(name=name, description=description, timeout=timeout, concurrent=concurrent, risk=risk)
    if fn is None:
        return lambda f: FunctionTool(f, **options)
    return FunctionTool(fn, **options)


# -- schema -----------------------------------------------------------------------------------

def model_parameters(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The JSON Schema of `model` as a tool's parameters: no titles, `$defs` inlined if possible."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.pop("$defs", {})
    try:
        schema = _inline(schema, defs, ())
    except _Recursive:
        schema = {**_strip_titles(schema), "$defs": {k: _strip_titles(v) for k, v in defs.items()}}
    else:
        schema = _strip_titles(schema)
    schema.setdefault("properties", {})
    return schema


class _Recursive(Exception):
    pass


_REF = re.compile(r"^#/\$defs/(.+)$")


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(n, defs, seen) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and (m := _REF.match(ref)):
        key = m.group(1)
        if key in seen:
            raise _Recursive(key)
        target = _inline(copy.deepcopy(defs[key]), defs, (*seen, key))
        siblings = {k: _inline(v, defs, seen) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}  # the field's own description and default win
    return {k: _inline(v, defs, seen) for k, v in node.items()}


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def _strip_titles(node: Any) -> Any:
    """Drop pydantic's generated `title`s, which only repeat the names (and cost prompt tokens).
    A *property* called "title" is kept: maps of names to schemas are walked, not stripped."""
    if isinstance(node, list):
        return [_strip_titles(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _strip_titles(v) for k, v in value.items()}
        elif key in ("default", "enum", "const", "examples", "required"):
            out[key] = value  # data, not schemas
        else:
            out[key] = _strip_titles(value)
    return out


# -- docstrings -------------------------------------------------------------------------------

_GOOGLE_ARGS = re.compile(r"^(Args|Arguments|Parameters|Params):\s*$")
_GOOGLE_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_NUMPY_ARG = re.compile(r"^(\w+)\s*(?::.*)?$")
_REST_FIELD = re.compile(r"^:(\w+)((?:\s+[^\s:]+)*)\s*:\s*(.*)$")  # :param type name: text
_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Examples?|Notes?|See Also|"
    r"Warnings?|Attributes|Other Parameters|References|Todo):\s*$"
)


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google, reST or NumPy style docstring."""
    lines = doc.expandtabs().splitlines()
    args: dict[str, str] = {}
    end = len(lines)  # where the description stops: the first section or field
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _SECTION.match(line) or (line and _NUMPY_UNDERLINE.match(nxt)) or _REST_FIELD.match(line):
            end = min(end, i)
        if _GOOGLE_ARGS.match(line):
            i = _google_args(lines, i + 1, args)
            continue
        if line in ("Parameters", "Other Parameters") and _NUMPY_UNDERLINE.match(nxt):
            i = _numpy_args(lines, i + 2, args)
            continue
        if (m := _REST_FIELD.match(line)) and m.group(1) in ("param", "parameter", "arg", "argument", "key"):
            name = m.group(2).split()[-1] if m.group(2).split() else ""
            text, i = _continuation(lines, i + 1, m.group(3), indent_of(lines[i]))
            if name:
                args[name] = text
            continue
        i += 1
    paragraphs = "\n".join(lines[:end]).strip().split("\n\n")
    summary = "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
    return summary, args


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def _continuation(lines: list[str], i: int, first: str, base: int) -> tuple[str, int]:
    """`first` plus the following lines indented deeper than `base`."""
    parts = [first.strip()] if first.strip() else []
    while i < len(lines) and lines[i].strip() and indent_of(lines[i]) > base:
        parts.append(lines[i].strip())
        i += 1
    return " ".join(parts), i


def _google_args(lines: list[str], i: int, args: dict[str, str]) -> int:
    base = None
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = indent_of(line)
        if base is None:
            base = indent
        if indent < base or (indent == base and _SECTION.match(line.strip())) or base == 0:
            return i
        m = _GOOGLE_ARG.match(line.strip()) if indent == base else None
        if not m:
            i += 1
            continue
        args[m.group(1).lstrip("*")], i = _continuation(lines, i + 1, m.group(2), indent)
    return i


def _numpy_args(lines: list[str], i: int, args: dict[str, str]) -> int:
    base = None
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _NUMPY_UNDERLINE.match(nxt) or _SECTION.match(line.strip()):
            return i
        base = indent_of(line) if base is None else base
        m = _NUMPY_ARG.match(line.strip())
        if m and indent_of(line) == base:  # "name : type", its description indented below
            args[m.group(1)], i = _continuation(lines, i + 1, "", base)
        else:
            i += 1
    return i


# -- plugins ----------------------------------------------------------------------------------

PLUGIN_GROUP = "vlagent.tools"


def load_plugins(group: str = PLUGIN_GROUP) -> list[Tool]:
    """Tools that installed packages declare as entry points in `group`.

    An entry point may name a Tool, a list of Tools, a plain typed function (wrapped with
    `@tool`), or a factory: a function annotated to return Tools (`-> list[Tool]`), called with
    no arguments. A plugin that fails to import or to produce Tools is skipped with a warning
    naming it; a name already taken by an earlier plugin is skipped the same way.
    """
    from importlib.metadata import entry_points

    tools: dict[str, Tool] = {}
    for ep in entry_points(group=group):
        try:
            found = _plugin_tools(ep.load())
        except Exception as e:  # a broken plugin must not take the agent down with it
            _log.warning("skipping vlagent tool plugin %r (%s): %s: %s", ep.name, ep.value, type(e).__name__, e)
            continue
        for t in found:
            if t.name in tools:
                _log.warning("skipping tool %r from plugin %r: the name is already taken", t.name, ep.name)
                continue
            tools[t.name] = t
    return list(tools.values())


def _plugin_tools(obj: Any) -> list[Tool]:
    if isinstance(obj, Tool):
        return [obj]
    if isinstance(obj, (list, tuple)):
        items = list(obj)
    elif callable(obj) and _returns_tools(obj):
        items = list(obj())
    elif callable(obj):
        return [FunctionTool(obj)]
    else:
        raise TypeError(f"expected a Tool, a list of Tools or a function, got {type(obj).__name__}")
    bad = [type(t).__name__ for t in items if not isinstance(t, Tool)]
    if bad:
        raise TypeError(f"expected Tools, got {', '.join(bad)}")
    return items


def _returns_tools(fn: Any) -> bool:
    """Is `fn` a factory? Read from its return annotation (text under `from __future__ import
    annotations`), never by calling it: a plain tool function must not run at load time."""
    annotation = getattr(fn, "__annotations__", {}).get("return")
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return bool(re.search(r"\b(?:Function|Raw)?Tool\b", text))
