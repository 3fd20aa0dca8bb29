"""A call and its result as a trajectory keeps them (`CallRecord`, `ResultRecord`): plain JSON,
with the secrets scrubbed and images as placeholders. The calls as the model made them and the
tools answered them are `vlagent.calls`' (no pydantic there: parsing a reply needs none)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# Validators are built on a model's first use, not at import (issue #20, cold start).
_DEFERRED = ConfigDict(defer_build=True)


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
