"""Running tool calls: validation, timeouts, concurrency, and turning results into content.

Every failure the model can act on comes back as a `ToolResult` with `is_error=True` and a
message written for the model: an unknown tool (listing the real ones), arguments that break the
schema, a tool that raised, a tool that ran past its timeout. Errors a person must fix
(`UserError`, `PolicyViolation`, `UserAbort`, ...) are raised, as everywhere in vlagent.

Timeouts and threads: each call runs on its own daemon thread and the caller waits at most the
tool's `timeout`. Python cannot kill a thread, so a tool that hangs is *abandoned*, not stopped:
it keeps running in the background until it returns (its result is dropped), and being a daemon
it never keeps the interpreter from exiting. A thread per call, rather than a fixed pool, means
abandoned calls can never starve later ones of workers; starting a thread costs ~0.1 ms.
Tools that can be cancelled for real (HTTP with its own timeout, MCP requests) also enforce the
limit themselves.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import asdict, is_dataclass
from typing import Any, Mapping, Sequence

from ..errors import RecoverableError, VLAgentError
from ..calls import Content, ToolCall, ToolResult
from .arguments import validate_arguments
from .base import DEFAULT_TIMEOUT, Tool

__all__ = ["ToolResult", "call_tool", "call_tools", "to_content"]

_OWN = object()  # "use the tool's own timeout"


def call_tool(tool: Tool, arguments: Mapping[str, Any] | None = None, timeout: Any = _OWN) -> ToolResult:
    """Validate and run one call, limited by `timeout` seconds (default: the tool's own
    `timeout` attribute, else DEFAULT_TIMEOUT; None: no limit)."""
    call = ToolCall(tool.name, dict(arguments or {}))
    return _run_calls({tool.name: tool}, [call], DEFAULT_TIMEOUT, timeout)[0]


def call_tools(
    tools: Mapping[str, Tool], calls: Sequence[ToolCall], *, default_timeout: float | None = DEFAULT_TIMEOUT
) -> list[ToolResult]:
    """Run `calls` against `tools`; one ToolResult per call, in call order.

    Calls run concurrently when there are several and every tool involved allows it
    (`concurrent`, default True); otherwise one after another, in order. Each is limited by its
    tool's `timeout` attribute, or `default_timeout` for tools that have none.
    """
    return _run_calls(tools, calls, default_timeout, _OWN)


def _run_calls(
    tools: Mapping[str, Tool], calls: Sequence[ToolCall], default_timeout: float | None, override: Any
) -> list[ToolResult]:
    results: list[ToolResult | None] = [None] * len(calls)
    ready: list[tuple[int, Tool]] = []
    for i, call in enumerate(calls):
        tool = tools.get(call.name)
        if tool is None:
            known = ", ".join(tools) or "none"
            results[i] = _error(call.name, f"there is no tool named {call.name!r}; the tools are: {known}")
            continue
        try:
            validate_arguments(tool, call.arguments)
        except RecoverableError as e:
            results[i] = _error(call.name, str(e))
            continue
        ready.append((i, tool))

    def start(i: int, tool: Tool) -> _Run:
        limit = getattr(tool, "timeout", default_timeout) if override is _OWN else override
        return _Run(tool, calls[i].arguments, limit)

    if len(ready) > 1 and all(getattr(t, "concurrent", True) for _, t in ready):
        runs = [(i, start(i, tool)) for i, tool in ready]  # all started before any is awaited
        for i, run in runs:
            results[i] = run.result()
    else:
        for i, tool in ready:
            results[i] = start(i, tool).result()
    return results  # type: ignore[return-value]


class _Run:
    """One call on its own daemon thread, started at construction."""

    def __init__(self, tool: Tool, arguments: dict[str, Any], timeout: float | None) -> None:
        self.tool, self.timeout = tool, timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        thread = threading.Thread(
            target=self._target, args=(arguments,), name=f"vlagent-tool-{tool.name}", daemon=True
        )
        thread.start()

    def _target(self, arguments: dict[str, Any]) -> None:
        try:
            self._value = self.tool(**arguments)
        except BaseException as e:  # handed to the caller's thread, which decides
            self._error = e
        finally:
            self._done.set()

    def result(self) -> ToolResult:
        name = self.tool.name
        wait = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        if not self._done.wait(wait):
            return _error(name, f"{name} timed out after {self.timeout:g} s (it may still be running)")
        if self._error is not None:
            e = self._error
            if isinstance(e, RecoverableError):
                return _error(name, str(e))
            if isinstance(e, Exception) and not isinstance(e, VLAgentError):
                return _error(name, f"{name} failed: {type(e).__name__}: {e}")
            raise e  # UserError, PolicyViolation, UserAbort, KeyboardInterrupt: a person must act
        try:
            return ToolResult(name, to_content(self._value))
        except Exception as e:  # a result we cannot show is the tool's failure, not the run's
            return _error(name, f"{name} returned a result that cannot be shown: {type(e).__name__}: {e}")


def _error(name: str, message: str) -> ToolResult:
    return ToolResult(name, f"Error: {message}", is_error=True)


# -- results as content -----------------------------------------------------------------------

def to_content(value: Any) -> Content:
    """A tool's return value as message content.

    str stays text; a PIL image (or bytes holding one) becomes an image part; a list mixing text
    and images becomes parts; dicts, lists, numbers, None, pydantic models and dataclasses become
    JSON text (non-ASCII kept as is); anything else becomes `str(value)`.
    """
    if isinstance(value, str):
        return value
    if _is_image(value):
        return [{"type": "image", "image": value}]
    if isinstance(value, (bytes, bytearray, memoryview)):
        image = _open_image(bytes(value))
        if image is not None:
            return [{"type": "image", "image": image}]
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes of binary data>"
    if isinstance(value, (list, tuple)) and any(_is_image(v) or _is_part(v) for v in value):
        return [_part(v) for v in value]
    if hasattr(value, "model_dump") and callable(value.model_dump):  # pydantic
        value = value.model_dump(mode="json")
    elif is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if value is None or isinstance(value, (dict, list, tuple, int, float, bool)):
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            pass
    return str(value)


def _part(value: Any) -> dict[str, Any]:
    if _is_part(value):
        return value
    if _is_image(value):
        return {"type": "image", "image": value}
    content = to_content(value)
    return {"type": "text", "text": content} if isinstance(content, str) else content[0]


def _is_part(value: Any) -> bool:
    return isinstance(value, dict) and (
        (value.get("type") == "text" and isinstance(value.get("text"), str))
        or (value.get("type") == "image" and _is_image(value.get("image")))
    )


def _is_image(value: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(value, Image.Image)


_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")


def _open_image(data: bytes) -> Any:
    if not data.startswith(_IMAGE_MAGIC):
        return None  # don't hand arbitrary bytes to every Pillow decoder
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except (UnidentifiedImageError, OSError, ValueError):
        return None
