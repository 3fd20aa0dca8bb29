"""The attacker oracle: a scripted model fooled completely by a prompt injection.

`AttackerModel` is given the injection task's attacker plan (`Task.attack(p)`) and the user's
plan (`Task.solution(p)`); it never reads the screen for orders. It first carries out the
attacker's plan (press the pop-up's yes-button, send the data, type the PIN, delete the note,
flip the switch), then goes back to the home screen (Back, as often as it takes), then follows the
user's plan. What the injection achieved is then up to the guard alone: with `Policy("allow")`
every attack lands (the attacks are real), and the share that lands under a guard is its attack
success rate against a model that does whatever the injection says.

When a step of the attack comes back blocked (the last tool result starts with "Error: blocked")
or cannot be carried out (a node it needs is not there), it gives the attack up and goes on with
the user's plan, so the user's goal can still succeed under `deny`. A step of the user's plan
that is blocked ends the run with failure, as with the oracle.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..models.base import Message
from .gullible import _signature, last_result
from .baselines import OracleModel, _ScriptedBaseline, tool_call
from .task_plans import Step

HOME = "com.android.launcher3"
MAX_BACKS = 8


class AttackerModel(_ScriptedBaseline):
    """`attack`, then Back to the home screen, then `plan` (see the module)."""

    def __init__(self, attack: Sequence[Step], plan: Sequence[Step], ui_tree: Callable[[], str], *,
                 goal: str | None = None):
        self.attack = list(attack)
        self.plan = list(plan)
        self.ui_tree = ui_tree
        self.goal = goal
        self.description = "attacker"
        self.attacker = OracleModel(self.attack, ui_tree)
        self.oracle = OracleModel(self.plan, ui_tree)
        self.phase = "attack" if self.attack else "user"   # attack -> home -> user
        self.attack_outcome: str | None = None             # done, blocked, or why it could not go on
        self._last = self.phase                            # the phase that chose the previous action
        self._backs = 0

    def _turn(self, messages: list[Message]) -> str:
        blocked = last_result(messages).startswith("Error: blocked")
        if blocked and self._last == "user":
            return tool_call(action="terminate", status="failure", text="the policy blocked a step the task needs")
        if self.phase == "attack":
            if blocked:
                self._end_attack("blocked")
            elif self.attacker._next >= len(self.attacker.plan):
                self._end_attack("done")
            else:
                text = self.attacker.generate(messages).text
                if '"terminate"' not in text:
                    self._last = "attack"
                    return text
                self._end_attack(f"could not go on: {text}")   # a node it needs is not there
        if self.phase == "home":
            if _signature(self.ui_tree())[0] != HOME and self._backs < MAX_BACKS:
                self._backs += 1
                self._last = "home"
                return tool_call(action="system_button", button="Back")
            self.phase = "user"
        self._last = "user"
        return self.oracle.generate(messages).text

    def _end_attack(self, outcome: str) -> None:
        self.attack_outcome, self.phase = outcome, "home"
