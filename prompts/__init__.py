"""Prompt templates (Jinja2 files in `templates/`) and the code that renders them.

Qwen2-VL's chat template knows nothing of tools, so tool schemas are written into the system
prompt here, in the format the model was trained on: Hermes (`<tool_call>`, Qwen2.5 and later,
the vLLM `hermes` parser) or Qwen-Agent's ✿FUNCTION✿ format. Tool results are rendered back in
the same format (`<tool_response>` or `✿RESULT✿`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

TOOL_FORMATS = ("hermes", "qwen")
DEFAULT_SYSTEM = "You are a helpful assistant."


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["tojson_compact"] = _compact_json
    return env


def _load_template(name: str) -> str:
    return resources.files(__name__).joinpath("templates", f"{name}.j2").read_text(encoding="utf-8")


def render(name: str, **variables: Any) -> str:
    """Render `templates/NAME.j2`."""
    return _env().get_template(name).render(**variables).strip()


def tools_prompt(tools: list[dict], tool_format: str = "hermes") -> str:
    """The system-prompt section that describes `tools` (OpenAI function schemas)."""
    if tool_format not in TOOL_FORMATS:
        raise ValueError(f"unknown tool format {tool_format!r}; use one of {TOOL_FORMATS}")
    return render(f"{tool_format}_tools", tools=tools)


def tool_result_text(content: str, tool_format: str = "hermes") -> str:
    if tool_format == "qwen":
        return f"✿RESULT✿: {content}"
    return f"<tool_response>\n{content}\n</tool_response>"


def render_messages(
    messages: list[dict], tools: list[dict] | None, tool_format: str = "hermes"
) -> list[dict]:
    """Messages with only system/user/assistant roles, tools written into the system prompt.

    `tool` messages become user turns in the model's result format; consecutive results are
    merged into one turn, as Qwen's own templates do. Images inside results are kept as parts.
    """
    out: list[dict] = []
    system_text = None
    for msg in messages:
        role = msg["role"]
        if role == "system" and system_text is None and not out:
            system_text = _text_of(msg["content"])
        elif role == "tool":
            parts = _as_parts(msg["content"])
            wrapped = _wrap_result(parts, tool_format)
            if out and out[-1]["role"] == "user" and out[-1].get("_tool_results"):
                out[-1]["content"].extend([{"type": "text", "text": "\n"}, *wrapped])
            else:
                out.append({"role": "user", "content": wrapped, "_tool_results": True})
        else:
            out.append({"role": role, "content": msg["content"]})
    for msg in out:
        msg.pop("_tool_results", None)
    if tools:
        system_text = f"{system_text or DEFAULT_SYSTEM}\n\n{tools_prompt(tools, tool_format)}"
    if system_text is not None:
        out.insert(0, {"role": "system", "content": system_text})
    return out


def _wrap_result(parts: list[dict], tool_format: str) -> list[dict]:
    if all(p["type"] == "text" for p in parts):
        return [{"type": "text", "text": tool_result_text("".join(p["text"] for p in parts), tool_format)}]
    head, tail = tool_result_text("\x00", tool_format).split("\x00")
    return [{"type": "text", "text": head}, *parts, {"type": "text", "text": tail}]


def _as_parts(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _text_of(content: Any) -> str:
    return "".join(p["text"] for p in _as_parts(content) if p["type"] == "text")
