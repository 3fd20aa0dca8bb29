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
composed nodes carry (see `vlagent.flow_schema`). A step that fails at run time raises its usual
error, prefixed the same way.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import FlowError, ScriptError, UserError, VLAgentError
from .flow_schema import FLOW_SCHEMA, SCHEMA_TYPES, child, compose, find_problems, location

log = logging.getLogger("vlagent.flows")

__all__ = ["FLOW_SCHEMA", "Flow", "FlowResult", "FlowStep", "StepResult", "execute_flow",
           "load_flow", "parse_flow", "run_flow"]


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
    root, data = compose(text, path)
    problems = find_problems(root, data, path)
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise FlowError("\n".join(shown), problems)
    steps = []
    seq = child(root, "steps")
    for i, raw in enumerate(data["steps"]):
        node = seq.value[i]
        kind, value = (raw, None) if isinstance(raw, str) else next(iter(raw.items()))
        steps.append(FlowStep(i + 1, kind, value, location(path, node)))
    return Flow(path, steps, data.get("name"), data.get("device"), data.get("model"))


# -- running --------------------------------------------------------------------------------------


@dataclass
class StepResult:
    index: int  # 1-based, as the flow's step
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
    from .specs import connect

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
