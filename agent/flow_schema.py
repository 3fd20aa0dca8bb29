"""The flow file's JSON Schema, and its problems told by line: `flow.yaml:7:5: step 3 'tap': ...`.

`FLOW_SCHEMA` says what a flow may hold; `STEP_SCHEMAS` one entry per step kind, each with an
`x-expected` phrase that error messages quote. `compose` reads YAML keeping PyYAML's composed
nodes, whose marks give every value its line and column; `find_problems` maps each schema error
(and what the schema cannot say: duplicate keys, invalid inline JSON Schemas) back to the node it
is about and words it for the person who wrote the flow.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import jsonschema
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import FlowError

__all__ = ["BARE_STEPS", "FLOW_SCHEMA", "SCHEMA_TYPES", "STEP_SCHEMAS", "child", "compose", "find_problems",
           "location"]


# -- the schema -----------------------------------------------------------------------------------

_TEXT = {"type": "string", "minLength": 1}
_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_TARGET = {"oneOf": [_POINT, _TEXT], "x-expected": "[x, y] or a description"}
_MS = {"type": "integer", "minimum": 0, "x-expected": "milliseconds, a whole number"}
_SECONDS = {"type": "number", "exclusiveMinimum": 0, "x-expected": "seconds, a number above 0"}
SCHEMA_TYPES: dict[str, Any] = {
    "str": str, "string": str, "int": int, "integer": int, "float": float, "number": float,
    "bool": bool, "boolean": bool, "list[str]": list[str], "list[int]": list[int],
    "list[float]": list[float], "list[bool]": list[bool], "dict": dict[str, Any], "object": dict[str, Any],
}


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


STEP_SCHEMAS: dict[str, dict[str, Any]] = {
    "open_app": {**_TEXT, "x-expected": "an app name or package, e.g. Settings"},
    "tap": _TARGET,
    "long_press": {"oneOf": [_POINT, _TEXT, _obj({"target": _TARGET, "duration_ms": _MS}, ["target"])],
                   "x-expected": "[x, y], a description, or {target: ..., duration_ms: ms}"},
    "type": {"type": ["string", "number"], "x-expected": "the text to type"},
    "key": {"oneOf": [_TEXT, {"type": "array", "items": _TEXT, "minItems": 1}],
            "x-expected": "a key name (enter, back, del, volume_up, ...) or a list pressed together"},
    "swipe": {"oneOf": [{"enum": ["up", "down", "left", "right"]},
                        _obj({"from": _TARGET, "to": _TARGET, "duration_ms": _MS}, ["from", "to"])],
              "x-expected": "up, down, left, right, or {from: [x, y] or a description, to: ..., duration_ms: ms}"},
    "wait": {"type": "number", "minimum": 0, "x-expected": "seconds to wait"},
    "wait_for": {"oneOf": [_TEXT, _obj({"condition": _TEXT, "timeout": _SECONDS, "interval": _SECONDS}, ["condition"])],
                 "x-expected": "a condition, or {condition: ..., timeout: seconds, interval: seconds}"},
    "assert": {**_TEXT, "x-expected": "a condition that must hold on the screen"},
    "query": {**_obj({"question": _TEXT,
                      "schema": {"oneOf": [{"enum": list(SCHEMA_TYPES)}, {"type": "object"}],
                                 "x-expected": f"one of {', '.join(SCHEMA_TYPES)}, or a JSON Schema"},
                      "save_as": {"type": "string", "pattern": r"^[A-Za-z_]\w*$",
                                  "x-expected": "a variable name (letters, digits, _)"}}, ["question"]),
              "x-expected": "{question: ..., schema: int, save_as: name}"},
    "run": {"oneOf": [_TEXT, _obj({"goal": _TEXT, "max_steps": {"type": "integer", "minimum": 1}}, ["goal"])],
            "x-expected": "a goal, or {goal: ..., max_steps: n}"},
    "back": {"type": "null", "x-expected": "nothing (write `- back`)"},
    "home": {"type": "null", "x-expected": "nothing (write `- home`)"},
    "screenshot": {**_TEXT, "x-expected": "a file name, saved in the output folder"},
}
BARE_STEPS = ("back", "home")  # steps written without a value: `- back`

FLOW_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "vlagent flow",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "device": {"type": "string", "x-expected": "a device spec: sim, adb[:SERIAL], desktop[:N], image:PATH"},
        "model": {"type": "string", "x-expected": "a model spec, e.g. a URL, a checkpoint or scripted:FILE.json"},
        "steps": {
            "type": "array", "minItems": 1,
            "items": {
                "type": ["object", "string"],
                "if": {"type": "string"},
                "then": {"enum": list(BARE_STEPS)},
                "else": {"type": "object", "properties": STEP_SCHEMAS, "additionalProperties": False,
                         "minProperties": 1, "maxProperties": 1},
            },
        },
    },
    "required": ["steps"],
    "additionalProperties": False,
}


# -- reading a flow, and saying where its problems are --------------------------------------------


# A flow is a few dozen steps; these bounds stop a hostile file (brackets nested thousands deep,
# aliases of aliases that expand to billions of values) in milliseconds instead of a
# RecursionError or minutes of work.
MAX_NESTING = 50
MAX_VALUES = 100_000


def compose(text: str, path: str) -> tuple[Node, Any]:
    """The document's root node (it knows every value's position) and its data; FlowError, with
    the line, for YAML that cannot be read or is too deep or too large to be a flow."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise FlowError(f"{path}:1:1: the flow is empty; it needs a `steps:` list")
        values, depth = _extent(root, {})
        if depth > MAX_NESTING:
            raise FlowError(f"{path}: values nest {depth} deep; a flow nests a few levels, at most {MAX_NESTING}")
        if values > MAX_VALUES:
            raise FlowError(f"{path}: its aliases (*name) expand to more than {MAX_VALUES:,} values, far "
                            "more than a flow holds; write the steps out instead of nesting aliases")
        return root, loader.construct_document(root)
    except _Recursive as e:
        raise FlowError(f"{location(path, e.args[0])}: this alias names a value that contains it; "
                        "a flow's values cannot hold themselves") from None
    except RecursionError:  # PyYAML composes recursively: a few hundred levels exhaust the stack
        raise FlowError(f"{path}: values nest too deep to read; a flow nests a few levels, at most {MAX_NESTING}") from None
    except yaml.MarkedYAMLError as e:
        raise FlowError(_syntax_message(e, path)) from None
    except yaml.YAMLError as e:
        raise FlowError(f"{path}: YAML error: {e}") from None
    finally:
        loader.dispose()


class _Recursive(Exception):
    """An alias inside the value it names."""


def _extent(node: Node, seen: dict[int, tuple[int, int] | None]) -> tuple[int, int]:
    """(values once aliases are expanded, nesting depth) under `node`; an alias is a node met
    again, so each is counted once per use but walked once (`seen`)."""
    if id(node) in seen:
        if seen[id(node)] is None:
            raise _Recursive(node)
        return seen[id(node)]
    seen[id(node)] = None  # being walked: met again below, it contains itself
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = list(node.value)
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    values, depth = 1, 0
    for c in children:
        v, d = _extent(c, seen)
        values, depth = min(values + v, MAX_VALUES + 1), max(depth, d)
    seen[id(node)] = (values, depth + 1)
    return seen[id(node)]


def find_problems(root: Node, data: Any, path: str) -> list[str]:
    """Every problem of a composed flow, `file:line:column: ...`, once each, in file order."""
    problems = _duplicate_keys(root, path)
    misindented = _fields_beside_their_step(root, data, path)
    problems += misindented.values()
    validator = jsonschema.Draft202012Validator(FLOW_SCHEMA)
    for error in validator.iter_errors(data):
        if list(error.absolute_path)[:2] not in [["steps", i] for i in misindented]:
            problems.extend(_explain(error, root, data, path))
    if not problems:
        problems = _check_values(root, data, path)
    return sorted(dict.fromkeys(problems), key=_position)


def _syntax_message(e: yaml.MarkedYAMLError, path: str) -> str:
    mark = e.problem_mark or e.context_mark
    if "end of stream" in (e.problem or "") or "<stream end>" in (e.problem or ""):
        # the end of the file is past its last line: point where the unclosed thing began
        mark = e.context_mark or mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
    problem = e.problem or "syntax error"
    context = f", {e.context} at line {e.context_mark.line + 1}" if e.context and e.context_mark else ""
    if "'\\t'" in problem:
        hint = "a tab: indent YAML with spaces, not tabs"
    elif "expected <block end>" in problem:
        start = f" (the block starting at line {e.context_mark.line + 1})" if e.context_mark else ""
        hint = f"bad indentation: this line is not lined up with the lines of its block{start}"
    elif "mapping values are not allowed" in problem:
        hint = "an unexpected ':': check this line's indentation, or quote a text that holds ': '"
    elif "end of stream" in problem and "quoted" in (e.context or ""):
        hint = "a quote that is never closed"
    elif "<stream end>" in problem and "flow" in (e.context or ""):
        hint = "a [ or { that is never closed"
    else:
        hint = problem
    return f"{where}: YAML syntax error: {hint} (PyYAML: {problem}{context})"


def location(path: str, node: Node) -> str:
    """`path:line:column` of `node`, counted from 1 as editors do."""
    return f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _position(problem: str) -> tuple[int, int]:
    m = re.match(r".*?:(\d+):(\d+): ", problem)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def child(node: Node, key: Any) -> Node:
    """The node under `key` (a mapping key or a list index); `node` itself when there is none."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == str(key):
                return v
    if isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return node


def _key_node(node: Node, key: str) -> Node:
    if isinstance(node, MappingNode):
        for k, _ in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return k
    return node


def _node_at(root: Node, path: list[Any]) -> Node:
    node = root
    for key in path:
        below = child(node, key)
        if below is node:
            break
        node = below
    return node


def _duplicate_keys(node: Node, path: str) -> list[str]:
    """PyYAML keeps the last of two equal keys silently; in a flow that hides a lost step."""
    problems = []
    if isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for k, v in node.value:
            if isinstance(k, ScalarNode):
                if k.value in seen:
                    first = seen[k.value].start_mark.line + 1
                    problems.append(f"{location(path, k)}: duplicate key '{k.value}' (also on line {first}); "
                                    "each step needs its own '- ' item")
                seen[k.value] = k
            problems += _duplicate_keys(v, path)
    elif isinstance(node, SequenceNode):
        for v in node.value:
            problems += _duplicate_keys(v, path)
    return problems


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
        if isinstance(value, dict):
            text = text.replace('"', "")
    return text if len(text) <= 48 else text[:44] + "…" + text[-2:]


def _explain(error: jsonschema.ValidationError, root: Node, data: Any, path: str) -> list[str]:
    """Messages for one schema error, each prefixed with the line and column it is about."""
    loc = list(error.absolute_path)
    node = _node_at(root, loc)
    if not loc:  # the top level
        if error.validator == "type":
            return [f"{location(path, node)}: a flow is a mapping with a `steps:` list (and optional name, "
                    f"device, model), got {_show(error.instance)}"]
        if error.validator == "required":
            return [f"{location(path, node)}: the flow has no `steps:` list"]
        if error.validator == "additionalProperties":
            return [f"{location(path, _key_node(node, k))}: unknown key '{k}' at the top level"
                    f"{_did_you_mean(k, FLOW_SCHEMA['properties'])}; the keys are: name, device, model, steps"
                    for k in error.instance if k not in FLOW_SCHEMA["properties"]]
        return [f"{location(path, node)}: {error.message}"]
    if loc[0] != "steps" or len(loc) == 1:
        if loc == ["steps"] and error.validator == "minItems":
            return [f"{location(path, node)}: `steps` is empty; give at least one step"]
        if loc == ["steps"] and error.validator == "type":
            return [f"{location(path, node)}: `steps` must be a list of steps ('- tap: ...' lines), "
                    f"got {_show(error.instance)}"]
        field_ = loc[0]
        expected = error.schema.get("x-expected") or error.message
        return [f"{location(path, node)}: `{field_}`: expected {expected}, got {_show(error.instance)}"]

    index = loc[1]
    step = data["steps"][index]
    prefix = f"step {index + 1}"
    if len(loc) == 2:  # the step item itself
        here = location(path, node)
        if error.validator == "additionalProperties":
            return [f"{location(path, _key_node(node, k))}: {prefix}: unknown step '{k}'"
                    f"{_did_you_mean(k, STEP_SCHEMAS)}; the steps are: {', '.join(STEP_SCHEMAS)}"
                    for k in error.instance if k not in STEP_SCHEMAS]
        if error.validator == "maxProperties":
            return [f"{here}: {prefix} has {len(step)} actions ({', '.join(step)}); give each its own '- ' item"]
        if error.validator == "minProperties":
            return [f"{here}: {prefix} is empty"]
        if error.validator == "enum":
            guess = str(step).split(":")[0].split()[0] if str(step).strip() else ""
            hint = f" (did you mean `{guess}: ...`, with a colon and a space?)" if guess in STEP_SCHEMAS else ""
            return [f"{here}: {prefix}: {_show(step)} is not a step{hint}; write `kind: value`, e.g. "
                    f"`tap: the OK button`; only {', '.join(BARE_STEPS)} stand alone"]
        return [f"{here}: {prefix}: expected a step such as `tap: [x, y]`, got {_show(step)}"]

    kind = loc[2]
    prefix += f" '{kind}'"
    problems = []
    for e, msg, key in _value_problems(error, loc[3:]):
        at = _node_at(root, list(e.absolute_path))
        problems.append(f"{location(path, _key_node(at, key) if key else at)}: {prefix}: {msg}")
    return problems


def _value_problems(error: jsonschema.ValidationError, rel: list[Any]) -> list[tuple[Any, str, str | None]]:
    """(error, message, offending key or None) for an error inside a step's value; `rel` is its
    path below the step."""
    field_ = "".join(f"`{p}`: " for p in rel)
    if error.validator in ("oneOf", "anyOf") and isinstance(error.instance, dict):
        # A mapping was meant for the object branch: its own errors say more than "none matched".
        objects = {i for i, b in enumerate(error.validator_value) if isinstance(b, dict) and b.get("type") == "object"}
        branch = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] in objects]
        if branch:
            best = jsonschema.exceptions.best_match(branch)
            return _value_problems(best, list(best.absolute_path)[3:])
    if error.validator == "required":
        missing = [r for r in error.validator_value if r not in error.instance]
        return [(error, f"{field_}missing `{missing[0]}`", None)]
    if error.validator == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        return [(error, f"{field_}unknown key `{k}`{_did_you_mean(k, error.schema.get('properties', {}))}; "
                        f"allowed: {allowed}", k) for k in extra]
    expected = error.schema.get("x-expected")
    if expected:
        hint = " (quote it: YAML reads yes/no/on/off as true/false)" if isinstance(error.instance, bool) else ""
        return [(error, f"{field_}expected {expected}, got {_show(error.instance)}{hint}", None)]
    return [(error, f"{field_}{error.message}", None)]


def _fields_beside_their_step(root: Node, data: Any, path: str) -> dict[int, str]:
    """Steps whose fields were written level with the step's name instead of under it:

        - swipe:
          from: [1, 2]     # YAML reads one item with three keys: swipe (empty), from, to
          to: [3, 4]

    Reported as that, by step index, instead of as an empty swipe and two unknown steps."""
    found = {}
    steps = data.get("steps") if isinstance(data, dict) else None
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict) or len(step) < 2:
            continue
        kind, *rest = step
        schema = STEP_SCHEMAS.get(kind) if isinstance(kind, str) else None
        fields = {f for alt in [schema or {}, *(schema or {}).get("oneOf", [])] for f in alt.get("properties", {})}
        if step[kind] is None and all(k in fields for k in rest):
            at = _key_node(_node_at(root, ["steps", i]), rest[0])
            found[i] = (f"{location(path, at)}: step {i + 1} '{kind}': {', '.join(f'`{k}`' for k in rest)} "
                        f"belong{'s' if len(rest) == 1 else ''} to `{kind}` but sit{'s' if len(rest) == 1 else ''} "
                        f"level with it; indent {'it' if len(rest) == 1 else 'them'} two more spaces, under `{kind}:`")
    return found


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_values(root: Node, data: dict[str, Any], path: str) -> list[str]:
    """What the schema cannot say: inline JSON Schemas of queries must themselves be valid."""
    problems = []
    for i, step in enumerate(data["steps"]):
        if isinstance(step, dict) and "query" in step and isinstance(step["query"].get("schema"), dict):
            try:
                jsonschema.Draft202012Validator.check_schema(step["query"]["schema"])
            except jsonschema.SchemaError as e:
                node = _node_at(root, ["steps", i, "query", "schema"])
                problems.append(f"{location(path, node)}: step {i + 1} 'query': `schema` is not a valid JSON "
                                f"Schema: {e.message}")
    return problems
