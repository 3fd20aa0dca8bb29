"""The chat messages an OpenAI-compatible server gets, and native tool calls it returns written
back as text.

Screenshots go as data URLs of the image resized as on the in-process path (`fit_to_model`), so
the server's processor has nothing left to resize; with native tools, calls answered by the tool
messages right after them become `tool_calls` paired by `tool_call_id`. Native calls in a reply
come back as Hermes `<tool_call>` text, so one parser reads every reply.
"""

from __future__ import annotations

import base64
import io
import json
import re
import weakref
from pathlib import Path
from typing import Any, Callable

from ..errors import ParseError, UserError
from ..parsing import parse_tool_calls
from ..vision import fit_to_model
from .base import Message

_CALL_BLOCK = re.compile(r"\s*<tool_call>.*?</tool_call>\s*", re.DOTALL)
_IMAGE_CACHE_SIZE = 16  # the loop sends the last few screenshots again every step


def native_messages(messages: list[Message]) -> list[Message]:
    """Calls answered by the tool messages right after them become `tool_calls` paired by
    `tool_call_id` (OpenAI refuses a `tool` message without one); other tool results (no
    call to answer: parse errors) go as user turns, as they are."""
    out: list[Message] = []
    ids: list[str] = []
    for i, msg in enumerate(messages):
        if msg["role"] == "assistant" and (calls := _answered_calls(messages, i)):
            ids = [f"call_{i}_{k}" for k in range(len(calls))]
            rest = _CALL_BLOCK.sub("\n", text_of(msg["content"])).strip()
            out.append({"role": "assistant", "content": rest or None, "tool_calls": [
                {"id": id_, "type": "function", "function": {
                    "name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                for id_, c in zip(ids, calls)]})
        elif msg["role"] == "tool" and ids:
            out.append({"role": "tool", "tool_call_id": ids.pop(0), "content": text_of(msg["content"])})
        elif msg["role"] == "tool":
            out.append({"role": "user", "content": msg["content"]})
        else:
            ids = []
            out.append(msg)
    return out


def wire_message(msg: Message, image_url: Callable[[Any], str]) -> dict[str, Any]:
    """`msg` as the request body carries it: each PIL image part as an `image_url` part (made by
    `image_url`), each video part as a `video_url` part (`video_url`), a text-only content as
    one string."""
    out = {k: msg[k] for k in ("role", "content", "tool_call_id", "tool_calls") if k in msg}
    if isinstance(msg.get("content"), list):
        parts = []
        for part in msg["content"]:
            if part.get("type") == "image":
                image = part["image"]  # a PIL image, or already a URL / data URL
                parts.append({"type": "image_url", "image_url": {
                    "url": image if isinstance(image, str) else image_url(image)}})
            elif part.get("type") == "video":
                parts.append({"type": "video_url", "video_url": {"url": video_url(part)}})
            elif part.get("type") in ("text", "image_url", "video_url"):
                parts.append(part)
            else:
                raise UserError(f"OpenAIModel cannot send a message part of type {part.get('type')!r}")
        # Text-only turns go as one string: some servers' templates accept nothing else.
        text_only = all(p["type"] == "text" for p in parts)
        out["content"] = "".join(p["text"] for p in parts) if text_only else parts
    return out


_VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska", ".mov": "video/quicktime",
                ".avi": "video/x-msvideo"}


def video_url(part: dict[str, Any]) -> str:
    """A video part as vLLM's OpenAI-compatible server takes one: a `video_url` part whose URL is
    an http(s) URL or a `data:video/...;base64,` URL of the file (vLLM's documented video input;
    the server samples and sizes the frames itself). A list of frames goes as an MP4 of them at
    their `sample_fps`."""
    from .. import video
    from ..video_io import mp4_bytes

    clip = video.from_part(part)
    if clip.is_file and clip.source.startswith(("http://", "https://", "data:")):
        return clip.source
    if clip.is_file:
        path = Path(clip.source).expanduser()
        try:
            data = path.read_bytes()
        except OSError as e:
            raise UserError(f"cannot read video {path}: {e}") from None
        mime = _VIDEO_TYPES.get(path.suffix.lower(), "video/mp4")
    else:
        data, mime = mp4_bytes(clip.source, clip.sample_fps), "video/mp4"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class DataURLs:
    """Data URLs of the last few images sent, so a screenshot sent again is not encoded again."""

    def __init__(self) -> None:
        self._urls: dict[int, tuple[weakref.ref, str]] = {}

    def __len__(self) -> int:
        return len(self._urls)

    def url(self, image: Any, *, min_pixels: int, max_pixels: int, image_format: str) -> str:
        """`image` fitted to the pixel budget, as a PNG (lossless) or JPEG data URL."""
        cached = self._urls.get(id(image))
        if cached is not None and cached[0]() is image:
            return cached[1]
        fitted, buf = fit_to_model(image, min_pixels, max_pixels), io.BytesIO()
        if image_format == "jpeg":
            fitted.save(buf, "JPEG", quality=90)
        else:  # zlib level 1: ~2x faster than Pillow's default 6 on screenshots, hardly bigger
            fitted.save(buf, "PNG", compress_level=1)
        url = f"data:image/{image_format};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
        if len(self._urls) >= _IMAGE_CACHE_SIZE:
            self._urls.pop(next(iter(self._urls)))
        self._urls[id(image)] = (weakref.ref(image), url)
        return url


def with_calls(content: str | None, tool_calls: list[dict[str, Any]] | None) -> str:
    """Native tool calls written back as Hermes text, after the content, so one parser reads them."""
    text = content or ""
    for call in tool_calls or []:
        fn = call.get("function") or call
        raw = fn.get("arguments")
        try:
            value = json.loads(raw.strip() or "{}") if isinstance(raw, str) else raw or {}
            args = json.dumps(value, ensure_ascii=False)
        except ValueError:
            args = raw  # kept as sent: the parser repairs it or tells the model what is wrong
        name = json.dumps(fn.get("name") or "", ensure_ascii=False)
        text += ("\n" if text and not text.endswith("\n") else "")
        text += f'<tool_call>\n{{"name": {name}, "arguments": {args}}}\n</tool_call>'
    return text


def _answered_calls(messages: list[Message], index: int) -> list[Any]:
    """The Hermes calls in assistant message `index` when the tool messages right after it answer
    them one by one (same names, no images); otherwise [] and the turn goes back as plain text."""
    text, results = text_of(messages[index]["content"]), []
    for msg in messages[index + 1:]:
        if msg["role"] != "tool":
            break
        results.append(msg)
    if "<tool_call>" not in text or any(
            p.get("type") != "text" for r in results if isinstance(r["content"], list) for p in r["content"]):
        return []
    try:
        calls = parse_tool_calls(text)
    except ParseError:
        return []
    return calls if [c.name for c in calls] == [r.get("name") for r in results] else []


def text_of(content: Any) -> str:
    """The text parts of a message's content, joined."""
    return content if isinstance(content, str) else "".join(
        p.get("text", "") for p in content or [] if p.get("type") == "text")
