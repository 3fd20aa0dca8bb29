"""OpenAIModel: any OpenAI-compatible chat-completions server (vLLM, SGLang, `transformers serve`,
Ollama, DashScope), spoken to with httpx.

Screenshots are resized here as on the in-process path (`fit_to_model`) and sent as lossless PNG
data URLs, so the server's processor has nothing left to resize and the model sees the pixels
TransformersModel would show it. Tools are written into the prompt in the profile's format
(`render_messages`; the default, as the Qwen2-VL and Qwen2.5-VL chat templates drop `tools`) or,
asked for, sent natively (`tools=`); either way the agent parses the returned text. Timeouts, 429
and 5xx are retried under `vlagent.retry`; everything else raises at once, worded for whoever
must fix it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import weakref
from typing import Any, Callable, Iterable, Literal

import httpx

from ..deadline import AnswerTooSlow, within
from ..errors import ModelError, ParseError, UserError
from ..parsing import parse_tool_calls
from ..profiles import Profile, get_profile, profile_for_name
from ..prompts import continues_final, render_messages, strip_continuation
from ..redaction import redact_logs
from ..retry import MAX_RETRY_AFTER, RETRYABLE_STATUS, is_transient, retry_after, retrying
from ..vision import fit_to_model
from .stopping import cut_at_stop
from .base import (
    DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, Completion, CoordinateSystem, Message, ToolSchema,
)

API_KEY_ENV_VARS = ("VLAGENT_API_KEY", "OPENAI_API_KEY", "DASHSCOPE_API_KEY")
_CALL_BLOCK = re.compile(r"\s*<tool_call>.*?</tool_call>\s*", re.DOTALL)
_IMAGE_CACHE_SIZE = 16  # the loop sends the last few screenshots again every step


class _ServerFailed(ModelError):
    """The server kept answering 5xx."""


class _ToolsRejected(Exception):
    """A 400 about tools while native_tools="auto": go prompted."""


def _retryable(exc: BaseException) -> bool:
    # A refused connection means no server is listening: waiting will not start one.
    return is_transient(exc) and not isinstance(exc, httpx.ConnectError)


class OpenAIModel:
    """A model behind an OpenAI-compatible `/v1/chat/completions` endpoint (constructing does no I/O)."""

    def __init__(
        self, base_url: str, model: str | None = None, *, api_key: str | None = None,
        profile: str | None = None, native_tools: bool | Literal["auto"] = False,
        min_pixels: int = DEFAULT_MIN_PIXELS, max_pixels: int = DEFAULT_MAX_PIXELS,
        max_tokens: int = 512, temperature: float = 0.0, timeout: float = 60.0,
        deadline: float | None = 600.0, stream: bool = False,
        transport: httpx.BaseTransport | None = None, extra_body: dict[str, Any] | None = None,
        image_format: Literal["png", "jpeg"] = "png", retry: dict[str, Any] | None = None,
    ) -> None:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise UserError(f"model server URL {base_url!r} must start with http:// or https://")
        self.base_url = url[:-3] if url.endswith("/v1") else url
        self.model = model
        self.api_key_env = None if api_key else next((v for v in API_KEY_ENV_VARS if os.environ.get(v)), None)
        self.api_key = api_key or (os.environ[self.api_key_env] if self.api_key_env else None)
        # Named, else read from the served model's name (Qwen2-VL when that says nothing).
        self.profile: Profile = get_profile(profile) if profile else profile_for_name(model or "")
        # Prompted by default: the Qwen2-VL and Qwen2.5-VL chat templates drop `tools` silently.
        # "auto" tries native and goes prompted for good once the server refuses tools.
        self.native_tools = native_tools
        self.server_stop = True  # False once the server failed on `stop`: cut here instead
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.max_tokens, self.temperature = max_tokens, temperature
        # timeout bounds each read; deadline the whole answer, which a server sending a byte now
        # and then would otherwise stretch without end (None: no limit).
        self.timeout, self.deadline, self.stream = timeout, deadline, stream
        self.extra_body = dict(extra_body or {})
        self.image_format = image_format
        self.retry = dict(retry or {})  # overrides for vlagent.retry.retrying (attempts, initial, ...)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._images: dict[int, tuple[weakref.ref, str]] = {}
        self.description = f"openai:{model or '?'}@{self.base_url}"

    def __repr__(self) -> str:
        return f"OpenAIModel({self.base_url!r}, model={self.model!r})"

    @property
    def coordinate_system(self) -> CoordinateSystem:
        return self.profile.coordinate_system

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> "OpenAIModel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- generation ------------------------------------------------------------------------

    def generate(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, **options: Any
    ) -> Completion:
        """Answer `messages`; options: max_tokens (or max_new_tokens), temperature, top_p, stop,
        stream_callback (called with each text delta; turns streaming on)."""
        start = time.perf_counter()
        timings: dict[str, float] = {}

        sent: dict[str, Any] = {}

        def ask(native: bool) -> tuple[dict[str, Any], dict[str, Any]]:
            sent.clear()  # a fallback sends a new body, not the old one amended
            sent.update(self._body(messages, tools, native, options, timings))
            try:
                return self._send(sent, native, options, timings)
            except _ServerFailed:
                if "stop" not in sent:
                    raise
                # `transformers serve` 5.x answers 500 to any `stop` with a VLM: go without,
                # for good, and cut the text here.
                self.server_stop = False
                del sent["stop"]
                return self._send(sent, native, options, timings)

        try:
            message, usage = ask(self.native_tools in (True, "auto"))
        except _ToolsRejected:
            self.native_tools = False
            message, usage = ask(False)
        text = _with_calls(message.get("content"), message.get("tool_calls"))
        text, _ = cut_at_stop(text, options.get("stop", self.profile.stop))
        if sent.get("continue_final_message"):
            text = strip_continuation(text)
        timings["request"] = time.perf_counter() - start
        usage = {k: usage[k] for k in ("prompt_tokens", "completion_tokens") if isinstance(usage.get(k), int)}
        return Completion(text=text, usage=usage, timings=timings, finish_reason=message.get("finish_reason"))

    def _body(self, messages: list[Message], tools: list[ToolSchema] | None, native: bool,
              options: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
        t = time.perf_counter()
        chat = self._chat(messages, tools, native)
        wire = [self._wire(m) for m in chat]
        timings["encode"] = timings.get("encode", 0.0) + time.perf_counter() - t
        body: dict[str, Any] = {
            "model": self._model_id(), "messages": wire,
            "max_tokens": options.get("max_tokens", options.get("max_new_tokens", self.max_tokens)),
            "temperature": options.get("temperature", self.temperature),
        }
        if native and tools:
            body.update(tools=tools, tool_choice="auto")
        if options.get("top_p") is not None:
            body["top_p"] = options["top_p"]
        stop = options.get("stop", self.profile.stop)
        if stop and self.server_stop:
            body["stop"] = list(stop)
        if not native and continues_final(chat):
            # A ✿ result continues the assistant's turn (vLLM's and SGLang's names for it).
            body.update(continue_final_message=True, add_generation_prompt=False)
        if self.stream or options.get("stream_callback"):
            body.update(stream=True, stream_options={"include_usage": True})
        return {**body, **self.extra_body}

    # -- messages --------------------------------------------------------------------------

    def render(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> str:
        """The chat messages the server gets, as JSON with each image as a placeholder: the
        server's chat template turns these into the model's text."""
        chat = self._chat(messages, tools, self.native_tools is True)

        def shown(content: Any) -> Any:
            if not isinstance(content, list):
                return content
            return [f"<image {p['image'].width}x{p['image'].height}>" if p.get("type") == "image"
                    and hasattr(p["image"], "width") else p for p in content]

        return json.dumps([{**m, "content": shown(m.get("content"))} for m in chat], ensure_ascii=False, indent=1)

    def _chat(self, messages: list[Message], tools: list[ToolSchema] | None, native: bool) -> list[Message]:
        if native:
            return self._native_messages(messages)
        return render_messages(messages, tools, self.profile.tool_format) if tools else messages

    def _native_messages(self, messages: list[Message]) -> list[Message]:
        """Calls answered by the tool messages right after them become `tool_calls` paired by
        `tool_call_id` (OpenAI refuses a `tool` message without one); other tool results (no
        call to answer: parse errors) go as user turns, as they are."""
        out: list[Message] = []
        ids: list[str] = []
        for i, msg in enumerate(messages):
            if msg["role"] == "assistant" and (calls := _answered_calls(messages, i)):
                ids = [f"call_{i}_{k}" for k in range(len(calls))]
                rest = _CALL_BLOCK.sub("\n", _text(msg["content"])).strip()
                out.append({"role": "assistant", "content": rest or None, "tool_calls": [
                    {"id": id_, "type": "function", "function": {
                        "name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
                    for id_, c in zip(ids, calls)]})
            elif msg["role"] == "tool" and ids:
                out.append({"role": "tool", "tool_call_id": ids.pop(0), "content": _text(msg["content"])})
            elif msg["role"] == "tool":
                out.append({"role": "user", "content": msg["content"]})
            else:
                ids = []
                out.append(msg)
        return out

    def _wire(self, msg: Message) -> dict[str, Any]:
        out = {k: msg[k] for k in ("role", "content", "tool_call_id", "tool_calls") if k in msg}
        if isinstance(msg.get("content"), list):
            parts = []
            for part in msg["content"]:
                if part.get("type") == "image":
                    image = part["image"]  # a PIL image, or already a URL / data URL
                    parts.append({"type": "image_url", "image_url": {
                        "url": image if isinstance(image, str) else self._image_url(image)}})
                elif part.get("type") in ("text", "image_url"):
                    parts.append(part)
                else:
                    raise UserError(f"OpenAIModel cannot send a message part of type {part.get('type')!r}")
            # Text-only turns go as one string: some servers' templates accept nothing else.
            text_only = all(p["type"] == "text" for p in parts)
            out["content"] = "".join(p["text"] for p in parts) if text_only else parts
        return out

    def _image_url(self, image: Any) -> str:
        cached = self._images.get(id(image))
        if cached is not None and cached[0]() is image:
            return cached[1]
        fitted, buf = fit_to_model(image, self.min_pixels, self.max_pixels), io.BytesIO()
        if self.image_format == "jpeg":
            fitted.save(buf, "JPEG", quality=90)
        else:  # zlib level 1: ~2x faster than Pillow's default 6 on screenshots, hardly bigger
            fitted.save(buf, "PNG", compress_level=1)
        url = f"data:image/{self.image_format};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
        if len(self._images) >= _IMAGE_CACHE_SIZE:
            self._images.pop(next(iter(self._images)))
        self._images[id(image)] = (weakref.ref(image), url)
        return url

    # -- HTTP ------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            redact_logs()
            self._client = httpx.Client(
                base_url=self.base_url, transport=self._transport,
                headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            )
        return self._client

    def _with_retries(self, fn: Callable[[], Any], what: str) -> Any:
        try:
            for attempt in retrying(retry_if=_retryable, **self.retry):
                with attempt:
                    return fn()
        except httpx.HTTPStatusError as e:
            kind = _ServerFailed if e.response.status_code >= 500 else ModelError
            asked = retry_after(e)
            if asked is not None and asked > MAX_RETRY_AFTER:
                raise kind(f"{what}: the server answered {e.response.status_code} and asks to wait "
                           f"{asked:.0f} s before the next request (more than vlagent waits, "
                           f"{MAX_RETRY_AFTER:.0f} s); try again later") from None
            raise kind(f"{what}: the server answered {e.response.status_code} "
                             f"({_server_message(e.response)}), also on retrying") from None
        except httpx.ConnectError as e:
            raise ModelError(f"cannot connect to the model server at {self.base_url} ({e}); check that "
                             "the server is running and that the host and port are right") from None
        except AnswerTooSlow as e:
            raise ModelError(f"{what}: {e} (the deadline), also on retrying; raise `deadline` if "
                             "answers this long are expected") from None
        except httpx.TimeoutException as e:
            raise ModelError(f"{what}: timed out after {self.timeout:g} s ({type(e).__name__}), also on "
                             "retrying; raise `timeout` or check the server's load") from None
        except httpx.HTTPError as e:
            raise ModelError(f"{what}: {type(e).__name__}: {e}") from None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or reraises

    def _send(self, body: dict[str, Any], native: bool, options: dict[str, Any],
              timings: dict[str, float]) -> tuple[dict[str, Any], dict[str, Any]]:
        def attempt() -> tuple[dict[str, Any], dict[str, Any]]:
            sent, started = time.perf_counter(), time.monotonic()
            with self._http().stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for_status(response, native)
                # Some servers ignore `stream: true` and answer with one JSON body: read that.
                plain = "application/json" in response.headers.get("content-type", "")
                if body.get("stream") and not plain:
                    lines = within(response.iter_lines(), self.deadline, response.request, started)
                    return self._read_stream(lines, options.get("stream_callback"), timings, sent)
                raw = b"".join(within(response.iter_bytes(), self.deadline, response.request, started))
            try:
                data = json.loads(raw)
                choice = data["choices"][0]
                message = {**choice["message"], "finish_reason": choice.get("finish_reason")}
            except (ValueError, KeyError, IndexError, TypeError):
                raise ModelError(f"{self.base_url} answered with something other than a chat "
                                 f"completion: {raw[:300].decode(errors='replace')!r}") from None
            if body.get("stream") and message.get("content") and options.get("stream_callback"):
                options["stream_callback"](message["content"])  # the whole answer as one delta
            return message, data.get("usage") or {}

        return self._with_retries(attempt, f"POST {self.base_url}/v1/chat/completions")

    def _raise_for_status(self, response: httpx.Response, native: bool) -> None:
        status, message = response.status_code, _server_message(response)
        if status in RETRYABLE_STATUS or status >= 500:
            response.raise_for_status()  # vlagent.retry decides from the status
        about_tools = status == 400 and native and "tool" in message.lower()
        if about_tools and self.native_tools == "auto":
            raise _ToolsRejected(message)
        if status in (401, 403):
            fix = (f"check the key in ${self.api_key_env}" if self.api_key_env
                   else "check the api_key given" if self.api_key
                   else "set VLAGENT_API_KEY (or OPENAI_API_KEY / DASHSCOPE_API_KEY) to its key")
            raise UserError(f"the model server at {self.base_url} refused the API key "
                            f"({status}: {message}); {fix}")
        if status == 404 and response.request.url.path.endswith("/chat/completions"):
            try:
                served = ", ".join(self._list_models()) or "none"
            except ModelError as e:
                served = f"unknown ({e})"
            raise UserError(f"the model server at {self.base_url} answered 404 for model {self.model!r} "
                            f"({message}); the models it lists at /v1/models: {served}")
        hint = "; the server refuses native tools: pass native_tools=False" if about_tools else ""
        raise ModelError(f"the model server at {self.base_url} answered {status}: {message}{hint}")

    def _read_stream(self, lines: Iterable[str], callback: Callable[[str], Any] | None,
                     timings: dict[str, float], sent: float) -> tuple[dict[str, Any], dict[str, Any]]:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: dict[str, Any] = {}
        done, finish = False, None
        try:
            for line in lines:
                data = line[5:].strip() if line.startswith("data:") else None
                if data == "[DONE]":
                    done = True
                elif data:
                    try:
                        event = json.loads(data)
                    except ValueError:
                        raise ModelError(f"{self.base_url} streamed a non-JSON event: {data[:300]!r}") from None
                    if event.get("error"):  # `transformers serve` reports a failed generation so
                        raise ModelError(f"the model server at {self.base_url} failed mid-answer: "
                                         f"{_error_text(event['error'])}")
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        if delta.get("content") or delta.get("tool_calls"):
                            timings.setdefault("first_token", time.perf_counter() - sent)
                        if delta.get("content"):
                            text.append(delta["content"])
                            if callback is not None:
                                callback(delta["content"])
                        for tc in delta.get("tool_calls") or []:
                            slot = calls.setdefault(tc.get("index", len(calls)), {"name": "", "arguments": ""})
                            fn = tc.get("function") or {}
                            slot["name"] = slot["name"] or fn.get("name") or ""
                            slot["arguments"] += fn.get("arguments") or ""
                        finish = choice.get("finish_reason") or finish
                        done = done or bool(finish)
        except httpx.HTTPError as e:
            if not (text or calls):
                raise  # nothing shown yet: the retry policy may try again without repeating text
            raise ModelError(f"the answer stream from {self.base_url} was cut after {len(''.join(text))} "
                             f"characters ({type(e).__name__}: {e}); not retried, to not repeat text") from None
        if not done:
            raise ModelError(f"the answer stream from {self.base_url} ended before the answer did "
                             f"(no finish_reason, no [DONE]) after {len(''.join(text))} characters")
        content, tool_calls = "".join(text), [{"function": calls[i]} for i in sorted(calls)]
        if tool_calls and callback is not None:  # what was printed is then what is returned
            callback(_with_calls(content, tool_calls)[len(content):])
        return {"content": content, "tool_calls": tool_calls, "finish_reason": finish}, usage

    # -- models ----------------------------------------------------------------------------

    def _list_models(self) -> list[str]:
        def attempt() -> list[str]:
            response = self._http().get("/v1/models")
            if response.status_code >= 400:
                self._raise_for_status(response, native=False)
            try:
                return [m["id"] for m in response.json()["data"]]
            except (ValueError, KeyError, TypeError):
                raise ModelError(f"{self.base_url}/v1/models is no model list: {response.text[:300]!r}") from None

        return self._with_retries(attempt, f"GET {self.base_url}/v1/models")

    def _model_id(self) -> str:
        if self.model is None:
            served = self._list_models()
            if not served:
                raise UserError(f"the model server at {self.base_url} lists no models at /v1/models; pass the "
                                "model name (`transformers serve` lists only the Hugging Face cache)")
            self.model = served[0]
            self.description = f"openai:{self.model}@{self.base_url}"
        return self.model


def _answered_calls(messages: list[Message], index: int) -> list[Any]:
    """The Hermes calls in assistant message `index` when the tool messages right after it answer
    them one by one (same names, no images); otherwise [] and the turn goes back as plain text."""
    text, results = _text(messages[index]["content"]), []
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


def _with_calls(content: str | None, tool_calls: list[dict[str, Any]] | None) -> str:
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


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(
        p.get("text", "") for p in content or [] if p.get("type") == "text")


def _error_text(error: Any) -> str:
    return str(error.get("message") or json.dumps(error)) if isinstance(error, dict) else str(error)


def _server_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(data, dict) and any(data.get(k) for k in ("error", "detail", "message")):
        value = next(data[k] for k in ("error", "detail", "message") if data.get(k))
        return json.dumps(value)[:500] if isinstance(value, list) else _error_text(value)
    return json.dumps(data)[:500]
