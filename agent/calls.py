"""A call and its result as the model made the call and the tool answered it (`ToolCall`,
`ToolResult`). A trajectory records them as `vlagent.call_records`' `CallRecord` and
`ResultRecord` (plain JSON, with the secrets scrubbed and images as placeholders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

