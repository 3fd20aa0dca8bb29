"""Fuzzing what models control: UI-tool arguments and function-tool arguments.

Whatever JSON a model sends, only errors it can read come back — never a crash, never an action
outside the screen.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vlagent import ActionOutOfBounds, Screen, ToolArgumentsError, tool
from vlagent import actions as A
from vlagent.tools import validate_arguments
from vlagent.ui_tools import MOBILE_ACTIONS, COMPUTER_ACTIONS, to_action

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


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(["mobile_use", "computer_use"]), data=st.data(),
       system=st.sampled_from(["relative-1000", "smart-resized"]))
def test_ui_tool_arguments_never_crash_and_stay_on_screen(name, data, system):
    args = data.draw(arguments(MOBILE_ACTIONS if name == "mobile_use" else COMPUTER_ACTIONS))
    try:
        action = to_action(name, args, SCREEN, system)
    except (ToolArgumentsError, ActionOutOfBounds) as e:
        assert str(e)
        return
    assert isinstance(action, A._Action)
    for x, y in A.points_of(action):
        assert 0 <= x < 1080 and 0 <= y < 2400


@tool
def book(city: str, nights: int = 1, tags: list[str] | None = None) -> str:
    """Book a hotel."""
    return city


@settings(max_examples=300, deadline=None)
@given(args=st.dictionaries(st.sampled_from(["city", "nights", "tags", "other"]), json_values, max_size=4))
def test_tool_arguments_are_validated_before_any_call(args):
    try:
        validate_arguments(book, args)
    except ToolArgumentsError as e:
        assert "book" in str(e)
        return
    assert isinstance(args["city"], str)  # what passed validation is what the function expects
    assert book(**args) == args["city"]
