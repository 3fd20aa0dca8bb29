"""The Agent: `Agent(model, device, tools, ...)` drives a device toward a goal, step by step.

One step: observe the screen, think (ask the model), parse its calls, act, settle and record;
`vlagent.stepping` carries the steps out, `vlagent.run_config.RunConfig` says how a run goes.

Cold start (issue #20): `from vlagent import Agent` loads this module alone. What an Agent needs
is imported when one is made (RunConfig's pydantic, the secrets) and when it first runs (the step
machinery, Pillow, the trajectory); the annotations' types are only for type checkers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from .guards import Secrets
    from .models.base import Message, Model
    from .policy import Policy
    from .run_config import RunConfig
    from .run_state import RunResult
    from .stepping import Stepper
    from .tools.base import Tool
    from .trajectory import Step


class Agent:
    """Drive `device` toward a goal with `model`, using the UI tool plus any function `tools`.

    config: the run's budgets and settings (`RunConfig`: max_steps, history_images, ...; saved in
    trajectory.json), or its fields by name, e.g. `Agent(model, device, max_steps=15)`.
    on_step: called with each recorded Step (the CLI prints progress with it). secrets are
    `{{NAME}}` placeholders substituted only when typing on the device; policy (a
    `vlagent.Policy`, or any object with its `check(subject, *, ui_xml, context, tool)`) checks
    each action and tool call first. The tool-call format (Hermes or ✿) is the model backend's
    business: it renders prompts and results.
    """

    def __init__(
        self,
        model: Model,
        device: Any,
        tools: Iterable[Tool] = (),
        *,
        config: RunConfig | None = None,
        out_dir: str | Path | None = None,
        on_step: Callable[[Step], None] | None = None,
        secrets: Secrets | dict[str, str] | None = None,
        policy: Policy | None = None,
        **settings: Any,
    ) -> None:
        from .guards import Secrets  # imported here, not with the module: see its docstring
        from .run_config import RunConfig, configured
        from .ui_tools import UI_TOOL_NAMES

        self.config = configured(config or RunConfig(), settings)  # settings: RunConfig's fields by name
        if self.config.prompt_style is None:  # the model's, written down so a resumed run keeps it
            self.config = configured(self.config, {"prompt_style": getattr(model, "prompt_style", None) or "full"})
        self.model = model
        self.device = device
        self.tools = {t.name: t for t in tools}
        clash = set(self.tools) & set(UI_TOOL_NAMES)
        if clash:
            raise ValueError(f"tool names {sorted(clash)} are reserved for the UI tools")
        self.out_dir = Path(out_dir) if out_dir else None
        self.on_step = on_step
        self.secrets = secrets if isinstance(secrets, Secrets) else Secrets(dict(secrets or {}))
        self.policy = policy
        self.ui_tool = "computer_use" if getattr(device, "kind", "phone") == "desktop" else "mobile_use"
        self.system = getattr(model, "coordinate_system", "relative-1000")

    def run(self, goal: str) -> RunResult:
        """Run toward `goal` until the model terminates or a budget runs out, recorded in out_dir
        (a new temporary folder without one)."""
        return self._stepper().run(goal)

    def resume(self, run_dir: str | Path, *, same_script: bool = False, **settings: Any) -> RunResult:
        """Continue an interrupted run from its trajectory.json, in the same directory.

        Finished steps are not redone: the model sees them as history and acts on the screen as
        it is now. The run keeps its own RunConfig, saved in the record (not this Agent's), with
        `settings` (RunConfig's fields by name) changed, e.g. `max_steps=30` to give a run that
        ran out of steps more: `max_steps` counts the steps of the whole run, old and new. A step
        the run died in the middle of (kill -9, power cut: `acting` on disk) is settled from
        evidence, never by sending its action again blindly (`vlagent.interrupted`).

        same_script: the model is the ScriptedModel that made the run (`vlagent run --resume`
        with a `scripted:` model); it goes on from the output of the first step not on record,
        one output per step, so the output of a step whose action never happened is given again.
        """
        return self._stepper().resume(run_dir, same_script=same_script, settings=settings)

    def first_prompt(self, goal: str) -> tuple[list[Message], list[dict]]:
        """The messages and tool schemas the model would get for GOAL's first step on the
        screen as it is now; nothing is done on the device."""
        return self._stepper().first_prompt(goal)

    def _stepper(self) -> Stepper:
        """The step machinery for one call, with this Agent as it is now (imported on first use)."""
        from .stepping import Stepper

        return Stepper(self)
