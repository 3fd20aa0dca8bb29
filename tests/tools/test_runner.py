"""call_tools: order, concurrency, timeouts, errors for the model, results as content."""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest
from PIL import Image

from vlagent import ToolExecutionError, UserError
from vlagent.calls import ToolCall
from vlagent.tools import RawTool, ToolResult, call_tool, call_tools, to_content, tool


def _registry(*tools_):
    return {t.name: t for t in tools_}


def test_results_come_in_call_order():
    @tool
    def shout(text: str) -> str:
        """Upper-case."""
        return text.upper()

    calls = [ToolCall("shout", {"text": w}) for w in ("a", "b", "c", "d")]
    assert [r.content for r in call_tools(_registry(shout), calls)] == ["A", "B", "C", "D"]


def test_calls_run_concurrently_when_all_tools_allow_it():
    barrier = threading.Barrier(2, timeout=5)

    @tool
    def left() -> str:
        """Waits for right."""
        barrier.wait()  # passes only if `right` is running at the same time
        return "left"

    @tool
    def right() -> str:
        """Waits for left."""
        barrier.wait()
        return "right"

    results = call_tools(_registry(left, right), [ToolCall("left"), ToolCall("right")])
    assert [(r.content, r.is_error) for r in results] == [("left", False), ("right", False)]


def _overlap_recorder():
    lock, state = threading.Lock(), {"running": 0, "max": 0}

    def enter_and_leave(pause: threading.Event) -> None:
        with lock:
            state["running"] += 1
            state["max"] = max(state["max"], state["running"])
        pause.wait(0.05)  # give a concurrent call every chance to overlap
        with lock:
            state["running"] -= 1

    return state, enter_and_leave


def test_one_non_concurrent_tool_makes_the_batch_sequential():
    state, enter_and_leave = _overlap_recorder()
    never = threading.Event()

    @tool(concurrent=False)
    def device_tap(n: int) -> int:
        """Touches the device: must not overlap anything."""
        enter_and_leave(never)
        return n

    @tool
    def lookup(n: int) -> int:
        """Harmless."""
        enter_and_leave(never)
        return n

    calls = [ToolCall("device_tap", {"n": 1}), ToolCall("lookup", {"n": 2}), ToolCall("lookup", {"n": 3})]
    results = call_tools(_registry(device_tap, lookup), calls)
    assert [r.content for r in results] == ["1", "2", "3"]
    assert state["max"] == 1


def test_timeout_is_an_error_result_and_the_run_goes_on():
    release = threading.Event()

    @tool(timeout=0.2)
    def hang() -> str:
        """Never returns on its own."""
        release.wait(30)
        return "late"

    @tool
    def quick() -> str:
        """Fine."""
        return "quick"

    try:
        results = call_tools(_registry(hang, quick), [ToolCall("hang"), ToolCall("quick")])
        assert results[0] == ToolResult("hang", "Error: hang timed out after 0.2 s (it may still be running)", True)
        assert results[1] == ToolResult("quick", "quick")
        assert call_tool(hang, {}, timeout=0.05).content.startswith("Error: hang timed out after 0.05 s")
    finally:
        release.set()  # let the abandoned threads finish


def test_default_timeout_applies_to_tools_without_one():
    release = threading.Event()
    bare = RawTool("bare", "No timeout attribute.", {"type": "object", "properties": {}}, lambda: release.wait(30))
    del bare.timeout  # a protocol-only Tool: the runner must not need the attribute
    try:
        (result,) = call_tools({"bare": bare}, [ToolCall("bare")], default_timeout=0.1)
        assert result.is_error and "timed out after 0.1 s" in result.content
    finally:
        release.set()


def test_unknown_tool_lists_the_known_ones():
    @tool
    def alpha() -> str:
        """A."""
        return "a"

    (result,) = call_tools(_registry(alpha), [ToolCall("beta", {})])
    assert result == ToolResult("beta", "Error: there is no tool named 'beta'; the tools are: alpha", True)


def test_bad_arguments_and_exceptions_are_error_results():
    @tool
    def divide(a: float, b: float) -> float:
        """Divide."""
        return a / b

    results = call_tools(_registry(divide), [
        ToolCall("divide", {"a": 1, "b": 0}), ToolCall("divide", {"a": "one", "b": 2}), ToolCall("divide", {"a": 4, "b": 2}),
    ])
    assert results[0].is_error and results[0].content == "Error: divide failed: ZeroDivisionError: float division by zero"
    assert results[1].is_error and "a: 'one' is not of type 'number'" in results[1].content
    assert results[2] == ToolResult("divide", "2.0")


def test_plain_exceptions_from_protocol_tools_are_wrapped():
    def boom():
        raise KeyError("gone")

    class Bare:  # a Tool by protocol only: no wrapping of its own
        name, description, parameters = "bare", "Raises.", {"type": "object", "properties": {}}

        def __call__(self, **arguments):
            boom()

    (result,) = call_tools({"bare": Bare()}, [ToolCall("bare")])
    assert result.is_error and result.content == "Error: bare failed: KeyError: 'gone'"


def test_errors_for_a_person_are_raised():
    @tool
    def needs_setup() -> str:
        """Cannot run without configuration."""
        raise UserError("set FOO_TOKEN first")

    with pytest.raises(UserError, match="FOO_TOKEN"):
        call_tools(_registry(needs_setup), [ToolCall("needs_setup")])


def test_recoverable_errors_keep_their_message():
    @tool
    def picky(x: int) -> int:
        """Refuses odd numbers."""
        if x % 2:
            raise ToolExecutionError("x must be even; try 2")
        return x

    assert call_tool(picky, {"x": 3}).content == "Error: x must be even; try 2"


def _png(size=(4, 3), color=(0, 128, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_images_become_image_parts():
    @tool
    def screenshot(as_bytes: bool = False) -> object:
        """An image, as PIL or as PNG bytes."""
        return _png() if as_bytes else Image.new("RGB", (4, 3))

    for as_bytes in (False, True):
        result = call_tool(screenshot, {"as_bytes": as_bytes})
        (part,) = result.content
        assert part["type"] == "image" and isinstance(part["image"], Image.Image) and part["image"].size == (4, 3)
        assert result.text == "[image]"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_result_conversion():
    image = Image.new("RGB", (2, 2))
    assert to_content("plain") == "plain"
    assert to_content({"city": "Zürich", "temps": [1, 2]}) == '{"city": "Zürich", "temps": [1, 2]}'
    assert to_content([1, "a"]) == '[1, "a"]'
    assert to_content(None) == "null" and to_content(3) == "3" and to_content(True) == "true"
    assert to_content(Point(1, 2)) == '{"x": 1, "y": 2}'
    assert to_content(b"caf\xc3\xa9") == "café"
    assert to_content(b"\xff\x00\x01") == "<3 bytes of binary data>"
    assert to_content(["look:", image]) == [{"type": "text", "text": "look:"}, {"type": "image", "image": image}]
    assert to_content(object).startswith("<class")
    assert to_content({"when": __import__("datetime").date(2026, 1, 2)}) == '{"when": "2026-01-02"}'
