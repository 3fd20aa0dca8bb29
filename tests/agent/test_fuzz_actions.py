"""Fuzzing what models control: UI-tool arguments and function-tool arguments.

Whatever JSON a model sends, only errors it can read come back — never a crash, never an action
outside the screen. Most examples are drawn from the tool's own JSON schema (as a model that
follows it writes), so they get past validation into the code that builds actions; the rest are
arbitrary JSON. `--hypothesis-show-statistics` reports the share that built an action.
(hypothesis-jsonschema would draw from the schema for us, but its last release, 0.23.1, fails
on the hypothesis releases that resolve today.)
"""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from vlagent import ActionOutOfBounds, Screen, ToolArgumentsError, tool
from vlagent import actions as A
from vlagent.tools import validate_arguments
from vlagent.tools.base import tool_schema
from vlagent.ui_tools import COMPUTER_ACTIONS, MOBILE_ACTIONS, to_action, ui_tool_schema

SCREEN = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(672, 1484))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
points = st.lists(st.floats(-2000, 3000, allow_nan=False) | st.integers(-2000, 3000), min_size=0, max_size=3)


@st.composite
def arguments(draw, actions):
    args = draw(st.dictionaries(st.sampled_from(["coordinate", "coordinate2", "text", "time", "button", "status",
                                                 "keys", "pixels", "extra"]), json_values, max_size=5))
    if draw(st.booleans()):
        args["action"] = draw(st.sampled_from(list(actions)))
    if draw(st.booleans()):
        args["coordinate"] = draw(points)
    return args


def from_property(spec: dict) -> st.SearchStrategy:
    """Values for one schema property: mostly inside its bounds, sometimes just past them."""
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    if "anyOf" in spec:
        return st.one_of(*map(from_property, spec["anyOf"]))
    if spec["type"] == "null":
        return st.none()
    if spec["type"] == "integer":
        return st.integers(spec.get("minimum", -1000), spec.get("maximum", 1000))
    if spec["type"] == "array" and spec.get("items", {}).get("type") == "number":
        n = spec.get("minItems", 2)
        inside = st.floats(0, 600) | st.integers(0, 600)  # on screen in both coordinate systems
        return st.lists(inside, min_size=n, max_size=n) | st.lists(st.integers(-50, 2500), min_size=n, max_size=n)
    if spec["type"] == "array" and spec.get("items", {}).get("type") == "string" and "minItems" not in spec:
        return st.lists(st.text(max_size=8), max_size=3)
    if spec["type"] == "array":  # computer_use keys
        return st.lists(st.sampled_from(["ctrl", "shift", "alt", "a", "enter", "f4"]), min_size=1, max_size=3)
    if spec["type"] == "string":
        return st.text(max_size=30)
    low, high = spec.get("minimum", -100), spec.get("maximum", 100)
    return st.floats(low, high) | st.floats(low - 10, high + 10, allow_nan=False)


@st.composite
def from_schema(draw, schema: dict) -> dict:
    """An arguments object as the schema describes it: the required keys, any of the others."""
    props = schema["properties"]
    keys = [k for k in props if k in schema["required"] or draw(st.integers(0, 9)) < 9]
    return {k: draw(from_property(props[k])) for k in keys}


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(["mobile_use", "computer_use"]), data=st.data(),
       system=st.sampled_from(["relative-1000", "smart-resized"]), schema_shaped=st.integers(0, 3))
def test_ui_tool_arguments_never_crash_and_stay_on_screen(name, data, system, schema_shaped):
    if schema_shaped:
        args = data.draw(from_schema(ui_tool_schema(name, SCREEN, system)["function"]["parameters"]))
    else:
        args = data.draw(arguments(MOBILE_ACTIONS if name == "mobile_use" else COMPUTER_ACTIONS))
    try:
        action = to_action(name, args, SCREEN, system)
    except (ToolArgumentsError, ActionOutOfBounds) as e:
        event(f"refused: {type(e).__name__}")
        assert str(e)
        return
    event("built an action")
    assert isinstance(action, A._Action)
    for x, y in A.points_of(action):
        assert 0 <= x < 1080 and 0 <= y < 2400


@tool
def book(city: str, nights: int = 1, tags: list[str] | None = None) -> str:
    """Book a hotel."""
    return city


@settings(max_examples=300, deadline=None)
@given(data=st.data(), schema_shaped=st.integers(0, 3))
def test_tool_arguments_are_validated_before_any_call(data, schema_shaped):
    if schema_shaped:
        args = data.draw(from_schema(tool_schema(book)["function"]["parameters"]))
    else:
        args = data.draw(st.dictionaries(st.sampled_from(["city", "nights", "tags", "other"]), json_values, max_size=4))
    try:
        validate_arguments(book, args)
    except ToolArgumentsError as e:
        event("refused")
        assert "book" in str(e)
        return
    event("called")
    assert isinstance(args["city"], str)  # what passed validation is what the function expects
    assert book(**args) == args["city"]
