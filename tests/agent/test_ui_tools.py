import pytest

from vlagent import ActionOutOfBounds, Screen, ToolArgumentsError
from vlagent import actions as A
from vlagent.ui_tools import to_action, ui_tool_schema

PHONE = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(672, 1484))
DESKTOP = Screen(image_size=(1920, 1080), device_size=(1920, 1080))


def mobile(**args):
    return to_action("mobile_use", args, PHONE, "relative-1000")


def computer(**args):
    return to_action("computer_use", args, DESKTOP, "relative-1000")


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"action": "click", "coordinate": [500, 500]}, A.Tap(x=540, y=1200)),
        ({"action": "long_press", "coordinate": [500, 500], "time": 2}, A.LongPress(x=540, y=1200, duration_ms=2000)),
        ({"action": "swipe", "coordinate": [500, 800], "coordinate2": [500, 200]}, A.Swipe(x1=540, y1=1920, x2=540, y2=480)),
        ({"action": "type", "text": "héllo $(rm)"}, A.TypeText(text="héllo $(rm)")),
        ({"action": "key", "text": "volume_up"}, A.Key(keys=("volume_up",))),
        ({"action": "system_button", "button": "Back"}, A.SystemButton(button="back")),
        ({"action": "system_button", "button": "App Switch"}, A.SystemButton(button="app_switch")),
        ({"action": "open", "text": "Settings"}, A.OpenApp(name="Settings")),
        ({"action": "wait", "time": 0.5}, A.Wait(seconds=0.5)),
        ({"action": "terminate", "status": "success", "text": "42"}, A.Terminate(status="success", answer="42")),
        ({"action": "ask_user", "text": "Which Anna?"}, A.AskUser(question="Which Anna?")),
        # Coordinates given as a string are a harmless slip worth repairing.
        ({"action": "click", "coordinate": "(500, 500)"}, A.Tap(x=540, y=1200)),
    ],
)
def test_mobile_use_actions(args, expected):
    assert mobile(**args) == expected


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"action": "left_click", "coordinate": [500, 500]}, A.Click(x=960, y=540)),
        ({"action": "left_click"}, A.Click()),
        ({"action": "right_click", "coordinate": [0, 0]}, A.Click(x=0, y=0, button="right")),
        ({"action": "middle_click", "coordinate": [0, 0]}, A.Click(x=0, y=0, button="middle")),
        ({"action": "double_click", "coordinate": [0, 0]}, A.Click(x=0, y=0, clicks=2)),
        ({"action": "mouse_move", "coordinate": [250, 250]}, A.MouseMove(x=480, y=270)),
        ({"action": "left_click_drag", "coordinate": [250, 250]}, A.Drag(x=480, y=270)),
        ({"action": "scroll", "pixels": -3}, A.Scroll(amount=-3)),
        ({"action": "key", "keys": ["ctrl", "c"]}, A.Key(keys=("ctrl", "c"))),
        ({"action": "key", "keys": "ctrl+shift+t"}, A.Key(keys=("ctrl", "shift", "t"))),
        ({"action": "type", "text": "x"}, A.TypeText(text="x")),
    ],
)
def test_computer_use_actions(args, expected):
    assert computer(**args) == expected


@pytest.mark.parametrize(
    "args,match",
    [
        ({"action": "click"}, "^mobile_use: coordinate: required for action=click$"),
        ({"action": "fly"}, "is not one of"),
        ({"action": "swipe", "coordinate": [1, 2]}, "^mobile_use: coordinate2: required for action=swipe$"),
        ({"action": "terminate"}, "^mobile_use: status: required for action=terminate$"),
        ({"action": "click", "coordinate": [float("nan"), 2]}, "^mobile_use: coordinate/0: numbers must be finite$"),
        ({"action": "click", "coordinate": [1, 2, 3]}, "coordinate"),
        ({"action": "system_button", "button": "Power"}, "is not one of"),
        ({}, "'action' is a required property"),
    ],
)
def test_bad_arguments_are_model_errors(args, match):
    with pytest.raises(ToolArgumentsError, match=match):
        mobile(**args)


def test_off_screen_coordinate_is_reported_not_clamped():
    with pytest.raises(ActionOutOfBounds):
        mobile(action="click", coordinate=[1200, 500])


def test_qwen25_coordinates_are_pixels_of_the_resized_image():
    assert to_action("mobile_use", {"action": "click", "coordinate": [336, 742]}, PHONE, "smart-resized") == A.Tap(x=540, y=1200)


def test_actions_round_trip_through_json():
    for action in [A.Tap(x=1, y=2), A.Drag(x=3, y=4, start=(1, 2)), A.Key(keys=("ctrl", "c")), A.Terminate(status="failure")]:
        assert A.ACTION_ADAPTER.validate_json(action.model_dump_json()) == action
    assert A.points_of(A.Swipe(x1=1, y1=2, x2=3, y2=4)) == [(1, 2), (3, 4)]
    assert A.points_of(A.Click()) == []


# What the Qwen2.5-VL cookbook's mobile/computer-use agents define, which the model was trained
# on: tool names, the action enum in order, parameter names and types, the button enum.
COOKBOOK = {
    "mobile_use": {
        "actions": ["key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate"],
        "params": {"action": "string", "coordinate": "array", "coordinate2": "array", "text": "string",
                   "time": "number", "button": "string", "status": "string"},
        "enums": {"button": ["Back", "Home", "Menu", "Enter"], "status": ["success", "failure"]},
    },
    "computer_use": {
        "actions": ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
                    "double_click", "scroll", "wait", "terminate"],
        "params": {"action": "string", "keys": "array", "text": "string", "coordinate": "array",
                   "pixels": "number", "time": "number", "status": "string"},
        "enums": {"status": ["success", "failure"]},
    },
}


@pytest.mark.parametrize("name", ["mobile_use", "computer_use"])
@pytest.mark.parametrize("screen,system,resolution", [
    (PHONE, "smart-resized", "672x1484"), (DESKTOP, "smart-resized", "1920x1080"), (PHONE, "relative-1000", "1000x1000"),
])
def test_ui_tools_carry_what_the_cookbook_trained(name, screen, system, resolution):
    fn = ui_tool_schema(name, screen, system)["function"]
    want = COOKBOOK[name]
    props = fn["parameters"]["properties"]
    assert fn["name"] == name and fn["parameters"]["required"] == ["action"]
    # the trained actions first and in order; ours (ask_user) only after them
    assert props["action"]["enum"][:len(want["actions"])] == want["actions"]
    assert props["action"]["enum"][len(want["actions"]):] == ["ask_user"]
    assert {k: props[k]["type"] for k in want["params"]} == want["params"]
    for key, values in want["enums"].items():
        assert props[key]["enum"][:len(values)] == values
    assert f"The screen's resolution is {resolution}." in fn["description"]


@pytest.mark.parametrize("make", [
    lambda: A.TypeText(text="x" * (A.MAX_TEXT_CHARS + 1)),
    lambda: A.Wait(seconds=A.MAX_WAIT_SECONDS + 1),
    lambda: A.LongPress(x=1, y=1, duration_ms=A.MAX_PRESS_MS + 1),
    lambda: A.Scroll(amount=A.MAX_SCROLL_CLICKS + 1),
])
def test_the_action_models_hold_the_same_bounds(make):
    """Actions built by flows and replays, not through the tool schema, meet the same limits."""
    with pytest.raises(ValueError):
        make()


def test_the_schema_shows_the_bounds_the_actions_hold():
    props = ui_tool_schema("computer_use", DESKTOP, "relative-1000")["function"]["parameters"]["properties"]
    assert props["time"]["maximum"] == A.MAX_WAIT_SECONDS and props["text"]["maxLength"] == A.MAX_TEXT_CHARS
    assert (props["pixels"]["minimum"], props["pixels"]["maximum"]) == (-A.MAX_SCROLL_CLICKS, A.MAX_SCROLL_CLICKS)
    with pytest.raises(ToolArgumentsError, match="finite"):
        computer(action="scroll", pixels=float("nan"))
