"""RunConfig: how a run goes, in one validated, documented place.

It is saved in trajectory.json (`config`), so a resumed run (`Agent.resume`, `vlagent run
--resume`) goes on with the budgets and settings it was started with, whatever the resuming
process was given. What cannot be written down stays an Agent argument: the model, the device,
tools, secrets (their values never reach a file), the policy, the output folder and callbacks.
"""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .models.base import PromptStyle

__all__ = ["RunConfig", "configured"]


class RunConfig(BaseModel):
    """Budgets and settings of one agent run; every field has a default."""

    # defer_build: validators are built on first use, keeping `import vlagent` cheap
    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    max_steps: int = Field(20, ge=1, description=(
        "Stop after this many steps; on resume they count the whole run, old steps and new."))
    max_seconds: float | None = Field(None, gt=0, description="Stop after this much wall time, in seconds.")
    max_tokens: int | None = Field(None, ge=1, description=(
        "Stop once the run has used this many model tokens, prompt and completion."))
    history_images: int = Field(2, ge=1, description=(
        "Screenshots the model sees per step at least, the current one included; older steps are "
        "summarised as text."))
    history_roll: int = Field(4, ge=1, description=(
        "Steps between two rolls of the screenshot window: the window grows by one screenshot a "
        "step up to history_images + history_roll - 1, then its oldest history_roll steps become "
        "one-line summaries at once. Between rolls each prompt extends the last one, so an "
        "in-process model prefills only what is new; 1 keeps exactly history_images."))
    settle_timeout: float = Field(2.0, ge=0, description=(
        "Longest wait, in seconds, for the screen to stop changing after an action."))
    max_consecutive_errors: int = Field(5, ge=1, description=(
        "Steps in a row with nothing but mistakes (unparsable output, bad arguments, blocked "
        "actions) before the run stops."))
    repeat_limit: int = Field(3, ge=1, description=(
        "The same action chosen on an unchanged screen this many times in a row stops the run "
        "(the model is told after the first repeat)."))
    dry_run: bool = Field(False, description="Record the model's plan without acting on the device or calling tools.")
    show_transitions: bool = Field(False, description=(
        "Show the model, before each screen, a video of the frames captured while the last "
        "action took effect (a toast that came and went, an animation), when the screen moved "
        "at all. For models that read video (the Qwen2-VL family); each costs its video tokens "
        "and turns off the in-process model's prompt reuse for the step."))
    prompt_style: PromptStyle | None = Field(None, description=(
        "What the model reads besides the tool block and the screens. 'full': the agent's rules "
        "(the system prompt), the task in a turn of its own and, after each screen, a request for "
        "the next action, which a model not trained on vlagent's runs needs. 'bare': the task "
        "after each screen and nothing else of ours, for a checkpoint fine-tuned on samples "
        "exported that way (`vlagent data export --prompt-style bare`). None: the model's own "
        "(a checkpoint `vlagent train` made says which it was trained on), else 'full'."))


def configured(base: RunConfig, settings: dict[str, Any]) -> RunConfig:
    """`base` with `settings` (RunConfig's fields by name, as an Agent takes them) changed, validated."""
    try:
        return RunConfig(**{**base.model_dump(), **settings})
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        raise ValueError(f"Agent: {'.'.join(map(str, first['loc']))}: {first['msg']} (the settings are "
                         f"RunConfig's: {', '.join(RunConfig.model_fields)})") from None
