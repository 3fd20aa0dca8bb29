"""A call and its result, in the two forms each takes: as the model made the call and the tool
answered it (`ToolCall`, `ToolResult`), and as a trajectory records them (`CallRecord`,
`ResultRecord`: plain JSON, with the secrets scrubbed and images as placeholders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

# Validators are built on a model's first use, not at import: `from vlagent import Agent` stays
# cheap (issue #20, cold start).
_DEFERRED = ConfigDict(defer_build=True)

Content = str | list[dict[str, Any]]


@dataclass(frozen=True)
class ToolCall:
    """A call the model made: a tool's name and its arguments (parsed, not yet validated)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolResult:
    """What one call produced, ready to send back as a tool message.

    content: text, or parts `{"type": "text", "text": ...}` / `{"type": "image", "image": PIL}`.
    An error's content starts with "Error: " so the model reads it as one in any chat format.
    """

    name: str
    content: Content
    is_error: bool = False

    @property
    def text(self) -> str:
        """The content as text (images as a placeholder), e.g. for logs and trajectories."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p["text"] if p.get("type") == "text" else f"[{p.get('type')}]" for p in self.content)


class CallRecord(BaseModel):
    """A call as the trajectory keeps it."""

    model_config = _DEFERRED

    name: str
    arguments: dict[str, Any]


class ResultRecord(BaseModel):
    """A call's result as the trajectory keeps it (text)."""

    model_config = _DEFERRED

    name: str
    content: str
    is_error: bool = False
