"""Prompt text: our system prompts (Jinja2 files in `templates/`), and the function-calling
formats, which are rendered by the reference library rather than by us.

Qwen2-VL's and Qwen2.5-VL's chat templates know nothing of tools, so tool schemas, tool calls
and tool results are written into the conversation in the format the model was trained on, and
the strings a model keys on come from Qwen-Agent's own prompt builders at run time, never from a
copy: `NousFnCallPrompt` (Hermes `<tool_call>`, Qwen2.5-VL and later) and `QwenFnCallPrompt`
(✿FUNCTION✿, Qwen2-VL; Chinese conversations get its Chinese template, as Qwen-Agent does).
What we add in our own words (screen text and tool results are data) lives in our system
prompt, which comes before the trained block.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

# jinja2 (~35 ms) and importlib.resources (which imports tempfile) are imported by the first
# render, not at import, so that `from vlagent import Agent` stays cheap (issue #20, cold start).
# Qwen-Agent is imported by the first prompt that writes tools, through `_qwen_agent` below.

from ..errors import ParseError
from ..parsing import parse_tool_calls

if TYPE_CHECKING:
    import jinja2

TOOL_FORMATS = ("hermes", "qwen")
# Qwen-Agent's own test for a Chinese conversation (utils.has_chinese_chars).
_CHINESE = re.compile(r"[\u4e00-\u9fff]")
_CALL_MARKER = {"hermes": "<tool_call>", "qwen": "✿FUNCTION✿"}


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    import jinja2  # deferred: see the note at the imports

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["tojson_compact"] = _compact_json
    return env


def _load_template(name: str) -> str:
    from importlib import resources  # deferred: see the note at the imports

    return resources.files(__name__).joinpath("templates", f"{name}.j2").read_text(encoding="utf-8")


def render(name: str, **variables: Any) -> str:
    """Render `templates/NAME.j2`."""
    return _env().get_template(name).render(**variables).strip()


# Qwen-Agent's package __init__s (`qwen_agent`, `qwen_agent.llm`) import every agent and every
# LLM backend, with openai, dashscope and tiktoken: ~1 s before the first prompt, all of it on the
# way to the first action, for the prompt builders and the message schema, which need none of
# it. `_qwen_agent` imports just those modules (~0.25 s, less once torch brought numpy); each
# package's own __init__ runs the first time anything else is asked of it, so the rest of
# Qwen-Agent still works as usual in the same process (tests/agent/test_import_cost.py).
_QWEN_AGENT_PACKAGES = ("qwen_agent", "qwen_agent.llm")
_qwen_agent_lock = threading.RLock()


def _qwen_agent(submodule: str) -> Any:
    """`qwen_agent.<submodule>`, imported without running the packages' __init__ first."""
    name = f"qwen_agent.{submodule}"
    with _qwen_agent_lock:
        for package in _QWEN_AGENT_PACKAGES:
            if package not in sys.modules:
                _stand_in_package(package)
        return importlib.import_module(name)


def _stand_in_package(name: str) -> None:
    """Put package `name` in sys.modules with its __path__ but without running its __init__,
    which runs (once) when an attribute the package does not have yet is first looked up."""
    spec = importlib.util.find_spec(name)
    if spec is None:  # not installed: the ordinary import says so
        importlib.import_module(name)
        return
    package = importlib.util.module_from_spec(spec)

    def __getattr__(attr: str) -> Any:  # PEP 562: only for names the package lacks
        with _qwen_agent_lock:
            if package.__dict__.pop("__getattr__", None) is not None:  # once: then an ordinary module
                spec.loader.exec_module(package)
        return getattr(package, attr)

    package.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)


@lru_cache(maxsize=2)
def _builder(tool_format: str) -> Any:
    """Qwen-Agent's prompt builder for `tool_format` (imported on first use)."""
    if tool_format == "qwen":
        return _qwen_agent("llm.fncall_prompts.qwen_fncall_prompt").QwenFnCallPrompt()
    return _qwen_agent("llm.fncall_prompts.nous_fncall_prompt").NousFnCallPrompt()


def language(messages: list[dict]) -> str:
    """"zh" when a system or user turn has Chinese characters (the ✿ format has a Chinese
    template for those), else "en"."""
    for msg in messages:
        if msg["role"] in ("system", "user") and _CHINESE.search(_text_of(msg["content"])):
            return "zh"
    return "en"


def render_messages(
    messages: list[dict], tools: list[dict] | None, tool_format: str = "hermes", *, parallel: bool = False
) -> list[dict]:
    """Messages with only system/user/assistant roles: tool schemas in the system turn, calls
    and results written as the model was trained to see them, by Qwen-Agent's builder.

    Assistant turns are raw model text; their calls are re-read and written back in the
    canonical form (Qwen-Agent's round trip), a turn whose calls cannot be read stays as written.
    In the ✿ format a result continues the assistant turn, which then ends with the ✿RETURN✿
    cue: see `continues_final`. `parallel` picks the ✿ template for several calls at once.
    """
    if tool_format not in TOOL_FORMATS:
        raise ValueError(f"unknown tool format {tool_format!r}; use one of {TOOL_FORMATS}")
    schema = _qwen_agent("llm.schema")
    ContentItem, FunctionCall, Message = schema.ContentItem, schema.FunctionCall, schema.Message

    images: dict[str, Any] = {}

    def items(content: Any) -> list[Any]:
        out = []
        for part in _as_parts(content):
            if part["type"] == "text":
                out.append(ContentItem(text=part["text"]))
            else:  # any non-text part travels as a placeholder and is put back afterwards
                key = f"vlagent-part-{len(images)}"
                images[key] = part
                out.append(ContentItem(image=key))
        return out

    qa: list[Any] = []
    for msg in messages:
        role = msg["role"]
        if role == "assistant":
            for text, call in _assistant_pieces(_text_of(msg["content"]), tool_format):
                if call is None:
                    qa.append(Message(role="assistant", content=[ContentItem(text=text)]))
                else:
                    qa.append(Message(role="assistant", content=[], function_call=FunctionCall(
                        name=call.name, arguments=json.dumps(call.arguments, ensure_ascii=False))))
        elif role == "tool":
            qa.append(Message(role="function", name=msg.get("name") or "tool", content=items(msg["content"])))
        else:
            qa.append(Message(role=role, content=items(msg["content"])))
    if tool_format == "qwen" and qa and qa[0].role == "function":
        raise ValueError("a ✿ tool result must follow the assistant turn that called the tool")
    functions = [t["function"] for t in tools or []]
    if not functions:
        raise ValueError("render_messages needs the tool schemas: the builders write calls and results with them")
    qa = _builder(tool_format).preprocess_fncall_messages(
        qa, functions, lang=language(messages), parallel_function_calls=parallel)
    return [{"role": m.role, "content": _parts_back(m.content, images)} for m in qa]


def continues_final(messages: list[dict]) -> bool:
    """True when the rendered conversation ends inside an assistant turn (a ✿ result waiting for
    its ✿RETURN✿ reply): the model continues that turn instead of starting a new one."""
    return bool(messages) and messages[-1]["role"] == "assistant"


def strip_continuation(text: str) -> str:
    """The reply to a continued ✿ turn starts with the ': ' that the prompt left off."""
    return text[2:] if text.startswith(": ") else text[1:] if text.startswith(":") else text


def in_tool_format(text: str, calls: list, tool_format: str) -> str:
    """A reply as a model of `tool_format` writes it: `text` as it is when it is in that format
    already (or has no `calls`), else its parsed `calls` written by the format's Qwen-Agent
    builder (an oracle's Hermes calls become ✿ calls for a Qwen2-VL)."""
    if _CALL_MARKER[tool_format] in text or not calls:
        return text
    schema = _qwen_agent("llm.schema")
    qa = [schema.Message(role="user", content=[schema.ContentItem(text=".")])]
    qa += [schema.Message(role="assistant", content=[], function_call=schema.FunctionCall(
        name=c.name, arguments=json.dumps(c.arguments, ensure_ascii=False))) for c in calls]
    functions = [{"name": c.name, "description": "", "parameters": {"type": "object"}} for c in calls]
    rendered = _builder(tool_format).preprocess_fncall_messages(qa, functions, lang="en", parallel_function_calls=False)
    return "".join(item.text or "" for item in rendered[-1].content)


def _assistant_pieces(text: str, tool_format: str) -> list[tuple[str, Any]]:
    """(text, None) and ("", ToolCall) pieces of a raw reply, in order: the words before the
    first call, then each call; what follows the calls (results the model wrote itself when
    nothing stopped it) is dropped, as Qwen-Agent drops it. Unreadable calls keep the reply."""
    start = text.find(_CALL_MARKER[tool_format])
    if start < 0:
        return [(text, None)]
    try:
        calls = parse_tool_calls(text)
    except ParseError:
        return [(text, None)]
    thought = text[:start].strip()
    return ([(thought, None)] if thought else []) + [("", c) for c in calls]


def _parts_back(content: Any, images: dict[str, Any]) -> str | list[dict]:
    """Qwen-Agent content items as our parts; adjacent text joined, all-text as one string."""
    if isinstance(content, str):
        return content
    parts: list[dict] = []
    for item in content:
        kind, value = item.get_type_and_value()
        if kind == "text":
            if parts and parts[-1]["type"] == "text":
                parts[-1] = {"type": "text", "text": parts[-1]["text"] + value}
            else:
                parts.append({"type": "text", "text": value})
        else:
            parts.append(images[value])
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _as_parts(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content or [])


def _text_of(content: Any) -> str:
    return "".join(p["text"] for p in _as_parts(content) if p["type"] == "text")
