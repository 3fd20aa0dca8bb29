"""Reading tool calls and grounding boxes out of raw model text. Pure: no torch, no I/O.

Both entry points return [] for text without markers and raise `ParseError` -- never anything
else -- when a marker is there but what follows cannot be read; its message is for the model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any


from .calls import ToolCall
from .errors import ParseError

__all__ = ["GroundedBox", "ToolCall", "parse_bare_box", "parse_boxes", "parse_json_boxes", "parse_tool_calls",
           "valid_text", "valid_value"]

# Half of a UTF-16 pair on its own: a Python string may hold one (a model's text, a JSON
# "\ud800" escape), but UTF-8 cannot, so it could be neither written, printed nor sent.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def valid_value(value: Any) -> Any:
    """valid_text over every string (and key) in a JSON value."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [valid_value(v) for v in value]
    if isinstance(value, dict):
        return {valid_text(k) if isinstance(k, str) else k: valid_value(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class GroundedBox:
    ref: str | None
    box: tuple[float, float, float, float]


_CALL_START = re.compile(r"<tool_call>|✿FUNCTION✿")
# Where a Hermes call's JSON can no longer begin: its closing tag (also the broken `</tool_call`
# without `>`) or the next call. Valid JSON may run past this (a string holding "</tool_call>").
_HERMES_END = re.compile(r"</tool_call|<tool_call>|✿FUNCTION✿")
# Qwen-Agent sections; each ends the ✿ARGS✿ before it.
_QWEN_SECTION = re.compile(r"<tool_call>|✿(?:FUNCTION|ARGS|RESULT|RETURN)✿")
_QWEN_NAME = re.compile(r"[ \t]*:?[ \t]*([^\n✿]*)")
# A fenced block whose body starts with an object; ```python and friends never match.
_FENCE = re.compile(r"```[ \t]*(?:json5?)?\s*(\{.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_JSON_SPECIAL = re.compile(r"""[{}\[\]"'\\]""")
_BETWEEN_OBJECTS = re.compile(r"(?:[\s,]|```(?:json5?)?)*", re.IGNORECASE)
# The keys a call object may have besides its arguments (OpenAI adds "id" and "type").
_CALL_KEYS = {"name", "arguments", "parameters", "id", "type"}

# strict=False: models put raw newlines and tabs inside strings.
_DECODER = json.JSONDecoder(strict=False)
# json5 is pure Python (~50 kB/s); real calls are a few hundred bytes, so longer text that is not
# valid JSON is refused rather than letting a runaway generation stall the loop.
_MAX_JSON5_CHARS = 16_000  # also bounds the bracket scan below

_HINTS = {  # each format's error teaches that format
    "hermes": 'Write exactly one JSON object {"name": ..., "arguments": {...}} inside '
    "<tool_call></tool_call>.",
    "qwen": "Write ✿FUNCTION✿: <tool name> on one line, then ✿ARGS✿: and one JSON object.",
}


def parse_tool_calls(text: str) -> list[ToolCall]:
    """Every tool call in `text`, in order: Hermes `<tool_call>` and Qwen-Agent `✿FUNCTION✿`.

    Recovers a missing or broken closing tag, junk after the object, ```json fences inside or
    instead of the tags, `arguments` as a string of JSON, `parameters` for `arguments`, json5, a
    missing final `}`, OpenAI `{"function": {...}}` nesting, a message that is only the object.
    Without a marker an object needs "name" and "arguments": a tool *schema* has "parameters".
    """
    text = valid_text(text)
    calls, pos = [], 0
    while match := _CALL_START.search(text, pos):
        if match.group() == "<tool_call>":
            found, end = _hermes_calls(text, match.end())
            calls += found
        else:
            call, end = _qwen_call(text, match.end())
            calls.append(call)
        pos = max(end, match.end())
    # JSON escapes ("\udfff") make lone surrogates of their own
    return [ToolCall(c.name, valid_value(c.arguments)) for c in calls or _untagged_calls(text)]


def _hermes_calls(text: str, pos: int) -> tuple[list[ToolCall], int]:
    """Every object in one <tool_call> block (a model may put two calls in one block)."""
    stop = _HERMES_END.search(text, pos)
    limit = stop.start() if stop else len(text)
    brace = text.find("{", pos, limit)
    if brace < 0:
        if not (stop and stop.group() == "</tool_call"):
            return [], pos  # "<tool_call>" named in prose, with no block after it
        raise _call_error("no JSON object follows <tool_call>", "<tool_call>" + text[pos:limit])
    calls = []
    while brace >= 0:
        obj, end = _decode_object(text, brace, limit, "hermes")
        calls.append(_to_call(obj, text[brace:end], "hermes"))
        brace = _next_object(text, end, limit)
    return calls, end


def _next_object(text: str, pos: int, limit: int) -> int:
    """Where a further object starts in text[pos:limit] (after commas, fences, whitespace), or -1:
    other junk after an object is what broken closing tags leave, and is skipped."""
    gap = _BETWEEN_OBJECTS.match(text, pos, limit)
    return gap.end() if text.startswith("{", gap.end()) and gap.end() < limit else -1


def _qwen_call(text: str, pos: int) -> tuple[ToolCall, int]:
    line = _QWEN_NAME.match(text, pos)
    name, after = line.group(1).strip(), line.end()
    if not name:
        raise _call_error("✿FUNCTION✿ has no tool name", text[pos - 10 : pos + 90], "qwen")
    section = _QWEN_SECTION.search(text, after)
    if not section or section.group() != "✿ARGS✿":  # Qwen-Agent writes ✿ARGS✿ even when empty
        raise _call_error(f"{name!r} has no ✿ARGS✿ (was the answer cut off?)", text[pos - 10 : after + 80], "qwen")
    start = section.end() + text.startswith(":", section.end())
    stop = _QWEN_SECTION.search(text, start)
    limit = stop.start() if stop else len(text)
    brace = text.find("{", start, limit)
    if brace < 0:
        rest = text[start:limit].strip().strip("`").strip()
        if rest:
            raise _call_error(f"the arguments of {name!r} are not a JSON object", rest, "qwen")
        return ToolCall(name, {}), limit
    obj, end = _decode_object(text, brace, limit, "qwen")
    return ToolCall(name, _arguments(obj, text[brace:end], "qwen")), end


def _untagged_calls(text: str) -> list[ToolCall]:
    bodies = [m.group(1) for m in _FENCE.finditer(text)]
    if not bodies and text.lstrip().startswith("{"):
        bodies = [text.strip()]  # the whole message is one object
    calls = []
    for body in bodies:
        if "name" in body and "arguments" in body:  # cheap gate: most fences are not calls
            obj, end = _decode_object(body, 0, len(body), "hermes")
            if isinstance(obj, dict) and {"name", "arguments"} <= obj.keys():
                calls.append(_to_call(obj, body[:end], "hermes"))
    return calls


def _to_call(obj: Any, bad: str, style: str) -> ToolCall:
    if isinstance(obj, dict) and "name" not in obj and isinstance(obj.get("function"), dict):
        obj = obj["function"]  # OpenAI style: {"type": "function", "function": {...}}
    if not isinstance(obj, dict):
        raise _call_error("the tool call is not a JSON object", bad, style)
    if not isinstance(name := obj.get("name"), str) or not name.strip():
        raise _call_error('the object has no "name" string', bad, style)
    if "arguments" not in obj and "parameters" not in obj:
        # {"name": "mobile_use", "action": "click", ...}: the arguments written beside the name.
        return ToolCall(name.strip(), {k: v for k, v in obj.items() if k != "name"})
    stray = sorted(obj.keys() - _CALL_KEYS)
    if stray:
        raise _call_error(f'{stray} sit beside "arguments"; put every argument inside "arguments"', bad, style)
    arguments = obj["arguments"] if "arguments" in obj else obj.get("parameters")
    return ToolCall(name.strip(), _arguments(arguments, bad, style))


def _arguments(value: Any, bad: str, style: str) -> dict[str, Any]:
    for _ in range(3):  # a string of JSON, sometimes encoded twice over
        if isinstance(value, str):
            value = _loads(value, bad, style) if value.strip() else None
    if value is not None and not isinstance(value, dict):
        raise _call_error(f'"arguments" must be an object, not {type(value).__name__}', bad, style)
    return value or {}


def _decode_object(text: str, start: int, limit: int, style: str) -> tuple[Any, int]:
    """The JSON value at text[start] and its end; json5 and repair look only up to `limit`."""
    try:
        return _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        pass
    region = text[start : min(limit, start + _MAX_JSON5_CHARS + 1)]
    end, open_ = _balanced_end(region)
    if not open_:
        return _loads(region[:end], region, style), start + end
    if start + len(region) < limit:
        raise _call_error(f"invalid JSON over {_MAX_JSON5_CHARS} characters long", region, style)
    # The object was never closed. A model that forgot only its final brackets ends on a closing
    # one; anything else (ending mid-number, mid-string) is a truncation we must not guess at.
    body = region.rstrip().removesuffix("```").rstrip()
    if not body.endswith(("}", "]")):
        raise _call_error("the JSON object is not closed", region, style)
    closers = "".join("}" if c == "{" else "]" for c in reversed(open_))
    return _loads(body + closers, region, style), limit


def _balanced_end(region: str) -> tuple[int, list[str]]:
    """Index after the first balanced {...} in `region` and the brackets still open if none is."""
    stack: list[str] = []
    quote, skip = None, -1
    for m in _JSON_SPECIAL.finditer(region):
        char, i = m.group(), m.start()
        if i < skip:
            continue
        if quote:
            if char == "\\":
                skip = i + 2
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
            if not stack:
                return i + 1, []
    return len(region), stack


def loads_lenient(source: str) -> Any:
    """JSON as models write it: JSON first (raw newlines and tabs in strings allowed), then json5
    (single quotes, trailing commas, comments) for text up to _MAX_JSON5_CHARS. The one JSON
    repair path, for tool calls and for answers; raises ValueError saying what is wrong."""
    try:
        return _DECODER.decode(source)
    except (ValueError, RecursionError):
        pass
    if len(source) > _MAX_JSON5_CHARS:
        raise ValueError(f"invalid JSON over {_MAX_JSON5_CHARS} characters long")
    import json5  # only for what strict JSON refused: `import vlagent` stays cheap (issue #20)

    try:
        return json5.loads(source)
    except Exception as exc:  # json5 raises ValueError, RecursionError, ... on odd input
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise ValueError(f"invalid JSON ({reason})") from None


def _loads(source: str, bad: str, style: str) -> Any:
    try:
        return loads_lenient(source)
    except ValueError as e:
        raise _call_error(str(e), bad, style) from None


def _call_error(reason: str, bad: str, style: str = "hermes") -> ParseError:
    hint = _HINTS[style]
    return ParseError(f"Could not parse the tool call: {reason}. {hint} Near: {_excerpt(bad)}")


def _excerpt(bad: str) -> str:
    flat = " ".join(bad.split())  # one line, and short: the model re-reads it in its context
    return "`" + (flat if len(flat) <= 200 else flat[:199] + "…") + "`"


# Each span ends at its closing tag, or -- when the model dropped it -- at the next tag or the end.
_GROUNDING = re.compile(
    r"<\|object_ref_start\|>(?P<ref>.*?)(?:<\|object_ref_end\|>|(?=<\|)|\Z)"
    r"|<ref>(?P<ref_vl>.*?)(?:</ref>|(?=<)|\Z)"
    r"|<\|box_start\|>(?P<box>.*?)(?:<\|box_end\|>|(?=<\|)|\Z)"
    r"|<box>(?P<box_vl>.*?)(?:</box>|(?=<)|\Z)",
    re.DOTALL,
)
_NUM = r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*"
_BOX_BODY = re.compile(  # (x1,y1),(x2,y2) as trained; [x1,y1,x2,y2] as models also write
    rf"\s*\({_NUM},{_NUM}\)\s*,?\s*\({_NUM},{_NUM}\)\s*|\s*\[{_NUM},{_NUM},{_NUM},{_NUM}\]\s*"
)


def parse_boxes(text: str) -> list[GroundedBox]:
    """Qwen2-VL `<|object_ref_start|>…<|box_start|>(x1,y1),(x2,y2)<|box_end|>` and Qwen-VL
    `<ref>…</ref><box>…</box>` boxes, in model units. A ref names every box right after it (one
    ref, several instances); a box with anything else before it has ref None."""
    boxes: list[GroundedBox] = []
    ref, last_end = None, 0
    for m in _GROUNDING.finditer(text):
        content = m.group(m.lastgroup)  # each alternative has exactly one named group
        if m.lastgroup.startswith("ref"):
            ref = content.strip() or None
        else:
            if text[last_end : m.start()].strip():
                ref = None
            boxes.append(GroundedBox(ref, _box(content, m.group())))
        last_end = m.end()
    return boxes


def _box(body: str, whole: str) -> tuple[float, float, float, float]:
    m = _BOX_BODY.fullmatch(body) if len(body) <= 200 else None  # real ones are ~20 chars
    numbers = tuple(float(n) for n in m.groups() if n is not None) if m else ()
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ParseError(
            "Could not parse the box: it must hold two corner points of finite numbers. Write it "
            "as <|box_start|>(x1,y1),(x2,y2)<|box_end|>, e.g. (120,340),(560,410). "
            f"Near: {_excerpt(whole)}"
        )
    return numbers  # type: ignore[return-value]


_BARE_BOX = re.compile(rf"\({_NUM},{_NUM}\)\s*,?\s*\({_NUM},{_NUM}\)|\[{_NUM},{_NUM},{_NUM},{_NUM}\]")


def parse_bare_box(text: str) -> tuple[float, float, float, float] | None:
    """The first `(x1,y1),(x2,y2)` or `[x1,y1,x2,y2]` in text without grounding tokens (servers
    that skip special tokens strip them), or None; a box, so its centre is the target."""
    m = _BARE_BOX.search(text)
    if not m:
        return None
    numbers = tuple(float(n) for n in m.groups() if n is not None)
    return numbers if all(math.isfinite(n) for n in numbers) else None  # type: ignore[return-value]


_JSON_GROUNDING = re.compile(r"[\"'](?:bbox_2d|point_2d)[\"']")


def parse_json_boxes(text: str) -> list[GroundedBox]:
    """Qwen2.5-VL / Qwen3-VL grounding answers: objects with "bbox_2d": [x1, y1, x2, y2] or
    "point_2d": [x, y] and an optional "label", alone, in a list or in a ```json fence, in model
    units. A point comes back as a box of zero size (its centre is the point)."""
    if not _JSON_GROUNDING.search(text):
        return []
    boxes: list[GroundedBox] = []
    pos = 0
    while (start := text.find("{", pos)) >= 0:
        limit = text.find("}", start)
        try:
            obj, pos = _decode_object(text, start, len(text) if limit < 0 else limit + 1, "hermes")
        except ParseError:
            pos = start + 1
            continue
        if isinstance(obj, dict) and (box := _json_box(obj)) is not None:
            boxes.append(box)
    return boxes


def _json_box(obj: dict[str, Any]) -> GroundedBox | None:
    label = obj.get("label") if isinstance(obj.get("label"), str) else None
    for key, size in (("bbox_2d", 4), ("point_2d", 2)):
        if key not in obj:
            continue
        value = obj[key]
        if (not isinstance(value, list) or len(value) != size
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
            raise ParseError(f'Could not parse the box: "{key}" must be a list of {size} finite numbers. '
                             f"Near: {_excerpt(json.dumps(obj, ensure_ascii=False))}")
        numbers = tuple(float(v) for v in value)
        return GroundedBox(label, numbers if size == 4 else numbers * 2)  # type: ignore[arg-type]
    return None
