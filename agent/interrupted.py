"""Settling a step a run died in the middle of (kill -9, a power cut), before the run resumes.

The loop writes each step's intent (`acting`) before the device or a tool is touched and marks
it `acted` once the call returns, so a resumed run finds on disk either a finished step, or one
whose call may or may not have happened. This module decides which, from evidence, and never by
sending the action again blindly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from .call_records import ResultRecord
from .guards import is_black
from .settle import wait_until_stable
from .trajectory import Step, Trajectory

DIED_ACTING_MESSAGE = (
    "the run stopped while this step was being carried out; its actions may or may not have "
    "happened: look at the screen before doing any of them again"
)
TAKEN_AS_DONE_MESSAGE = (
    "ok (the run stopped while this action was being sent; the screen has changed since, so it "
    "is taken to have happened)"
)
STATUS_BAR_SHARE = 0.04  # the top of a frame left out when screens are compared: a clock ticks there


def settle_interrupted(traj: Trajectory, run_dir: Path, device: Any, ui_tool: str, settle_timeout: float) -> None:
    """Decide, for a step left `acting`, whether the call its write-ahead announced happened:

    - its `acted` mark is on disk: the call returned, so it happened (its result is recorded);
    - else, for a step whose one call is a device action, the screen now (once still) is
      compared with the step's screenshot, the frame the action was chosen on, leaving out
      the status bar: the same screen means the action never reached the device, and the
      step is dropped, as if the run had stopped before it, to be done again; a changed
      screen means it happened (its result says so);
    - anything else (a tool call, a step of several calls, a black or missing frame) may or
      may not have happened, and the model is told so.

    On a phone, where an input cannot be sent idempotently, this errs only one way: an action
    is sent twice only if its first sending changed nothing visible. A screen that changed
    for another reason (a notification, a blinking cursor) makes an action that never
    happened count as done: the model sees the screen and can do it again, a script goes on.
    """
    for step in [s for s in traj.steps if s.acting]:
        step.acting = False
        if step.acted:
            continue
        last = step is traj.steps[-1]
        happened = _screen_changed_since(step, run_dir, device, settle_timeout) if last else None
        if happened is False:
            traj.steps.pop()
        elif happened:
            step.results.append(ResultRecord(name=ui_tool, content=TAKEN_AS_DONE_MESSAGE))
        else:
            step.errors.append(DIED_ACTING_MESSAGE)
            step.results.append(ResultRecord(name=ui_tool, content=f"Error: {DIED_ACTING_MESSAGE}", is_error=True))


def _screen_changed_since(step: Step, run_dir: Path, device: Any, settle_timeout: float) -> bool | None:
    """Whether the screen, once still, differs from `step`'s screenshot (below the status bar);
    None when that cannot tell whether the step's action happened."""
    if len(step.calls) != 1 or len(step.actions) != 1 or not step.screenshot:
        return None  # a tool call, or a frame that is not the one just before the action
    try:
        with Image.open(run_dir / step.screenshot) as saved:
            before = saved.convert("RGB")
    except (OSError, ValueError):  # gone, or cut short by a power cut
        return None
    if is_black(before):
        return None  # a secure screen stays black whatever happens on it
    now, _ = wait_until_stable(device.screenshot, timeout=settle_timeout)
    now = now.convert("RGB")
    if now.size != before.size:
        return True
    top = round(now.height * STATUS_BAR_SHARE)
    box = (0, top, now.width, now.height)
    return ImageChops.difference(before.crop(box), now.crop(box)).getbbox() is not None
