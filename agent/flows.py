"""YAML flows: a script as data, run by `vlagent flow run flow.yaml`.

    name: Turn on Wi-Fi
    device: sim
    model: http://localhost:8000/v1#Qwen2-VL-7B-Instruct
    steps:
      - open_app: Settings
      - tap: "Network & internet"        # grounded: the model (or the cache) finds it
      - tap: [960, 450]                  # exact, device pixels
      - wait_for: {condition: "Wi-Fi is on", timeout: 10}
      - query: {question: "the battery level in percent", schema: int, save_as: battery}
      - type: "Battery at ${battery}%"   # answers saved with save_as fill ${name}

A flow is checked against `FLOW_SCHEMA` (JSON Schema) before anything runs, and every problem is
reported as `flow.yaml:LINE:COLUMN: step N 'kind': what is wrong`, using the positions PyYAML's
composed nodes carry. A step that fails at run time raises its usual error, prefixed the same way.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import UserError, VLAgentError

log = logging.getLogger("vlagent.flows")

__all__ = ["FLOW_SCHEMA", "Flow", "FlowError", "FlowResult", "FlowStep", "StepResult", "execute_flow",
           "load_flow", "parse_flow", "run_flow"]


class FlowError(UserError):
    """A flow file that cannot run; each line of the message is `file:line:column: problem`."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


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


def flow_schema() -> dict[str, Any]:
    """The JSON Schema flow files are validated against."""
    return FLOW_SCHEMA


# -- loading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowStep:
    index: int  # 1-based, as in messages
    kind: str
    value: Any
    where: str  # "flow.yaml:7:5"


@dataclass(frozen=True)
class Flow:
    path: str
    steps: list[FlowStep]
    name: str | None = None
    device: str | None = None
    model: str | None = None


def load_flow(path: str | Path) -> Flow:
    """Read and validate a flow file; `FlowError` lists every problem with its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowError(f"{path}: no such flow file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FlowError(f"{path}: cannot read the flow: {e}") from None
    return parse_flow(text, str(path))


def parse_flow(text: str, path: str = "<flow>") -> Flow:
    root, data = _compose(text, path)
    problems = _duplicate_keys(root, path)
    validator = jsonschema.Draft202012Validator(FLOW_SCHEMA)
    for error in validator.iter_errors(data):
        problems.extend(_explain(error, root, data, path))
    if not problems:
        problems = _check_values(root, data, path)
    if problems:
        unique = sorted(dict.fromkeys(problems), key=_position)
        shown = unique[:10] + ([f"... and {len(unique) - 10} more"] if len(unique) > 10 else [])
        raise FlowError("\n".join(shown), unique)
    steps = []
    seq = _child(root, "steps")
    for i, raw in enumerate(data["steps"]):
        node = seq.value[i]
        kind, value = (raw, None) if isinstance(raw, str) else next(iter(raw.items()))
        steps.append(FlowStep(i + 1, kind, value, _where(path, node)))
    return Flow(path, steps, data.get("name"), data.get("device"), data.get("model"))


def _compose(text: str, path: str) -> tuple[Node, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise FlowError(f"{path}:1:1: the flow is empty; it needs a `steps:` list")
        return root, loader.construct_document(root)
    except yaml.MarkedYAMLError as e:
        raise FlowError(_syntax_message(e, path)) from None
    except yaml.YAMLError as e:
        raise FlowError(f"{path}: YAML error: {e}") from None
    finally:
        loader.dispose()


def _syntax_message(e: yaml.MarkedYAMLError, path: str) -> str:
    mark = e.problem_mark or e.context_mark
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
    else:
        hint = problem
    return f"{where}: YAML syntax error: {hint} (PyYAML: {problem}{context})"


def _where(path: str, node: Node) -> str:
    return f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _position(problem: str) -> tuple[int, int]:
    m = re.match(r".*?:(\d+):(\d+): ", problem)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _child(node: Node, key: Any) -> Node:
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
        child = _child(node, key)
        if child is node:
            break
        node = child
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
                    problems.append(f"{_where(path, k)}: duplicate key '{k.value}' (also on line {first}); "
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
            return [f"{_where(path, node)}: a flow is a mapping with a `steps:` list (and optional name, "
                    f"device, model), got {_show(error.instance)}"]
        if error.validator == "required":
            return [f"{_where(path, node)}: the flow has no `steps:` list"]
        if error.validator == "additionalProperties":
            return [f"{_where(path, _key_node(node, k))}: unknown key '{k}' at the top level"
                    f"{_did_you_mean(k, FLOW_SCHEMA['properties'])}; the keys are: name, device, model, steps"
                    for k in error.instance if k not in FLOW_SCHEMA["properties"]]
        return [f"{_where(path, node)}: {error.message}"]
    if loc[0] != "steps" or len(loc) == 1:
        if loc == ["steps"] and error.validator == "minItems":
            return [f"{_where(path, node)}: `steps` is empty; give at least one step"]
        if loc == ["steps"] and error.validator == "type":
            return [f"{_where(path, node)}: `steps` must be a list of steps ('- tap: ...' lines), "
                    f"got {_show(error.instance)}"]
        field_ = loc[0]
        expected = error.schema.get("x-expected") or error.message
        return [f"{_where(path, node)}: `{field_}`: expected {expected}, got {_show(error.instance)}"]

    index = loc[1]
    step = data["steps"][index]
    prefix = f"step {index + 1}"
    if len(loc) == 2:  # the step item itself
        here = _where(path, node)
        if error.validator == "additionalProperties":
            return [f"{_where(path, _key_node(node, k))}: {prefix}: unknown step '{k}'"
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
        problems.append(f"{_where(path, _key_node(at, key) if key else at)}: {prefix}: {msg}")
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
                problems.append(f"{_where(path, node)}: step {i + 1} 'query': `schema` is not a valid JSON "
                                f"Schema: {e.message}")
    return problems


# -- running --------------------------------------------------------------------------------------


@dataclass
class StepResult:
    index: int
    kind: str
    where: str
    seconds: float
    model_calls: int
    cached: bool  # needed the model's eyes but was served from the cache
    value: Any = None


@dataclass
class FlowResult:
    name: str | None
    path: str
    status: str
    steps: list[StepResult] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    model_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    trajectory: Path | None = None


def run_flow(path: str | Path, device_spec: Any = None, model_spec: Any = None, out: str | Path | None = None,
             *, cache: Any = True, variables: dict[str, Any] | None = None, settle_timeout: float = 2.0,
             on_step: Callable[[StepResult], None] | None = None) -> FlowResult:
    """Validate and run a flow file. `device_spec` / `model_spec` (a spec string, or a Device /
    Model object) override the flow's `device:` / `model:`; the device defaults to "sim", the
    model to none (grounded steps then need the cache to hold them)."""
    from .session import connect

    flow = load_flow(path)
    device = device_spec if device_spec is not None else (flow.device or "sim")
    model = model_spec if model_spec is not None else _resolve_model(flow.model, Path(path).parent)
    with connect(device, model, out=out, cache=cache, settle_timeout=settle_timeout,
                 name=flow.name or Path(path).stem) as session:
        result = execute_flow(flow, session, variables=variables, on_step=on_step)
        result.trajectory = session.trajectory_path
        return result


def _resolve_model(spec: str | None, base: Path) -> str | None:
    """A relative file in the flow's `model:` is relative to the flow file."""
    if spec is None:
        return None
    prefix = "scripted:" if spec.startswith("scripted:") else ""
    rest = spec.removeprefix(prefix)
    if rest and not Path(rest).is_absolute() and (base / rest).exists():
        return prefix + str(base / rest)
    return spec


def execute_flow(flow: Flow, session: Any, *, variables: dict[str, Any] | None = None,
                 on_step: Callable[[StepResult], None] | None = None) -> FlowResult:
    """Run a loaded flow's steps on a `Session`; a failing step raises its error, prefixed with
    `file:line:column: step N 'kind':`."""
    result = FlowResult(flow.name, flow.path, "running", variables=dict(variables or {}))
    started = time.perf_counter()
    for step in flow.steps:
        calls, hits = session.model_calls, session.cache_hits
        t = time.perf_counter()
        try:
            value = _run_step(session, step, _substitute(step.value, result.variables, step))
        except VLAgentError as e:
            result.status = "error"
            result.model_calls = session.model_calls
            result.cache_hits = session.cache_hits
            raise _located(e, step, result) from e
        used = session.model_calls - calls
        res = StepResult(step.index, step.kind, step.where, time.perf_counter() - t, used,
                         session.cache_hits > hits and used == 0, value)
        if step.kind == "query" and step.value.get("save_as"):
            result.variables[step.value["save_as"]] = value
        result.steps.append(res)
        log.info("%s: step %d '%s' done in %.2f s (%s)", step.where, step.index, step.kind, res.seconds,
                 "cache hit, no model call" if res.cached else f"{used} model call(s)")
        if on_step:
            on_step(res)
    result.status = "success"
    result.model_calls = session.model_calls
    result.cache_hits = session.cache_hits
    result.seconds = time.perf_counter() - started
    return result


def _run_step(s: Any, step: FlowStep, v: Any) -> Any:
    kind = step.kind
    if kind == "open_app":
        return s.open_app(v)
    if kind == "tap":
        return s.tap(v) if isinstance(v, str) else s.tap(*v)
    if kind == "long_press":
        if isinstance(v, dict):
            target = v["target"]
            return s.long_press(target if isinstance(target, str) else tuple(target), duration_ms=v.get("duration_ms", 1000))
        return s.long_press(v if isinstance(v, str) else tuple(v))
    if kind == "type":
        return s.type(str(v))
    if kind == "key":
        return s.key(*([v] if isinstance(v, str) else v))
    if kind == "swipe":
        if isinstance(v, str):
            return s.swipe(v)
        ends = [e if isinstance(e, str) else tuple(e) for e in (v["from"], v["to"])]
        return s.swipe(*ends, duration_ms=v.get("duration_ms", 300))
    if kind == "wait":
        return s.wait(float(v))
    if kind == "wait_for":
        if isinstance(v, str):
            return s.wait_for(v)
        return s.wait_for(v["condition"], timeout=v.get("timeout", 10.0), interval=v.get("interval", 1.0))
    if kind == "assert":
        return s.assert_(v)
    if kind == "query":
        schema = v.get("schema", "str")
        return s.query(v["question"], schema=schema if isinstance(schema, dict) else SCHEMA_TYPES[schema])
    if kind == "run":
        goal, max_steps = (v, 10) if isinstance(v, str) else (v["goal"], v.get("max_steps", 10))
        run = s.run(goal, max_steps=max_steps)
        if run.status != "success":
            from .session import ScriptError

            raise ScriptError(f"the sub-task {goal!r} ended with status {run.status!r}"
                              + (f" ({run.answer})" if run.answer else "") + f"; trajectory: {run.trajectory_path}")
        return run.answer
    if kind == "back":
        return s.back()
    if kind == "home":
        return s.home()
    if kind == "screenshot":
        target = Path(v)
        if not target.is_absolute() and s.out is not None:
            target = s.out / target
        target.parent.mkdir(parents=True, exist_ok=True)
        s.screenshot(target)
        return str(target)
    raise UserError(f"{step.where}: unknown step {kind!r}")  # the schema keeps this unreachable


_VAR = re.compile(r"\$\{(\w+)\}")


def _substitute(value: Any, variables: dict[str, Any], step: FlowStep) -> Any:
    """`${name}` in strings becomes a saved answer (or a variable given to run_flow)."""
    if isinstance(value, str):
        def repl(m: re.Match) -> str:
            if m.group(1) not in variables:
                known = ", ".join(variables) or "none yet"
                raise FlowError(f"{step.where}: step {step.index} '{step.kind}': no variable "
                                f"'{m.group(1)}' (saved so far: {known}; `query` with save_as saves one)")
            return str(variables[m.group(1)])
        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, variables, step) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables, step) for v in value]
    return value


def _located(error: VLAgentError, step: FlowStep, result: FlowResult) -> VLAgentError:
    """The same kind of error, its message prefixed with where in the flow it happened."""
    if str(error).startswith(step.where):
        located = error
    else:
        try:
            located = type(error)(f"{step.where}: step {step.index} '{step.kind}': {error}")
            located.__dict__.update(error.__dict__)
        except Exception:  # an error class with another constructor: keep it as it is
            located = error
    located.flow_step = step  # type: ignore[attr-defined]
    located.flow_result = result  # type: ignore[attr-defined]
    return located
