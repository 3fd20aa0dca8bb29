"""ScriptedModel: replays given outputs, for tests, demos and macros. It never judges anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..errors import ModelError, UserError
from .base import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    Completion,
    CoordinateSystem,
    Message,
    ToolSchema,
)


class ScriptedModel:
    """Returns `outputs` in order, one per `generate` call, and remembers what it was asked."""

    def __init__(
        self,
        outputs: Iterable[str],
        *,
        coordinate_system: CoordinateSystem = "relative-1000",
        min_pixels: int = DEFAULT_MIN_PIXELS,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.outputs = list(outputs)
        self.coordinate_system = coordinate_system
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.description = f"scripted ({len(self.outputs)} outputs)"
        self.requests: list[tuple[list[Message], list[ToolSchema] | None]] = []
        self.position = 0  # the next output to give

    def resume_at(self, steps: int) -> None:
        """Go on from output `steps`: the same script resuming a run that used that many (one
        per step), so its finished steps' outputs are not given, and acted on, again."""
        self.position = steps

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> "ScriptedModel":
        """Load a JSON list of raw model outputs."""
        try:
            outputs = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"scripted model file not found: {path}") from None
        except IsADirectoryError:
            raise UserError(f"{path} is a directory; give the JSON file of raw model outputs") from None
        except UnicodeDecodeError as e:
            raise UserError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start}); save the JSON list of "
                            "raw model outputs as UTF-8") from None
        except json.JSONDecodeError as e:
            raise UserError(f"{path} is not JSON ({e}); expected a list of raw model outputs") from None
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            raise UserError(f"{path} must hold a JSON list of strings (raw model outputs)")
        return cls(outputs, **kwargs)

    def generate(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, **options: Any
    ) -> Completion:
        index = self.position
        self.position += 1
        self.requests.append((list(messages), tools))  # a snapshot: callers keep appending
        if index >= len(self.outputs):
            raise ModelError(
                f"ScriptedModel has no output left: it was given {len(self.outputs)} and asked "
                f"for number {index + 1}; add outputs or lower max_steps"
            )
        text = self.outputs[index]
        if callback := options.get("stream_callback"):
            callback(text)  # one chunk: replayed text has no generation to stream
        return Completion(text=text)
