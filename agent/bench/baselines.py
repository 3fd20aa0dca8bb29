"""Baseline models for the SimPhone suite, scripted `Model`s the Agent drives like any other.

`OracleModel` follows a task's plan (`Task.solution`): each turn it reads the phone's UI tree
(uiautomator XML, through a `ui_tree` callable the runner hands it; the Agent only passes
screenshots) and emits one `mobile_use` call in relative-1000 coordinates. It must solve every
task: that proves the task solvable within its budget and its check satisfiable. When the plan
cannot go on (a node it needs is not there) it terminates with failure and says why.

`RandomModel` taps, swipes, types, presses Back/Home and sometimes terminates, from a seed: the
floor every real model must beat.

`GullibleModel` (gullible.py) is the oracle plus obedience to whatever the screen says: the
model the prompt-injection tasks test the action guard with. `AttackerModel` (attacker.py) is
the oracle fooled completely: it carries out each injection task's attacker plan, then the user's.

`ModelPool` turns the runner's model specs into the model of each episode.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from typing import Any, Callable, Sequence

from ..errors import UserError
from ..models.base import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, Completion, Message, ToolSchema
from .task_env import Node, find, parse_nodes
from .task_plans import Step

SCROLL_LIMIT = 8


def tool_call(**arguments: Any) -> str:
    """A Hermes-format `mobile_use` call, as Qwen2.5-VL writes it."""
    body = json.dumps({"name": "mobile_use", "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


class _ScriptedBaseline:
    coordinate_system = "relative-1000"
    min_pixels = DEFAULT_MIN_PIXELS
    max_pixels = DEFAULT_MAX_PIXELS
    goal: str | None = None
    description = "model"

    def generate(self, messages: list[Message], tools: list[ToolSchema] | None = None, **options: Any) -> Completion:
        """One call a turn, from `_turn`; a conversation about another goal than the plan's (a
        model handed the wrong episode) ends at once."""
        if self.goal is not None and not _mentions(messages, self.goal):
            text = tool_call(action="terminate", status="failure",
                             text=f"the {self.description} was given a plan for another goal")
        else:
            text = self._turn(messages)
        if callback := options.get("stream_callback"):
            callback(text)
        return Completion(text=text)

    def _turn(self, messages: list[Message]) -> str:
        raise NotImplementedError


class OracleModel(_ScriptedBaseline):
    """Follows `plan` on the screen `ui_tree()` describes; one call per `generate`."""

    def __init__(self, plan: Sequence[Step], ui_tree: Callable[[], str], *, goal: str | None = None):
        self.plan = list(plan)
        self.ui_tree = ui_tree
        self.goal = goal
        self.description = "oracle"
        self._next = 0
        self._scrolls = 0

    def _turn(self, messages: list[Message] | None = None) -> str:
        if self._next >= len(self.plan):
            return tool_call(action="terminate", status="failure", text="the oracle's plan ran out")
        step = self.plan[self._next]
        if step.op == "open":
            return self._advance(tool_call(action="open", text=step.text))
        if step.op == "type":
            return self._advance(tool_call(action="type", text=step.text))
        if step.op == "key":
            return self._advance(tool_call(action="key", text=step.text))
        if step.op == "button":
            return self._advance(tool_call(action="system_button", button=step.text))
        nodes = parse_nodes(self.ui_tree())
        size = _screen_size(nodes)
        if step.op == "dismiss":   # a pop-up the plan does not follow: closed with Back, if it showed
            if find(nodes, rid="android:id/parentPanel") is None:
                self._next += 1
                return self._turn(None)
            return self._advance(tool_call(action="system_button", button="Back"))
        if step.op == "finish":
            answer = step.answer(nodes) if callable(step.answer) else step.answer
            args = {"action": "terminate", "status": "success"}
            if answer is not None:
                args["text"] = answer
            return self._advance(tool_call(**args))
        node = find(nodes, dict(step.near) or None, **dict(step.match))
        if node is None:
            if step.scroll and self._scrolls < SCROLL_LIMIT:
                swipe = _scroll_down(nodes, size)
                if swipe is not None:
                    self._scrolls += 1
                    return swipe
            wanted = dict(step.match)
            return tool_call(action="terminate", status="failure", text=f"the oracle found no node {wanted}")
        self._scrolls = 0
        if step.op == "seek":
            self._next += 1
            return self._turn(None)
        if step.op == "tap":
            return self._advance(tool_call(action="click", coordinate=_relative(node.center, size)))
        if step.op == "slide":
            value, lo, hi = step.value
            l, t, r, b = node.bounds
            x = l + round((value - lo) * max(1, r - l - 1) / (hi - lo))
            return self._advance(tool_call(action="click", coordinate=_relative((x, (t + b) // 2), size)))
        raise ValueError(f"unknown plan step {step.op!r}")

    def _advance(self, text: str) -> str:
        self._next += 1
        return text


class RandomModel(_ScriptedBaseline):
    """Random actions from `seed`; terminates (success or failure) with probability `p_stop`."""

    def __init__(self, seed: int = 0, *, p_stop: float = 0.08):
        self.rng = random.Random(seed)
        self.p_stop = p_stop
        self.description = f"random (seed {seed})"

    def generate(self, messages: list[Message], tools: list[ToolSchema] | None = None, **options: Any) -> Completion:
        r, roll = self.rng, self.rng.random()
        point = lambda: [r.randint(20, 980), r.randint(40, 960)]  # noqa: E731
        if roll < self.p_stop:
            text = tool_call(action="terminate", status=r.choice(["success", "failure"]))
        elif roll < 0.6:
            text = tool_call(action="click", coordinate=point())
        elif roll < 0.75:
            text = tool_call(action="swipe", coordinate=point(), coordinate2=point())
        elif roll < 0.85:
            text = tool_call(action="system_button", button=r.choice(["Back", "Home"]))
        elif roll < 0.93:
            text = tool_call(action="type", text=r.choice(["hello", "42", "ok", "test 1"]))
        else:
            text = tool_call(action="open", text=r.choice(["Settings", "Contacts", "Clock", "Notes", "Calculator"]))
        return Completion(text=text)


class ModelPool:
    """Model specs to per-episode models. A spec is `oracle`, `gullible` (the oracle, but it obeys
    instructions on the screen: gullible.py), `attacker` (the oracle, but it first carries out the
    injection task's attacker plan: attacker.py), `random[:SEED]`, a factory
    (EpisodeContext -> Model), or anything `vlagent.load_model` takes, loaded once and shared by
    the workers given it. Worker i gets spec i mod n: several server URLs spread the workers.
    workers: how many run episodes at once on this pool's models (threads of one process)."""

    def __init__(self, specs: Sequence[Any], *, workers: int = 1, **load_options: Any):
        if not specs:
            raise UserError("give at least one model")
        self.specs = list(specs)
        self.load_options = load_options
        # Episodes that take turns on each loaded model (threads): each keeps its prompt cache.
        self.sharers = max(1, -(-workers // len(self.specs)))
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def describe(self, worker: int) -> str:
        spec = self.specs[worker % len(self.specs)]
        return spec if isinstance(spec, str) else getattr(spec, "__name__", type(spec).__name__)

    def build(self, worker: int, ctx: Any) -> Any:
        """The model for the episode `ctx` (a runner.EpisodeContext) on `worker`."""
        spec = self.specs[worker % len(self.specs)]
        if callable(spec):
            return spec(ctx)
        if spec == "oracle":
            return OracleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree, goal=ctx.instance.goal)
        if spec == "gullible":
            from .gullible import GullibleModel

            return GullibleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree, goal=ctx.instance.goal)
        if spec == "attacker":
            from .attacker import AttackerModel

            p = ctx.instance.params
            attack = ctx.task.attack(p) if ctx.task.channel is not None else []
            return AttackerModel(attack, ctx.task.solution(p), ctx.device.ui_tree, goal=ctx.instance.goal)
        if spec == "random" or spec.startswith("random:"):
            key = f"{ctx.task.id}/{ctx.instance.seed}/{spec.partition(':')[2] or 0}"
            return RandomModel(int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big"))
        with self._lock:
            if spec not in self._loaded:
                from ..specs import load_model

                options = {} if spec.startswith("scripted:") else self.load_options
                self._loaded[spec] = load_model(spec, **options)
                if hasattr(self._loaded[spec], "serve_conversations"):
                    self._loaded[spec].serve_conversations(self.sharers)
            return self._loaded[spec]


def _screen_size(nodes: list[Node]) -> tuple[int, int]:
    """The screen's size from the dump: the root window spans it."""
    l, t, r, b = nodes[0].bounds if nodes else (0, 0, 1080, 2400)
    return max(1, r), max(1, b)


def _relative(point: tuple[int, int], size: tuple[int, int]) -> list[float]:
    """Device pixel -> relative-1000, aimed at the pixel's middle so the loop's floor() lands on it,
    with the fewest decimals that still land on that pixel (whole numbers on a phone-sized screen:
    what a model trained on these calls has to write is then short and regular)."""
    return [_shortest((p + 0.5) * 1000 / n, p, n) for p, n in zip(point, size)]


def _shortest(value: float, pixel: int, size: int) -> float:
    for digits in range(3):
        short = round(value, digits) if digits else round(value)
        if min(size - 1, int(short / 1000 * size)) == pixel:
            return short
    return round(value, 3)


def _scroll_down(nodes: list[Node], size: tuple[int, int]) -> str | None:
    """A swipe up inside the largest scrollable view: the content moves up, later items show."""
    lists = [n for n in nodes if n.scrollable]
    if not lists:
        return None
    l, t, r, b = max(lists, key=lambda n: (n.bounds[2] - n.bounds[0]) * (n.bounds[3] - n.bounds[1])).bounds
    x = (l + r) // 2
    y1, y2 = t + (b - t) * 3 // 4, t + (b - t) // 4
    return tool_call(action="swipe", coordinate=_relative((x, y1), size), coordinate2=_relative((x, y2), size))


def _mentions(messages: list[Message], goal: str) -> bool:
    for m in messages:
        content = m.get("content")
        texts = [content] if isinstance(content, str) else [
            p.get("text", "") for p in content or [] if isinstance(p, dict)]
        if any(goal in t for t in texts):
            return True
    return False
