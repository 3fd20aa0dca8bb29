"""The Model protocol and the message shapes every backend reads.

Messages are chat messages as transformers and OpenAI spell them:
    {"role": "system" | "user" | "assistant", "content": str | [part, ...]}
    part: {"type": "text", "text": str} | {"type": "image", "image": PIL.Image.Image}
plus tool results, which each backend renders in the format its model was trained on:
    {"role": "tool", "name": str, "content": str | [part, ...]}

Tools arrive as JSON schemas in OpenAI's function shape, {"type": "function", "function":
{"name", "description", "parameters"}}; a backend either sends them natively or renders them
into the system prompt (`vlagent.prompts.render_messages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

Message = dict[str, Any]
ToolSchema = dict[str, Any]

# How a model's coordinates map to the image: Qwen2-VL and Qwen3-VL answer in 0-1000 relative
# units, Qwen2.5-VL in pixels of the image as resized by smart_resize.
CoordinateSystem = Literal["relative-1000", "smart-resized"]
ToolFormat = Literal["hermes", "qwen"]
# What the Agent writes around the screens (RunConfig.prompt_style): its rules, the task and a
# question ("full"), or only the task after each screen ("bare", for models fine-tuned so).
PromptStyle = Literal["full", "bare"]
PROMPT_STYLES: tuple[str, ...] = get_args(PromptStyle)


def checked_prompt_style(style: str | None) -> PromptStyle | None:
    """`style` when it is one (or None); a UserError naming them otherwise."""
    if style is not None and style not in PROMPT_STYLES:
        from ..errors import UserError

        raise UserError(f"prompt style {style!r}: use {' or '.join(PROMPT_STYLES)}")
    return style  # type: ignore[return-value]

DEFAULT_MIN_PIXELS = 4 * 28 * 28
# 1280 visual tokens of 28x28 pixels: a 1080x2400 phone screenshot becomes 1272 image tokens.
DEFAULT_MAX_PIXELS = 1280 * 28 * 28


@dataclass
class Completion:
    text: str
    usage: dict[str, int] = field(default_factory=dict)
    # Seconds per stage the backend measured itself (e.g. preprocess, prefill, decode).
    timings: dict[str, float] = field(default_factory=dict)
    # Why the answer ended, as OpenAI names it: "stop" (the model ended it, or a stop string),
    # "length" (the token limit cut it: the text is not the whole answer), None when unknown.
    finish_reason: str | None = None


@runtime_checkable
class Model(Protocol):
    """Anything that turns messages (with images) and tool schemas into text.

    Optional: `prepare_image(image)`, which the loop calls from a worker thread with the next
    screenshot (already at the model's size) while the screen settles, so a model that does its
    own image work (TransformersModel's pixel values) can do it before `generate` needs it;
    `render(messages, tools)`, the exact text it would be fed; `prompt_style`, the
    RunConfig.prompt_style it was fine-tuned on (the Agent's default for it).
    """

    coordinate_system: CoordinateSystem
    min_pixels: int
    max_pixels: int

    def generate(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, **options: Any
    ) -> Completion: ...
