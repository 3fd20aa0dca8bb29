"""AITZ type match / exact match, worked out by hand from IMNearth/CoAT's coat/evaluate.py."""

import json

import numpy as np
import pytest
from vlagent import Screen
from vlagent.bench import aitz
from vlagent.bench.aitw import ActionType, AitwAction

SIZE = (400, 800)  # AITZ screenshots are small; ui_positions are pixels of them
SCREEN = Screen(image_size=SIZE, device_size=SIZE, model_size=SIZE)


def step(action, positions=(), episode="e", step_id=0):
    return aitz.AitzStep(episode, step_id, "open the clock", "general/e/e_0.png", action,
                         np.asarray(positions, dtype=float).reshape(-1, 4), "general")


def call(**arguments):
    return "<tool_call>" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "</tool_call>"


def score(gold_step, **arguments):
    return aitz.score_output(gold_step, call(**arguments), SCREEN, "relative-1000")


# -- kinds and scroll directions --------------------------------------------------------------


@pytest.mark.parametrize("touch,lift,direction", [
    ((0.8, 0.5), (0.2, 0.5), "up"),  # the finger moves up: AITZ calls it "scroll up"
    ((0.2, 0.5), (0.8, 0.5), "down"),
    ((0.5, 0.8), (0.5, 0.2), "left"),
    ((0.5, 0.2), (0.5, 0.8), "right"),
    ((0.5, 0.25), (0.05, 0.75), "up"),  # |dy| 0.45 == 0.9 * |dx| 0.5: vertical wins the tie
    ((0.5, 0.25), (0.06, 0.75), "right"),  # |dy| 0.44 < 0.45: horizontal
])
def test_scroll_direction_is_the_fingers_with_the_0_9_rule(touch, lift, direction):
    assert aitz.scroll_direction(touch, lift) == direction


def test_gold_kinds_come_from_the_aitw_action():
    kinds = {
        AitwAction(ActionType.DUAL_POINT, (0.5, 0.5), (0.5, 0.51)): "CLICK",
        AitwAction(ActionType.DUAL_POINT, (0.8, 0.5), (0.2, 0.5)): "SCROLL",
        AitwAction(ActionType.TYPE, typed_text="x"): "TYPE",
        AitwAction(ActionType.PRESS_ENTER): "PRESS",
        AitwAction(ActionType.STATUS_TASK_IMPOSSIBLE): "STOP",
    }
    for action, kind in kinds.items():
        assert aitz.from_aitw(action).kind == kind


# -- exact match per kind -----------------------------------------------------------------------


def test_scroll_exact_needs_the_same_direction():
    gold = step(AitwAction(ActionType.DUAL_POINT, (0.8, 0.5), (0.2, 0.5)))  # finger up
    same = score(gold, action="swipe", coordinate=[500, 700], coordinate2=[500, 300])
    opposite = score(gold, action="swipe", coordinate=[500, 300], coordinate2=[500, 700])
    assert (same["type_match"], same["exact_match"]) == (True, True)
    assert (opposite["type_match"], opposite["exact_match"]) == (True, False)
    tap = score(gold, action="click", coordinate=[500, 500])
    assert (tap["type_match"], tap["exact_match"]) == (False, False)


def test_click_exact_by_distance_or_same_grown_pixel_box():
    # A 40x40 px box at x=100..140, y=200..240 of the 400x800 screen is, normalised, y 0.25-0.3
    # and x 0.25-0.35; grown by 1.4x its size it spans y 0.215-0.335 and x 0.18-0.42.
    box = [[200, 100, 40, 40]]
    gold = step(AitwAction(ActionType.DUAL_POINT, (0.22, 0.19), (0.22, 0.19)), box)
    assert score(gold, action="click", coordinate=[410, 330])["exact_match"]  # 0.25 away, same box
    assert not score(gold, action="click", coordinate=[430, 330])["exact_match"]  # x 0.43: outside
    assert score(gold, action="click", coordinate=[190, 100])["exact_match"]  # outside, 0.12 away
    assert score(gold, action="long_press", coordinate=[190, 220])["exact_match"]


def test_type_exact_by_containment_or_levenshtein_ratio_case_kept():
    gold = step(AitwAction(ActionType.TYPE, typed_text="hello world"))
    assert score(gold, action="type", text="hello")["exact_match"]  # contained
    assert score(gold, action="type", text="say hello world now")["exact_match"]  # contains
    assert score(gold, action="type", text="hello wrld")["exact_match"]  # ratio 20/21 > 0.8
    assert not score(gold, action="type", text="HELLO WORLD")["exact_match"]  # case counts here
    row = score(gold, action="type", text="goodbye")
    assert (row["type_match"], row["exact_match"]) == (True, False)
    assert row["text_ratio"] == pytest.approx(aitz.levenshtein_ratio("goodbye", "hello world"))
    empty_gold = step(AitwAction(ActionType.TYPE, typed_text=""))
    assert score(empty_gold, action="type", text="anything")["exact_match"]  # "" is in every string


def test_levenshtein_ratio_is_python_levenshteins():
    assert aitz.levenshtein_ratio("kitten", "sitting") == pytest.approx(8 / 13)  # value from Levenshtein.ratio
    assert aitz.levenshtein_ratio("", "") == 1.0
    assert aitz.levenshtein_ratio("abc", "") == 0.0


def test_press_needs_the_same_button_and_stop_is_type_only():
    back = step(AitwAction(ActionType.PRESS_BACK))
    assert score(back, action="system_button", button="Back")["exact_match"]
    home = score(back, action="system_button", button="Home")
    assert (home["type_match"], home["exact_match"]) == (True, False)
    assert score(step(AitwAction(ActionType.PRESS_ENTER)), action="key", text="enter")["exact_match"]
    impossible = step(AitwAction(ActionType.STATUS_TASK_IMPOSSIBLE))
    assert score(impossible, action="terminate", status="success")["exact_match"]  # both STOP


def test_actions_aitz_lacks_miss_both():
    row = score(step(AitwAction(ActionType.PRESS_HOME)), action="open", text="Clock")
    assert (row["type_match"], row["exact_match"], row["predicted"]) == (False, False, None)
    assert "no AITZ equivalent" in row["error"]


# -- metrics and loading ----------------------------------------------------------------------


def test_summarize_matches_coats_atomic_and_episode_metrics():
    def row(ep, n, gold, type_match, exact):
        return {"episode_id": ep, "step_id": n, "subset": "", "gold": gold, "predicted": gold,
                "type_match": type_match, "exact_match": exact, "text_ratio": None, "error": None}

    rows = [row("a", 0, "CLICK", True, True), row("a", 1, "SCROLL", True, False), row("a", 2, "STOP", True, True),
            row("b", 0, "TYPE", False, False), row("b", 1, "STOP", True, True),
            row("c", 0, "PRESS", True, True)]
    metrics = aitz.summarize(rows)
    assert metrics["type_accuracy"] == round(5 / 6, 4) and metrics["exact_accuracy"] == round(4 / 6, 4)
    assert metrics["kinds"]["STOP"] == {"count": 2, "type_accuracy": 1.0, "exact_accuracy": 1.0}
    assert metrics["success_rate"] == round(1 / 3, 4)  # only c
    # a: 1 exact step before its miss, of 3; b: 0 of 2; c: 1 of 1 -- steps after a miss never count.
    assert metrics["goal_progress"] == round((1 / 3 + 0 + 1) / 3, 4)


def test_load_episodes_from_the_dataset_tree(tmp_path):
    episode = tmp_path / "general" / "GENERAL-1"
    episode.mkdir(parents=True)
    steps = [
        {"episode_id": "1", "episode_length": 2, "step_id": 1, "instruction": "open clock",
         "ui_positions": "[]", "ui_text": "[]", "ui_types": "[]", "result_action_type": 10,
         "result_action_text": "", "result_touch_yx": "[-1.0, -1.0]", "result_lift_yx": "[-1.0, -1.0]",
         "image_path": "general/GENERAL-1/GENERAL-1_1.png", "coat_action_desc": "stop and set the query as completed"},
        {"episode_id": "1", "episode_length": 2, "step_id": 0, "instruction": "open clock",
         "ui_positions": "[[54, 17, 8, 12]]", "ui_text": "[\"M\"]", "ui_types": "[\"TEXT\"]", "result_action_type": 4,
         "result_action_text": "", "result_touch_yx": "[0.5, 0.6]", "result_lift_yx": "[0.5, 0.6]",
         "image_path": "general/GENERAL-1/GENERAL-1_0.png", "coat_action_desc": "click on the clock"},
    ]
    (episode / "GENERAL-1.json").write_text(json.dumps(steps))
    (loaded,) = aitz.load_episodes(tmp_path)
    assert [s.step_id for s in loaded] == [0, 1]
    assert loaded[0].subset == "general"
    assert loaded[0].action.touch_yx == (0.5, 0.6)
    assert loaded[0].ui_positions.tolist() == [[54, 17, 8, 12]]
    assert aitz.load_episodes(episode / "GENERAL-1.json")[0][1].action.action_type == ActionType.STATUS_TASK_COMPLETE
