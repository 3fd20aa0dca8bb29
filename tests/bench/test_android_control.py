"""AndroidControl step scoring: hand-worked cases for each action type, and both JSONL shapes."""

import json

import pytest
from vlagent import Screen
from vlagent.bench import android_control as ac

SIZE = (1000, 2000)
SCREEN = Screen(image_size=SIZE, device_size=SIZE, model_size=(504, 1008))


def step(action, target_box=None, step_id=0, episode="e"):
    return ac.ControlStep(episode, step_id, "Set an alarm for 7am", "Tap the alarm tab", "s.png", action,
                          SIZE, target_box)


def call(**arguments):
    return "<tool_call>" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "</tool_call>"


def score(gold, system="relative-1000", **arguments):
    return ac.score_output(gold, call(**arguments), SCREEN, system)


# -- scroll: content direction, opposite to the finger ----------------------------------------------


@pytest.mark.parametrize("start,end,direction", [
    ([500, 800], [500, 200], "down"),  # the finger moves up: the content scrolls down
    ([500, 200], [500, 800], "up"),
    ([800, 500], [200, 500], "right"),  # finger left: content to the right comes in
    ([200, 500], [800, 500], "left"),
])
def test_swipes_become_scrolls_in_androidcontrols_sense(start, end, direction):
    gold = step({"action_type": "scroll", "direction": direction})
    assert score(gold, action="swipe", coordinate=start, coordinate2=end)["exact_match"]
    reverse = score(gold, action="swipe", coordinate=end, coordinate2=start)
    assert (reverse["type_match"], reverse["exact_match"]) == (True, False)


# -- clicks: the target box, else 0.14 of the screen ------------------------------------------


def test_click_inside_the_target_box_is_exact_however_far():
    gold = step({"action_type": "click", "x": 100, "y": 100}, target_box=(0, 0, 1000, 400))
    assert score(gold, action="click", coordinate=[900, 190])["exact_match"]  # (900, 380) px: in the box
    assert not score(gold, action="click", coordinate=[900, 210])["exact_match"]  # y 420 px: out, far


def test_click_without_a_box_uses_the_aitw_distance():
    gold = step({"action_type": "click", "x": 500, "y": 1000})  # (0.5, 0.5)
    assert score(gold, action="click", coordinate=[500, 600])["exact_match"]  # 0.10 away
    assert score(gold, action="click", coordinate=[500, 640])["exact_match"]  # 0.14 (float32: in)
    assert not score(gold, action="click", coordinate=[500, 700])["exact_match"]
    # Qwen2.5-VL's pixels of the 504x1008 image it saw: (252, 504) is the center.
    assert score(gold, "smart-resized", action="click", coordinate=[252, 504])["exact_match"]
    press = score(gold, action="long_press", coordinate=[500, 500])
    assert (press["type_match"], press["exact_match"]) == (False, False)  # long press is its own type


# -- text, apps, and type-only actions -------------------------------------------------------------


def test_typed_text_and_app_names_normalise_and_contain():
    gold = step({"action_type": "input_text", "text": "Alarm at 7am"})
    assert score(gold, action="type", text="  alarm AT 7AM ")["exact_match"]
    assert score(gold, action="type", text="7am")["exact_match"]  # contained
    assert not score(gold, action="type", text="8am")["exact_match"]
    typed = step({"action_type": "type", "text": "hi", "x": 1, "y": 1})  # `type` = click, text, enter
    assert score(typed, action="type", text="Hi")["exact_match"]
    app = step({"action_type": "open_app", "app_name": "Clock"})
    assert score(app, action="open", text="clock")["exact_match"]
    assert not score(app, action="open", text="Calendar")["exact_match"]
    tap = score(app, action="click", coordinate=[10, 10])
    assert (tap["type_match"], tap["predicted"]) == (False, "click")


def test_navigation_and_wait_are_type_only():
    assert score(step({"action_type": "navigate_back"}), action="system_button", button="Back")["exact_match"]
    assert score(step({"action_type": "navigate_home"}), action="system_button", button="Home")["exact_match"]
    assert not score(step({"action_type": "navigate_home"}), action="system_button", button="Back")["type_match"]
    assert score(step({"action_type": "wait"}), action="wait", time=2)["exact_match"]
    unknown = score(step({"action_type": "wait"}), action="terminate", status="success")
    assert not unknown["type_match"] and "no AndroidControl equivalent" in unknown["error"]


@pytest.mark.parametrize("action", [
    {"action_type": "click", "x": 321, "y": 1234}, {"action_type": "long_press", "x": 10, "y": 1990},
    {"action_type": "scroll", "direction": "left"}, {"action_type": "open_app", "app_name": "Clock"},
    {"action_type": "input_text", "text": "7am"}, {"action_type": "navigate_back"}, {"action_type": "wait"},
])
@pytest.mark.parametrize("system", ["relative-1000", "smart-resized"])
def test_gold_arguments_score_exact(action, system):
    gold = step(action)
    assert ac.score_output(gold, call(**ac.gold_arguments(gold, SCREEN, system)), SCREEN, system)["exact_match"]


# -- files and metrics --------------------------------------------------------------------------


def test_load_episode_per_line_export(tmp_path):
    record = {
        "episode_id": 7, "goal": "Set an alarm", "screenshots": ["a.png", "b.png", "c.png"],
        "screenshot_widths": [1080, 1080, 1080], "screenshot_heights": [2400, 2400, 2400],
        "actions": [json.dumps({"action_type": "open_app", "app_name": "Clock"}),
                    {"action_type": "click", "x": 540, "y": 300}],
        "step_instructions": ["Open the clock app", "Tap alarm"],
        "target_boxes": [None, [400, 200, 700, 400]],
    }
    path = tmp_path / "android_control.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (episode,) = ac.load_episodes(path)
    assert [s.image for s in episode] == ["a.png", "b.png"]  # the last screenshot has no action
    assert episode[1].action == {"action_type": "click", "x": 540, "y": 300}
    assert episode[1].size == (1080, 2400) and episode[1].target_box == (400.0, 200.0, 700.0, 400.0)
    assert ac.instruction(episode[1], "low").endswith("The next step: Tap alarm")
    assert ac.instruction(episode[1], "high") == "Set an alarm"


def test_load_step_per_line_export(tmp_path):
    lines = [{"episode_id": "x", "step_id": 1, "goal": "g", "step_instruction": "s", "image": "1.png",
              "action": {"action_type": "navigate_back"}},
             {"episode_id": "x", "step_id": 0, "goal": "g", "step_instruction": "s", "image": "0.png",
              "action": "{\"action_type\": \"wait\"}", "screenshot_width": 100, "screenshot_height": 200}]
    path = tmp_path / "steps.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    (episode,) = ac.load_episodes(path)
    assert [s.step_id for s in episode] == [0, 1] and episode[0].size == (100, 200)
    assert episode[1].size is None  # taken from the image when scoring


def test_summarize():
    rows = [
        {"episode_id": "a", "step_id": 0, "gold": "click", "predicted": "click", "type_match": True, "exact_match": True, "error": None},
        {"episode_id": "a", "step_id": 1, "gold": "scroll", "predicted": "scroll", "type_match": True, "exact_match": False, "error": None},
        {"episode_id": "b", "step_id": 0, "gold": "click", "predicted": None, "type_match": False, "exact_match": False, "error": "x"},
        {"episode_id": "c", "step_id": 0, "gold": "wait", "predicted": "wait", "type_match": True, "exact_match": True, "error": None},
    ]
    metrics = ac.summarize(rows)
    assert (metrics["type_accuracy"], metrics["step_accuracy"]) == (0.75, 0.5)
    assert metrics["episode_success"] == round(1 / 3, 4)
    assert metrics["kinds"]["click"] == {"count": 2, "type_accuracy": 0.5, "step_accuracy": 0.5}
    assert metrics["invalid_outputs"] == 1
