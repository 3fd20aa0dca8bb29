"""Model profiles: what each Qwen-VL family was trained to read and write, in one place.

A profile is data. The backends pick one from the checkpoint's `config.json` `model_type` (or a
served model's name) and read from it how to write tools and results, where to stop, how the
model's coordinates map to the screenshot and how big its images may be. Adding a family is
adding a profile here, not editing the loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError
from .models.base import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, CoordinateSystem, ToolFormat


@dataclass(frozen=True)
class Profile:
    name: str  # what --profile takes
    family: str  # as people write it
    model_types: tuple[str, ...]  # config.json model_type values of this family
    model_class: str  # the transformers class that runs it
    tool_format: ToolFormat  # hermes: Qwen-Agent's Nous <tool_call>; qwen: its ✿FUNCTION✿
    coordinate_system: CoordinateSystem
    # Where generation stops before the model writes what is not its to write (tool results).
    # Cut from the text, as OpenAI-compatible servers do.
    stop: tuple[str, ...]
    served_name: re.Pattern  # matches the names servers give this family's checkpoints
    # How the family writes a box when asked where something is ({ref}: what was asked for).
    box_answer: str
    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS
    note: str = ""


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile(
        name="qwen2-vl", family="Qwen2-VL", model_types=("qwen2_vl",),
        model_class="Qwen2VLForConditionalGeneration", tool_format="qwen",
        coordinate_system="relative-1000", stop=("✿RESULT✿", "✿RETURN✿"),
        served_name=re.compile(r"qwen2[-_]?vl", re.IGNORECASE),
        box_answer="<|object_ref_start|>{ref}<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>",
        note="function calls in Qwen-Agent's ✿ format, as in the Qwen2-VL function-calling demos; "
             "boxes and points 0-1000",
    ),
    Profile(
        name="qwen2.5-vl", family="Qwen2.5-VL", model_types=("qwen2_5_vl",),
        model_class="Qwen2_5_VLForConditionalGeneration", tool_format="hermes",
        coordinate_system="smart-resized", stop=(),
        served_name=re.compile(r"qwen2[._]5[-_]?vl", re.IGNORECASE),
        box_answer='{{"bbox_2d": [x1, y1, x2, y2], "label": "{ref}"}}',
        note="Hermes <tool_call> with Qwen-Agent's Nous tools block, as in the cookbook's "
             "mobile/computer-use agents; pixels of the resized screenshot",
    ),
)}
DEFAULT_PROFILE = "qwen2-vl"


def get_profile(name: str) -> Profile:
    """The profile called `name`; a UserError listing them otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UserError(f"unknown profile {name!r}; the profiles are: {', '.join(PROFILES)} "
                        "(`vlagent profiles` describes them)") from None


def profile_for_model_type(model_type: str) -> Profile | None:
    return next((p for p in PROFILES.values() if model_type in p.model_types), None)


def profile_for_name(name: str) -> Profile:
    """The profile a checkpoint or served model's name points to, else the default."""
    return next((p for p in PROFILES.values() if p.served_name.search(name)), PROFILES[DEFAULT_PROFILE])
