"""OpenAIModel: any OpenAI-compatible chat-completions server (vLLM, SGLang, `transformers serve`,
Ollama, DashScope), spoken to with httpx.

Screenshots are resized as on the in-process path (`fit_to_model`) and sent as lossless PNG
data URLs, so the server's processor has nothing left to resize and the model sees the pixels
TransformersModel would show it. Tools are written into the prompt in the profile's format
(`render_messages`; the default, as the Qwen2-VL and Qwen2.5-VL chat templates drop `tools`) or,
asked for, sent natively (`tools=`); either way the agent parses the returned text. Timeouts, 429
and 5xx are retried under `vlagent.retry`; everything else raises at once, worded for whoever
must fix it.

Here: the request and the HTTP exchange. The messages' wire form is `openai_messages`; reading a
streamed answer and a failed response's message is `openai_replies`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Literal

import httpx

from ..deadline import AnswerTooSlow, within
from ..errors import ModelError, UserError
from ..profiles import Profile, get_profile, profile_for_name
from ..prompts import continues_final, render_messages, strip_continuation
from ..redaction import redact_logs
from ..retry import MAX_RETRY_AFTER, RETRYABLE_STATUS, is_transient, retry_after, retrying
from .openai_messages import DataURLs, native_messages, wire_message, with_calls
from .openai_replies import read_stream, server_message
from .stopping import cut_at_stop
from .base import (
    DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, Completion, CoordinateSystem, Message, ToolSchema, checked_prompt_style,
)

API_KEY_ENV_VARS = ("VLAGENT_API_KEY", "OPENAI_API_KEY", "DASHSCOPE_API_KEY")


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
        prompt_style: str | None = None,
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
        self.prompt_style = checked_prompt_style(prompt_style)  # a served fine-tune's (RunConfig.prompt_style)
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
        self._images = DataURLs()
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
        text = with_calls(message.get("content"), message.get("tool_calls"))
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
        wire = [wire_message(m, self._image_url) for m in chat]
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
                    and hasattr(p["image"], "width") else f"<video {p.get('video')!r}>"
                    if p.get("type") == "video" else p for p in content]

        return json.dumps([{**m, "content": shown(m.get("content"))} for m in chat], ensure_ascii=False, indent=1)

    def _chat(self, messages: list[Message], tools: list[ToolSchema] | None, native: bool) -> list[Message]:
        if native:
            return native_messages(messages)
        return render_messages(messages, tools, self.profile.tool_format) if tools else messages

    def _image_url(self, image: Any) -> str:
        return self._images.url(image, min_pixels=self.min_pixels, max_pixels=self.max_pixels,
                                image_format=self.image_format)

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
                             f"({server_message(e.response)}), also on retrying") from None
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
                    return read_stream(lines, options.get("stream_callback"), timings, sent, self.base_url)
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
        status, message = response.status_code, server_message(response)
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

