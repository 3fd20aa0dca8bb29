"""AITW action matching against hand-computed cases, and the dataset plumbing around it.

Expected values are worked out by hand from the reference (google-research
android_in_the_wild/action_matching.py); where float32 decides a case sitting exactly on a
threshold, the expectation was confirmed by running the reference itself (JAX, float32).
"""

import json

import numpy as np
import pytest
from vlagent import Screen
from vlagent import actions as A
from vlagent.bench import aitw
from vlagent.bench.aitw import ActionType, AitwAction, check_actions_match

TAP, TYPE, BACK, HOME, ENTER = ActionType.DUAL_POINT, ActionType.TYPE, ActionType.PRESS_BACK, ActionType.PRESS_HOME, ActionType.PRESS_ENTER
FAR_BOX = np.array([[0.95, 0.95, 0.01, 0.01]])  # a box no test tap goes near


def taps_match(p, q, boxes=FAR_BOX, **kwargs):
    return check_actions_match(p, p, TAP, q, q, TAP, boxes, **kwargs)


# -- the 0.14 tap distance ----------------------------------------------------------------------


def test_taps_within_the_distance_threshold_match():
    assert taps_match((0.5, 0.5), (0.5, 0.6))
    assert taps_match((0.5, 0.5), (0.6, 0.59))  # sqrt(0.01 + 0.0081) = 0.1345
    assert not taps_match((0.5, 0.5), (0.6, 0.6))  # sqrt(0.02) = 0.1414
    assert not taps_match((0.5, 0.5), (0.5, 0.7))


def test_taps_exactly_at_the_threshold_are_decided_in_float32():
    # Exactly 0.14 apart on paper. In float32 (the reference's JAX default) 0.64 - 0.5 rounds to
    # just under float32(0.14), so these match...
    assert taps_match((0.5, 0.5), (0.64, 0.5))
    assert taps_match((0.5, 0.5), (0.5, 0.64))
    # ...while 0.18 - 0.04 lands one float32 step above it, so these do not, though float64
    # arithmetic would say they do.
    assert np.float32(0.18) - np.float32(0.04) > np.float32(0.14)
    assert 0.18 - 0.04 <= 0.14 + 1e-17
    assert not taps_match((0.04, 0.5), (0.18, 0.5))


def test_tap_distance_threshold_is_a_parameter():
    assert not taps_match((0.5, 0.5), (0.5, 0.7))
    assert taps_match((0.5, 0.5), (0.5, 0.7), tap_distance_threshold=0.2)
    assert not taps_match((0.5, 0.5), (0.5, 0.6), tap_distance_threshold=0.05)


# -- annotation boxes grown by 1.4x ------------------------------------------------------------

# One box: top 0.4, left 0.4, height 0.1, width 0.1. Grown by 1.4 * size: top 0.33, left 0.33,
# height and width 0.24, so it spans 0.33-0.57 both ways.
BOX = np.array([[0.4, 0.4, 0.1, 0.1]])


def test_taps_far_apart_in_the_same_augmented_box_match():
    assert taps_match((0.34, 0.34), (0.56, 0.56), BOX)  # 0.31 apart, both in the grown box
    assert not taps_match((0.34, 0.34), (0.56, 0.56), FAR_BOX)  # the box is what matched them


def test_a_tap_just_outside_the_augmented_box_falls_back_to_distance():
    assert not taps_match((0.34, 0.34), (0.58, 0.45), BOX)  # 0.58 > 0.57: outside, 0.26 away
    assert not taps_match((0.20, 0.45), (0.45, 0.45), BOX)  # the gold tap is outside
    assert taps_match((0.32, 0.45), (0.45, 0.45), BOX)  # outside too, but only 0.13 away


def test_both_taps_must_be_in_the_same_box():
    two = np.array([[0.1, 0.1, 0.1, 0.1], [0.7, 0.7, 0.1, 0.1]])
    assert not taps_match((0.15, 0.15), (0.75, 0.75), two)
    assert taps_match((0.15, 0.15), (0.2, 0.2), two)


def test_augmentation_clamps_the_top_at_zero_without_shrinking_the_box():
    # Top 0.05, height 0.1: grown, the top would be -0.02 and the bottom 0.22. The reference
    # clamps the top to 0 but keeps the grown height 0.24, so the box reaches 0.24.
    near_top = np.array([[0.05, 0.45, 0.1, 0.1]])
    assert taps_match((0.01, 0.5), (0.23, 0.5), near_top)  # 0.22 apart: only the box matches
    assert not taps_match((0.01, 0.5), (0.25, 0.5), near_top)


def test_augment_fractions_are_parameters():
    assert not taps_match((0.34, 0.34), (0.56, 0.56), BOX, annotation_width_augment_fraction=0.0,
                          annotation_height_augment_fraction=0.0)
    assert taps_match((0.41, 0.41), (0.49, 0.49), BOX, annotation_width_augment_fraction=0.0,
                      annotation_height_augment_fraction=0.0)


def test_a_screen_without_annotations_uses_the_distance_only():
    # The reference raises here (max of an empty array); we fall back to the distance.
    assert taps_match((0.5, 0.5), (0.5, 0.6), np.zeros((0, 4)))
    assert not taps_match((0.5, 0.5), (0.5, 0.7), [])


# -- taps against swipes at 0.04 ---------------------------------------------------------------


def test_a_gesture_up_to_0_04_long_is_a_tap():
    assert aitw.is_tap_action((0.2, 0.5), (0.24, 0.5))
    assert aitw.is_tap_action((0.03, 0.5), (0.07, 0.5))  # float32: 0.04 apart counts as a tap
    assert not aitw.is_tap_action((0.5, 0.5), (0.54, 0.5))  # float32: this 0.04 is a swipe
    assert not aitw.is_tap_action((0.5, 0.5), (0.5, 0.55))


def test_a_tap_never_matches_a_swipe():
    tap, short_swipe = (0.5, 0.5), ((0.5, 0.5), (0.5, 0.55))
    assert not check_actions_match(tap, tap, TAP, *short_swipe, TAP, FAR_BOX)
    assert not check_actions_match(*short_swipe, TAP, tap, tap, TAP, BOX)
    # A 0.03 drag is still a tap, and matches a tap at the same place.
    assert check_actions_match((0.5, 0.5), (0.5, 0.53), TAP, tap, tap, TAP, FAR_BOX)


# -- swipes: the main axis only --------------------------------------------------------------


def test_swipes_match_on_main_axis_not_direction():
    up, down = ((0.8, 0.5), (0.2, 0.5)), ((0.2, 0.5), (0.8, 0.5))
    left, right = ((0.5, 0.8), (0.5, 0.2)), ((0.5, 0.2), (0.5, 0.8))
    assert check_actions_match(*up, TAP, *up, TAP, FAR_BOX)
    assert check_actions_match(*up, TAP, *down, TAP, FAR_BOX)  # same axis: a match, as the README says
    assert check_actions_match(*left, TAP, *right, TAP, FAR_BOX)
    assert not check_actions_match(*up, TAP, *left, TAP, FAR_BOX)
    diagonal_mostly_down = ((0.2, 0.2), (0.6, 0.5))
    assert check_actions_match(*diagonal_mostly_down, TAP, *up, TAP, FAR_BOX)
    assert not check_actions_match(*diagonal_mostly_down, TAP, *left, TAP, FAR_BOX)


def test_a_perfect_diagonal_counts_as_vertical():
    diagonal = ((0.2, 0.2), (0.6, 0.6))  # |dy| == |dx|: argmax takes the first axis, y
    assert check_actions_match(*diagonal, TAP, (0.9, 0.5), (0.1, 0.5), TAP, FAR_BOX)
    assert not check_actions_match(*diagonal, TAP, (0.5, 0.9), (0.5, 0.1), TAP, FAR_BOX)


# -- other action types ---------------------------------------------------------------------


def test_non_dual_point_actions_match_on_type_alone():
    nowhere = (-1.0, -1.0)
    assert check_actions_match(nowhere, nowhere, TYPE, (0.3, 0.3), (0.3, 0.3), TYPE, FAR_BOX)  # text not compared
    assert check_actions_match(nowhere, nowhere, BACK, nowhere, nowhere, BACK, FAR_BOX)
    assert not check_actions_match(nowhere, nowhere, BACK, nowhere, nowhere, HOME, FAR_BOX)
    assert not check_actions_match(nowhere, nowhere, ActionType.STATUS_TASK_COMPLETE, nowhere, nowhere,
                                   ActionType.STATUS_TASK_IMPOSSIBLE, FAR_BOX)
    assert not check_actions_match((0.5, 0.5), (0.5, 0.5), TAP, nowhere, nowhere, ENTER, FAR_BOX)


def test_numpy_inputs_and_results():
    boxes32 = BOX.astype(np.float32)
    result = check_actions_match(np.array([0.34, 0.34]), np.array([0.34, 0.34]), np.int64(4),
                                 np.array([0.56, 0.56], np.float32), np.array([0.56, 0.56]), 4, boxes32)
    assert result is True
    assert taps_match((0.34, 0.34), (0.56, 0.56), BOX.reshape(-1))  # flat y, x, h, w as stored
    assert taps_match((0.34, 0.34), (0.56, 0.56), BOX.tolist())
    assert check_actions_match([-1, -1], [-1, -1], np.int32(3), [-1, -1], [-1, -1], ActionType.TYPE, BOX) is True


# Cases on a threshold, with the results the reference JAX implementation returned for them.
REFERENCE_EDGES = [
    ((0.03, 0.5), (0.07, 0.5), True), ((0.05, 0.5), (0.09, 0.5), False), ((0.09, 0.5), (0.13, 0.5), True),
    ((0.1, 0.5), (0.14, 0.5), True), ((0.11, 0.5), (0.15, 0.5), False), ((0.3, 0.5), (0.34, 0.5), True),
    ((0.86, 0.5), (0.9, 0.5), True), ((0.5, 0.5), (0.54, 0.5), False),
]


@pytest.mark.parametrize("start,end,is_tap", REFERENCE_EDGES)
def test_tap_threshold_agrees_with_the_reference(start, end, is_tap):
    assert aitw.is_tap_action(start, end) is is_tap


# -- our actions in AITW's terms ------------------------------------------------------------


def test_from_action_normalises_device_pixels_to_yx():
    size = (1000, 2000)
    assert aitw.from_action(A.Tap(x=250, y=500), size) == AitwAction(TAP, (0.25, 0.25), (0.25, 0.25))
    assert aitw.from_action(A.LongPress(x=500, y=1000), size).kind == "click"
    swipe = aitw.from_action(A.Swipe(x1=500, y1=1600, x2=500, y2=400), size)
    assert (swipe.touch_yx, swipe.lift_yx, swipe.kind) == ((0.8, 0.5), (0.2, 0.5), "scroll")
    assert aitw.from_action(A.TypeText(text="hi"), size) == AitwAction(TYPE, typed_text="hi")
    assert aitw.from_action(A.SystemButton(button="back"), size).action_type == BACK
    assert aitw.from_action(A.SystemButton(button="enter"), size).action_type == ENTER
    assert aitw.from_action(A.Key(keys=("Enter",)), size).action_type == ENTER
    assert aitw.from_action(A.Terminate(status="success"), size).action_type == ActionType.STATUS_TASK_COMPLETE
    assert aitw.from_action(A.Terminate(status="failure"), size).action_type == ActionType.STATUS_TASK_IMPOSSIBLE
    assert aitw.from_action(A.OpenApp(name="Maps"), size) is None
    assert aitw.from_action(A.SystemButton(button="app_switch"), size) is None


def call(**arguments):
    return "<tool_call>" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "</tool_call>"


def step(action, annotations=FAR_BOX):
    return aitw.AitwStep("ep", 0, "goal", "x.png", action, np.asarray(annotations), "general")


PHONE = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(532, 1176))


def test_score_output_reads_model_units_in_both_coordinate_systems():
    gold = step(AitwAction(TAP, (0.5, 0.5), (0.5, 0.5)))
    assert aitw.score_output(gold, call(action="click", coordinate=[500, 600]), PHONE, "relative-1000")["match"]
    assert not aitw.score_output(gold, call(action="click", coordinate=[500, 700]), PHONE, "relative-1000")["match"]
    # Qwen2.5-VL: pixels of the 532x1176 image it saw; (266, 588) is the center.
    assert aitw.score_output(gold, call(action="click", coordinate=[266, 588]), PHONE, "smart-resized")["match"]
    assert not aitw.score_output(gold, call(action="click", coordinate=[266, 1100]), PHONE, "smart-resized")["match"]


def test_score_output_counts_unreadable_or_foreign_actions_as_misses():
    gold = step(AitwAction(BACK))
    row = aitw.score_output(gold, "I would press back.", PHONE, "relative-1000")
    assert (row["match"], row["error"]) == (False, "no mobile_use call")
    row = aitw.score_output(gold, call(action="click", coordinate=[1200, 5]), PHONE, "relative-1000")
    assert not row["match"] and "off the screen" in row["error"]
    row = aitw.score_output(gold, call(action="open", text="Settings"), PHONE, "relative-1000")
    assert not row["match"] and "no AITW equivalent" in row["error"]
    assert aitw.score_output(gold, call(action="system_button", button="Back"), PHONE, "relative-1000")["match"]


def test_typed_text_is_compared_only_for_text_accuracy():
    gold = step(AitwAction(TYPE, typed_text="Pizza Hut near me"))
    right = aitw.score_output(gold, call(action="type", text="  PIZZA hut "), PHONE, "relative-1000")
    assert (right["match"], right["text_match"]) == (True, True)
    wrong = aitw.score_output(gold, call(action="type", text="burgers"), PHONE, "relative-1000")
    assert (wrong["match"], wrong["text_match"]) == (True, False)  # action matching ignores text
    longer = aitw.score_output(gold, call(action="type", text="pizza hut near me open now"), PHONE, "relative-1000")
    assert longer["text_match"]  # either contains the other


def test_gold_arguments_score_as_a_match():
    for action in [
        AitwAction(TAP, (0.3, 0.7), (0.3, 0.7)), AitwAction(TAP, (0.8, 0.5), (0.2, 0.5)),
        AitwAction(TYPE, typed_text="hello"), AitwAction(HOME), AitwAction(ENTER),
        AitwAction(ActionType.STATUS_TASK_IMPOSSIBLE),
    ]:
        for system in ("relative-1000", "smart-resized"):
            gold = step(action)
            text = call(**aitw.gold_arguments(gold, PHONE, system))
            assert aitw.score_output(gold, text, PHONE, system)["match"], (action, system)


# -- files and metrics ----------------------------------------------------------------------


def seeclick_step(ep, n, kind, **fields):
    base = {"ep_id": ep, "step": n, "goal": "search pizza", "img_filename": f"general/{ep}_{n}",
            "action_type_id": kind, "action_type_text": "", "touch": [-1.0, -1.0], "lift": [-1.0, -1.0],
            "type_text": "", "annot_position": [0.4, 0.4, 0.1, 0.1]}
    return {**base, **fields}


def test_load_seeclick_export_swaps_x_first_points(tmp_path):
    data = {"general": [[
        seeclick_step("1", 0, 4, touch=[0.7, 0.2], lift=[0.7, 0.2]),
        seeclick_step("1", 1, 3, type_text="pizza"),
    ]], "install": [[seeclick_step("2", 0, 5)]]}
    path = tmp_path / "aitw_data_test.json"
    path.write_text(json.dumps(data))
    episodes = aitw.load_episodes(path)
    first = episodes[0][0]
    assert first.action.touch_yx == (0.2, 0.7)  # stored as [x, y]
    assert first.image == "general/1_0.png" and first.subset == "general"
    assert first.annotations.shape == (1, 4)
    assert episodes[0][1].action.typed_text == "pizza"
    assert episodes[1][0].subset == "install"


def test_load_tfrecord_feature_jsonl(tmp_path):
    lines = [
        {"episode_id": "9", "step_id": 1, "goal_info": "g", "image": "s1.png", "results/action_type": 10,
         "results/yx_touch": [-1, -1], "results/yx_lift": [-1, -1], "results/type_action": "",
         "image/ui_annotations_positions": []},
        {"episode_id": "9", "step_id": 0, "goal_info": "g", "image": "s0.png", "results/action_type": 4,
         "results/yx_touch": "[0.1, 0.9]", "results/yx_lift": "[0.1, 0.9]", "results/type_action": "",
         "image/ui_annotations_positions": [0.0, 0.8, 0.2, 0.2]},
    ]
    path = tmp_path / "aitw.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    (episode,) = aitw.load_episodes(path)
    assert [s.step_id for s in episode] == [0, 1]
    assert episode[0].action.touch_yx == (0.1, 0.9)  # already (y, x)
    assert episode[1].annotations.shape == (0, 4)


def test_summarize_reports_partial_and_complete_match_per_subset():
    def row(ep, match, subset, gold="click", text_match=None):
        return {"episode_id": ep, "step_id": 0, "subset": subset, "gold": gold, "predicted": gold,
                "match": match, "type_match": True, "text_match": text_match, "error": None}

    rows = [row("a", True, "general"), row("a", False, "general", "scroll"),
            row("b", True, "general", "type", True), row("c", True, "install")]
    metrics = aitw.summarize(rows)
    assert metrics["action_matching"] == 0.75
    assert metrics["complete_match"] == round(2 / 3, 4)  # a failed one step; b and c matched all
    assert metrics["subsets"]["general"]["action_matching"] == round(2 / 3, 4)
    assert metrics["average"] == round((2 / 3 + 1) / 2, 4)  # mean over subsets
    assert metrics["text_accuracy"] == 1.0 and metrics["scroll_accuracy"] == 0.0
