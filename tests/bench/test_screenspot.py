"""ScreenSpot point-in-box scoring, as SeeClick's pretrain/screenspot_test.py compares them."""

import json

import pytest
from vlagent import Screen
from vlagent.bench import screenspot

SIZE = (1000, 500)
SCREEN = Screen(image_size=SIZE, device_size=SIZE, model_size=(1008, 504))
# x 100..150, y 200..240 in pixels; as fractions x 0.1..0.15, y 0.4..0.48.
EXAMPLE = screenspot.GroundingExample(0, "a.png", "the send button", (100, 200, 50, 40), "icon", "mobile")


def click(x, y, name="mobile_use", action="click"):
    return "<tool_call>" + json.dumps({"name": name, "arguments": {"action": action, "coordinate": [x, y]}}) + "</tool_call>"


def correct(text, system="relative-1000"):
    return screenspot.score_output(EXAMPLE, text, SCREEN, system)["correct"]


@pytest.mark.parametrize("x,y,inside", [
    (125, 440, True),   # the center
    (100, 400, True),   # the top-left corner: edges count
    (150, 480, True),   # the bottom-right corner
    (99, 440, False), (151, 440, False), (125, 399, False), (125, 481, False),
])
def test_point_on_the_box_edge_counts(x, y, inside):
    # relative-1000: x / 1000 of the width, y / 1000 of the height, against 100/1000 .. 150/1000
    # and 200/500 .. 240/500 -- the same fractions, so the edges compare exactly.
    assert correct(click(x, y)) is inside


def test_smart_resized_pixels_are_scaled_by_the_image_the_model_saw():
    # The model saw 1008x504; (126, 221.76) there is (0.125, 0.44) of the screen.
    assert correct(click(126, 222), "smart-resized")
    assert not correct(click(126, 300), "smart-resized")


def test_desktop_click_actions_and_grounding_boxes_are_read():
    assert correct(click(125, 440, "computer_use", "left_click"))
    assert correct(click(125, 440, "computer_use", "double_click"))
    # A Qwen2-VL grounding box: its center (125, 440) is what is scored.
    assert correct("<|object_ref_start|>send<|object_ref_end|><|box_start|>(100,400),(150,480)<|box_end|>")
    assert not correct("<|box_start|>(0,0),(40,40)<|box_end|>")
    # A call wins over a box written in the same answer.
    assert not correct(click(900, 900) + "<|box_start|>(100,400),(150,480)<|box_end|>")


def test_no_point_is_a_miss_with_a_reason():
    row = screenspot.score_output(EXAMPLE, "I cannot find it.", SCREEN, "relative-1000")
    assert row["correct"] is False and row["error"] == "no click call and no grounding box"
    row = screenspot.score_output(EXAMPLE, "<|box_start|>(1,2)<|box_end|>", SCREEN, "relative-1000")
    assert row["correct"] is False and "Could not parse the box" in row["error"]


def test_gold_click_is_correct():
    for system in ("relative-1000", "smart-resized"):
        args = screenspot.gold_arguments(EXAMPLE, SCREEN, system)
        assert correct(click(*args["coordinate"]), system)


def test_load_and_summarize_by_platform_and_type(tmp_path):
    mobile = [{"img_filename": "m1.png", "bbox": [0, 0, 10, 10], "instruction": "a", "data_type": "text", "data_source": "ios"},
              {"img_filename": "m2.png", "bbox": [0, 0, 10, 10], "instruction": "b", "data_type": "icon", "data_source": "android"}]
    web = [{"img_filename": "w1.png", "bbox": [5, 5, 10, 10], "instruction": "c", "data_type": "text", "data_source": "shop"}]
    (tmp_path / "screenspot_mobile.json").write_text(json.dumps(mobile))
    (tmp_path / "screenspot_web.json").write_text(json.dumps(web))
    examples = screenspot.load_examples(tmp_path)
    assert [(e.platform, e.data_type) for e in examples] == [("mobile", "text"), ("mobile", "icon"), ("web", "text")]
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{**mobile[0], "data_source": "macos"}]))
    assert screenspot.load_examples(other)[0].platform == "desktop"  # by data_source

    rows = [{"platform": "mobile", "data_type": "text", "correct": True, "error": None},
            {"platform": "mobile", "data_type": "text", "correct": False, "error": None},
            {"platform": "mobile", "data_type": "icon", "correct": True, "error": None},
            {"platform": "web", "data_type": "text", "correct": False, "error": "no click call and no grounding box"}]
    metrics = screenspot.summarize(rows)
    assert metrics["by_platform_type"] == {"mobile_icon": 1.0, "mobile_text": 0.5, "web_text": 0.0}
    assert metrics["accuracy"] == 0.5 and metrics["macro"] == 0.5 and metrics["invalid_outputs"] == 1
