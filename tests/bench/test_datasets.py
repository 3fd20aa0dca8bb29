"""run_dataset end to end over tiny fixture files, with ScriptedModel replaying chosen outputs."""

import json

import pytest
from PIL import Image
from vlagent import Screen, ScriptedModel, UserError, smart_resize
from vlagent.bench import aitw, android_control, run_dataset


def mobile(**arguments):
    return "<tool_call>" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "</tool_call>"


def save_image(path, size=(108, 240)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (30, 60, 90)).save(path)


REL = Screen(image_size=(108, 240), device_size=(108, 240))  # relative-1000 ignores the sizes


# -- AITW ---------------------------------------------------------------------------------------


def seeclick(ep, n, kind, **fields):
    return {"ep_id": ep, "step": n, "goal": "find pizza", "img_filename": f"{ep}_{n}", "action_type_id": kind,
            "touch": [-1.0, -1.0], "lift": [-1.0, -1.0], "type_text": "", "annot_position": [0.4, 0.4, 0.1, 0.1],
            **fields}


@pytest.fixture
def aitw_data(tmp_path):
    data = {"general": [[seeclick("1", 0, 4, touch=[0.45, 0.45], lift=[0.45, 0.45]),
                         seeclick("1", 1, 3, type_text="pizza")]],
            "install": [[seeclick("2", 0, 4, touch=[0.5, 0.8], lift=[0.5, 0.2]),
                         seeclick("2", 1, 10)]]}
    path = tmp_path / "aitw_data_test.json"
    path.write_text(json.dumps(data))
    for name in ("1_0", "1_1", "2_0", "2_1"):
        save_image(tmp_path / "images" / f"{name}.png")
    return path


def gold_outputs(module, path, screen=REL, system="relative-1000"):
    return [mobile(**module.gold_arguments(s, screen, system)) for e in module.load_episodes(path) for s in e]


def test_aitw_gold_replay_scores_100_percent(aitw_data, tmp_path):
    model = ScriptedModel(gold_outputs(aitw, aitw_data))
    seen = []
    report = run_dataset("aitw", aitw_data, model, images_dir=tmp_path / "images", out=tmp_path / "out",
                         progress=lambda done, total, row: seen.append((done, total, row["match"])))
    metrics = report["metrics"]
    assert metrics["action_matching"] == 1.0 and metrics["complete_match"] == 1.0
    assert metrics["average"] == 1.0 and metrics["text_accuracy"] == 1.0
    assert set(metrics["subsets"]) == {"general", "install"}
    assert seen == [(1, 4, True), (2, 4, True), (3, 4, True), (4, 4, True)]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"] == metrics
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 4

    messages, tools = model.requests[1]
    assert tools[0]["function"]["name"] == "mobile_use"
    assert "find pizza" in messages[1]["content"]
    assert '1. mobile_use({"action": "click", "coordinate": [450, 450]})' in messages[1]["content"]
    image = messages[-1]["content"][0]["image"]
    assert image.size == (112, 252)  # resized once, as the model sees it


def test_aitw_mistakes_lower_partial_and_complete_match(aitw_data, tmp_path):
    outputs = gold_outputs(aitw, aitw_data)
    outputs[2] = mobile(action="swipe", coordinate=[200, 500], coordinate2=[800, 500])  # wrong axis
    report = run_dataset("aitw", aitw_data, ScriptedModel(outputs), images_dir=tmp_path / "images")
    metrics = report["metrics"]
    assert metrics["action_matching"] == 0.75 and metrics["complete_match"] == 0.5
    assert metrics["subsets"]["install"]["action_matching"] == 0.5
    assert report["results"][2]["output"] == outputs[2]


def test_limit_counts_episodes(aitw_data, tmp_path):
    report = run_dataset("aitw", aitw_data, ScriptedModel(gold_outputs(aitw, aitw_data)), limit=1,
                         images_dir=tmp_path / "images")
    assert report["metrics"]["steps"] == 2


def test_missing_images_and_unknown_datasets_are_user_errors(aitw_data, tmp_path):
    with pytest.raises(UserError, match="not found"):
        run_dataset("aitw", aitw_data, ScriptedModel(gold_outputs(aitw, aitw_data)))
    with pytest.raises(UserError, match="unknown dataset"):
        run_dataset("mind2web", aitw_data, ScriptedModel([]))
    with pytest.raises(UserError, match="does not exist"):
        run_dataset("aitw", tmp_path / "nope.json", ScriptedModel([]))


# -- AITZ, AndroidControl, ScreenSpot -----------------------------------------------------------


def test_aitz_tree(tmp_path):
    folder = tmp_path / "general" / "G-1"
    steps = [
        {"episode_id": "1", "step_id": 0, "instruction": "open clock", "ui_positions": "[[100, 40, 20, 20]]",
         "result_action_type": 4, "result_action_text": "", "result_touch_yx": "[0.45, 0.45]",
         "result_lift_yx": "[0.45, 0.45]", "image_path": "general/G-1/G-1_0.png"},
        {"episode_id": "1", "step_id": 1, "instruction": "open clock", "ui_positions": "[]",
         "result_action_type": 10, "result_action_text": "", "result_touch_yx": "[-1, -1]",
         "result_lift_yx": "[-1, -1]", "image_path": "general/G-1/G-1_1.png"},
    ]
    folder.mkdir(parents=True)
    (folder / "G-1.json").write_text(json.dumps(steps))
    save_image(folder / "G-1_0.png")
    save_image(folder / "G-1_1.png")
    outputs = [mobile(action="click", coordinate=[450, 455]), mobile(action="terminate", status="success")]
    metrics = run_dataset("aitz", tmp_path, ScriptedModel(outputs))["metrics"]
    assert (metrics["exact_accuracy"], metrics["success_rate"], metrics["goal_progress"]) == (1.0, 1.0, 1.0)
    assert metrics["kinds"]["CLICK"]["exact_accuracy"] == 1.0


def test_android_control_smart_resized_and_low_level(tmp_path):
    record = {"episode_id": 3, "goal": "Set an alarm", "screenshots": ["a.png", "b.png", "c.png"],
              "screenshot_widths": [108, 108, 108], "screenshot_heights": [240, 240, 240],
              "actions": [{"action_type": "click", "x": 54, "y": 120}, {"action_type": "scroll", "direction": "down"}],
              "step_instructions": ["Tap the alarm tab", "Scroll down"]}
    path = tmp_path / "ac.jsonl"
    path.write_text(json.dumps(record) + "\n")
    for name in "abc":
        save_image(tmp_path / f"{name}.png")
    h, w = smart_resize(240, 108, min_pixels=ScriptedModel([]).min_pixels, max_pixels=ScriptedModel([]).max_pixels)
    screen = Screen(image_size=(108, 240), device_size=(108, 240), model_size=(w, h))
    model = ScriptedModel(gold_outputs(android_control, path, screen, "smart-resized"), coordinate_system="smart-resized")
    report = run_dataset("android_control", path, model, level="low")
    assert report["metrics"]["step_accuracy"] == 1.0 and report["metrics"]["episode_success"] == 1.0
    assert "The next step: Tap the alarm tab" in model.requests[0][0][1]["content"]
    assert "in pixels of the 112x252 screenshot" in model.requests[0][0][0]["content"]


def test_screenspot_mobile_and_desktop(tmp_path):
    (tmp_path / "screenspot_mobile.json").write_text(json.dumps([
        {"img_filename": "m.png", "bbox": [10, 20, 30, 40], "instruction": "send", "data_type": "icon", "data_source": "ios"}]))
    (tmp_path / "screenspot_desktop.json").write_text(json.dumps([
        {"img_filename": "d.png", "bbox": [0, 0, 50, 50], "instruction": "close", "data_type": "text", "data_source": "macos"}]))
    save_image(tmp_path / "m.png", (100, 200))
    save_image(tmp_path / "d.png", (200, 100))
    outputs = [
        "<tool_call>" + json.dumps({"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [900, 900]}}) + "</tool_call>",
        mobile(action="click", coordinate=[250, 200]),  # (25, 40) px: in the mobile box
    ]
    model = ScriptedModel(outputs)
    report = run_dataset("screenspot", tmp_path, model)
    assert report["metrics"]["by_platform_type"] == {"desktop_text": 0.0, "mobile_icon": 1.0}
    assert [tools[0]["function"]["name"] for _, tools in model.requests] == ["computer_use", "mobile_use"]


# -- BFCL ---------------------------------------------------------------------------------------


def test_bfcl_run_with_tools_and_decode_failures(tmp_path):
    square = {"name": "math.square", "description": "Square a number.", "parameters": {
        "type": "dict", "properties": {"x": {"type": "float", "description": "n"}}, "required": ["x"]}}
    questions = [
        {"id": "parallel_0", "question": [[{"role": "user", "content": "Square 2 and 3."}]], "function": [square]},
        {"id": "simple_python_0", "question": [[{"role": "user", "content": "Square 4."}]], "function": [square]},
        {"id": "irrelevance_0", "question": [[{"role": "user", "content": "Who won in 1998?"}]], "function": [square]},
    ]
    answers = [{"id": "parallel_0", "ground_truth": [{"math.square": {"x": [2.0]}}, {"math.square": {"x": [3.0]}}]},
               {"id": "simple_python_0", "ground_truth": [{"math.square": {"x": [4.0]}}]}]
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "BFCL_v4_mix.json").write_text("\n".join(json.dumps(q) for q in questions))
    (tmp_path / "possible_answer" / "BFCL_v4_mix.json").write_text("\n".join(json.dumps(a) for a in answers))

    def calls(*xs):
        return "".join("<tool_call>" + json.dumps({"name": "math_square", "arguments": {"x": x}}) + "</tool_call>" for x in xs)

    model = ScriptedModel([calls(3, 2), "<tool_call>{not json", "France won."])
    report = run_dataset("bfcl", tmp_path, model)
    rows = {r["id"]: r for r in report["results"]}
    assert rows["parallel_0"]["valid"]  # ints for floats, any order, "_" for "."
    assert rows["simple_python_0"]["error_type"] == "ast_decoder:decoder_failed"
    assert rows["irrelevance_0"]["valid"]
    assert report["metrics"]["categories"] == {"irrelevance": 1.0, "parallel": 1.0, "simple_python": 0.0}
    messages, tools = model.requests[0]
    assert messages == [{"role": "user", "content": "Square 2 and 3."}]
    assert tools[0]["function"]["name"] == "math_square"


def test_bench_dataset_command(tmp_path):
    """`vlagent bench dataset bfcl --data DIR --model scripted:FILE` prints and writes the metrics."""
    from typer.testing import CliRunner

    from vlagent.cli import app

    square = {"name": "square", "description": "Square a number.", "parameters": {
        "type": "dict", "properties": {"x": {"type": "integer", "description": "n"}}, "required": ["x"]}}
    data = tmp_path / "data"
    (data / "possible_answer").mkdir(parents=True)
    (data / "BFCL_v4_simple_python.json").write_text(json.dumps(
        {"id": "simple_python_0", "question": [[{"role": "user", "content": "Square 4."}]], "function": [square]}))
    (data / "possible_answer" / "BFCL_v4_simple_python.json").write_text(json.dumps(
        {"id": "simple_python_0", "ground_truth": [{"square": {"x": [4]}}]}))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(['<tool_call>{"name": "square", "arguments": {"x": 4}}</tool_call>']))
    result = CliRunner().invoke(app, ["bench", "dataset", "bfcl", "--data", str(data), "--model", f"scripted:{outputs}",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "categories.simple_python" in result.output and "1.0000" in result.output
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"]["categories"] == {"simple_python": 1.0}
