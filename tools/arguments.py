"""The one check of a call's arguments against its tool's JSON Schema, for function tools and the
UI tools alike, with one message style the model reads: `tool: where: what; where: what`.

jsonschema (~40 ms) is imported by the first check, not at import, so that `from vlagent import
Agent` stays cheap (issue #20, cold start).
"""

from __future__ import annotations

import functools
import json
import math
from typing import TYPE_CHECKING, Any

from ..errors import ToolArgumentsError

if TYPE_CHECKING:
    from .base import Tool

MAX_PROBLEMS = 8  # named in one message; the model fixes the first few and sees the rest next time
MAX_QUOTE = 200  # characters of a message quoting the model's value: a 100 KB string must not come back whole


def validate_arguments(t: "Tool | dict[str, Any]", arguments: Any) -> None:
    """Raise ToolArgumentsError, worded for the model, when `arguments` break the tool's schema.

    `t` is a Tool or its function schema (`tool_schema`'s shape, as the UI tools are). Every
    violation is named (path and reason, formats included: `"date": "tomorrow"` fails here rather
    than deep inside the tool), and NaN or Infinity (which json5 and Python's json read, and no
    bound catches) is refused.
    """
    name, parameters = (t["function"]["name"], t["function"]["parameters"]) if isinstance(t, dict) else (t.name, t.parameters)
    if not isinstance(arguments, dict):
        raise ToolArgumentsError(f"{name}: the arguments must be a JSON object, not {type(arguments).__name__}")
    errors = sorted(validator_for(parameters).iter_errors(arguments), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{_where(e.absolute_path)}: {_what(e)}" for e in errors[:MAX_PROBLEMS]]
    problems += [f"{_where(path)}: numbers must be finite" for path in _not_finite(arguments, ())]
    if problems:
        raise ToolArgumentsError(f"{name}: {'; '.join(problems[:MAX_PROBLEMS])}")


def argument_error(name: str, where: str, what: str) -> ToolArgumentsError:
    """A problem the schema cannot express (a field one action needs), in the same style."""
    return ToolArgumentsError(f"{name}: {where}: {what}")


def validator_for(schema: dict[str, Any]) -> Any:
    """A validator for `schema` in its declared draft (2020-12 when none is named) that checks
    formats too; compiled once per schema text (`jsonschema.validate` would check and compile
    the schema again on every call, ~15 ms a step for the UI tool). Raises SchemaError for a
    broken schema."""
    return _compiled(json.dumps(schema, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Any:
    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _where(path: Any) -> str:
    return "/".join(str(p) for p in path) or "arguments"


def _what(error: Any) -> str:
    message = error.message
    if len(message) > MAX_QUOTE:
        message = f"{message[:120]} ... {message[-60:]}"
    if error.validator == "maxLength":
        message += f" (at most {error.validator_value} characters)"
    return message


def _not_finite(value: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _not_finite(v, (*path, k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _not_finite(v, (*path, i))]
    return []
