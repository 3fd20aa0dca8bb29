"""Reading what an OpenAI-compatible server answers: a streamed chat completion (server-sent
events, text and tool-call deltas) and the error message in a failed response."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable

import httpx

from ..errors import ModelError
from .openai_messages import with_calls


def read_stream(lines: Iterable[str], callback: Callable[[str], Any] | None, timings: dict[str, float],
                sent: float, base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the message: content, tool_calls, finish_reason; the usage) of the event stream `lines`
    from the server at `base_url`, each text delta passed to `callback` as it comes;
    timings["first_token"] is set on the first delta (seconds since `sent`)."""
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
                    raise ModelError(f"{base_url} streamed a non-JSON event: {data[:300]!r}") from None
                if event.get("error"):  # `transformers serve` reports a failed generation so
                    raise ModelError(f"the model server at {base_url} failed mid-answer: "
                                     f"{error_text(event['error'])}")
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
        raise ModelError(f"the answer stream from {base_url} was cut after {len(''.join(text))} "
                         f"characters ({type(e).__name__}: {e}); not retried, to not repeat text") from None
    if not done:
        raise ModelError(f"the answer stream from {base_url} ended before the answer did "
                         f"(no finish_reason, no [DONE]) after {len(''.join(text))} characters")
    content, tool_calls = "".join(text), [{"function": calls[i]} for i in sorted(calls)]
    if tool_calls and callback is not None:  # what was printed is then what is returned
        callback(with_calls(content, tool_calls)[len(content):])
    return {"content": content, "tool_calls": tool_calls, "finish_reason": finish}, usage


def error_text(error: Any) -> str:
    return str(error.get("message") or json.dumps(error)) if isinstance(error, dict) else str(error)


def server_message(response: httpx.Response) -> str:
    """What a failed response says went wrong (its error, detail or message; else its body)."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(data, dict) and any(data.get(k) for k in ("error", "detail", "message")):
        value = next(data[k] for k in ("error", "detail", "message") if data.get(k))
        return json.dumps(value)[:500] if isinstance(value, list) else error_text(value)
    return json.dumps(data)[:500]
