"""Session: exact and grounded steps on an in-memory device with a ScriptedModel.

The ScriptedModel replays given replies (boxes, JSON answers); nothing here judges a screen.
Model calls are counted with `len(model.requests)`. SimPhone runs are in tests/examples and
tests/agent/test_replay.py.
"""

from __future__ import annotations

import json
import logging

import pytest
from PIL import Image, ImageDraw
from pydantic import BaseModel

from vlagent import actions as A
from vlagent.errors import UserError, VLAgentError
from vlagent.models.scripted import ScriptedModel
from vlagent import AssertionFailed, GroundingFailed, QueryFailed, WaitTimeout
from vlagent.session import Session
from vlagent.specs import connect
from vlagent.testing import ImageDevice
from vlagent.trajectory import Trajectory


def screen(variant: int = 0) -> Image.Image:
    im = Image.new("RGB", (360, 800), "white")
    d = ImageDraw.Draw(im)
    d.rectangle((20, 40, 220, 70), fill="black")
    for i in range(8):
        y = 110 + i * 80 + (25 * variant)
        d.ellipse((20, y, 60, y + 40), fill=(30, 110, 230))
        d.rectangle((80, y + 4, 140 + (37 * (i + variant)) % 150, y + 18), fill=(40, 40, 40))
    return im


BOX = "<|object_ref_start|>the switch<|object_ref_end|><|box_start|>(500,500),(600,600)<|box_end|>"
YES = json.dumps({"answer": True, "reason": "the switch is blue"})
NO = json.dumps({"answer": False, "reason": "the switch is grey"})


def session(model=None, frames=None, *, size=None, **kwargs) -> tuple[Session, ImageDevice]:
    device = ImageDevice(frames or [screen()] * 8, size=size)
    kwargs.setdefault("cache", False)
    return Session(device, model, settle_timeout=0, **kwargs), device


# -- exact actions --------------------------------------------------------------------------------


def test_exact_actions_go_straight_to_the_device_in_device_pixels():
    s, device = session()
    assert s.tap(10, 20) == (10, 20)
    s.tap((30, 40))
    s.long_press(5, 6, duration_ms=700)
    s.swipe((1, 2), (3, 4), duration_ms=100)
    s.swipe("up")
    s.type("héllo")
    s.key("enter")
    s.key("ctrl", "c")
    s.back()
    s.home()
    s.open_app("Settings")
    assert device.actions == [
        A.Tap(x=10, y=20), A.Tap(x=30, y=40), A.LongPress(x=5, y=6, duration_ms=700),
        A.Swipe(x1=1, y1=2, x2=3, y2=4, duration_ms=100), A.Swipe(x1=180, y1=560, x2=180, y2=240),
        A.TypeText(text="héllo"), A.Key(keys=("enter",)), A.Key(keys=("ctrl", "c")),
        A.SystemButton(button="back"), A.SystemButton(button="home"), A.OpenApp(name="Settings"),
    ]
    assert s.model_calls == 0


def test_exact_mistakes_are_user_errors():
    s, device = session()
    with pytest.raises(UserError, match=r"tap\(400, 10\) is off the 360x800 screen"):
        s.tap(400, 10)
    with pytest.raises(UserError, match="needs an end point"):
        s.swipe("sideways")
    with pytest.raises(UserError, match="needs a model"):
        s.tap("the switch")
    assert device.actions == []


# -- grounded taps --------------------------------------------------------------------------------


def test_grounded_tap_uses_the_box_centre_in_device_pixels():
    model = ScriptedModel([BOX])
    s, device = session(model)
    assert s.tap("the switch") == (198, 440)  # (550, 550) of 1000 on 360x800
    assert device.actions == [A.Tap(x=198, y=440)]
    (messages, tools), = model.requests
    image, text = messages[0]["content"]
    assert image["type"] == "image" and "the switch" in text["text"] and "0-1000 scale" in text["text"]
    assert tools is None


def test_grounding_honours_device_scale_and_the_models_coordinate_system():
    # A 2x HiDPI-like device: the screenshot is twice the pointer space.
    model = ScriptedModel([BOX])
    s, device = session(model, size=(180, 400))
    assert s.tap("the switch") == (99, 220)

    seen_size = None

    class Recording(ScriptedModel):
        def generate(self, messages, tools=None, **options):
            nonlocal seen_size
            seen_size = messages[0]["content"][0]["image"].size
            return super().generate(messages, tools, **options)

    model = Recording(["<|box_start|>(100,200),(140,240)<|box_end|>"], coordinate_system="smart-resized")
    s, device = session(model)
    x, y = s.tap("the switch")
    assert (x, y) == (int(120 / seen_size[0] * 360), int(220 / seen_size[1] * 800))
    assert "pixels of the" in model.requests[0][0][0]["content"][1]["text"]


def test_a_mobile_use_click_is_a_grounding_answer_too():
    click = '<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [550, 550]}}</tool_call>'
    s, device = session(ScriptedModel([click]))
    assert s.tap("the switch") == (198, 440)


def test_an_unreadable_answer_is_retried_once_then_fails_with_the_screenshot(tmp_path):
    model = ScriptedModel(["somewhere at the top", BOX])
    s, device = session(model)
    assert s.tap("the switch") == (198, 440) and len(model.requests) == 2
    assert "no bounding box" in model.requests[1][0][-1]["content"]

    model = ScriptedModel(["somewhere", "still somewhere"])
    s, device = session(model, out=tmp_path)
    with pytest.raises(GroundingFailed) as caught:
        s.tap("the switch")
    assert len(model.requests) == 2 and device.actions == []
    assert caught.value.screenshot.exists() and str(caught.value.screenshot) in str(caught.value)
    assert caught.value.screenshot.parent == tmp_path / "failures"

    model = ScriptedModel(["NOT FOUND"])
    s, _ = session(model)
    with pytest.raises(GroundingFailed, match="not on the screen"):
        s.tap("the switch")
    assert len(model.requests) == 1


def test_a_second_tap_on_an_unchanged_screen_asks_no_model(tmp_path, caplog):
    model = ScriptedModel([BOX])
    s, device = session(model, cache=tmp_path / "cache.json")
    s.tap("the switch")
    with caplog.at_level(logging.INFO, logger="vlagent"):
        s.tap("The switch.")
    assert len(model.requests) == 1 and s.cache_hits == 1
    assert device.actions == [A.Tap(x=198, y=440)] * 2
    assert "grounding cache hit for 'The switch.' — no model call" in caplog.text

    # A new session (a rerun) with the same cache file and no model at all.
    rerun, device = session(None, cache=tmp_path / "cache.json")
    assert rerun.tap("the switch") == (198, 440) and rerun.model_calls == 0

    # Another screen: a miss, so the model is asked.
    other = ScriptedModel([BOX])
    s, device = session(other, [screen(variant=1)] * 3, cache=tmp_path / "cache.json")
    s.tap("the switch")
    assert len(other.requests) == 1


def test_locate_finds_without_tapping():
    s, device = session(ScriptedModel([BOX]))
    assert s.locate("the switch") == (198, 440) and device.actions == []


# -- questions ------------------------------------------------------------------------------------


class Battery(BaseModel):
    level: int
    charging: bool


@pytest.mark.parametrize("schema, reply, expected", [
    (int, '{"answer": 87}', 87),
    (int, "87", 87),
    (int, 'The level: ```json\n{"answer": 87}\n```', 87),
    (str, "Connected to SimNet", "Connected to SimNet"),
    (list[str], '{"answer": ["Wi-Fi", "Bluetooth"]}', ["Wi-Fi", "Bluetooth"]),
    (Battery, '{"answer": {"level": 87, "charging": false}}', Battery(level=87, charging=False)),
    ({"type": "integer", "maximum": 100}, '{"answer": 87}', 87),
])
def test_query_validates_the_answer(schema, reply, expected):
    model = ScriptedModel([reply])
    s, _ = session(model)
    assert s.query("battery level", schema=schema) == expected
    assert "JSON Schema" in model.requests[0][0][0]["content"][1]["text"]


def test_query_retries_once_with_the_validation_error():
    model = ScriptedModel(['{"answer": "about half"}', '{"answer": 50}'])
    s, _ = session(model)
    assert s.query("battery level", schema=int) == 50
    assert "valid integer" in model.requests[1][0][-1]["content"]

    model = ScriptedModel(['{"answer": 140}', '{"answer": 150}'])
    s, _ = session(model)
    with pytest.raises(QueryFailed, match="maximum") as caught:
        s.query("battery level", schema={"type": "integer", "maximum": 100})
    assert caught.value.screenshot.exists()


def test_answers_on_an_unchanged_screen_are_cached(tmp_path):
    model = ScriptedModel(['{"answer": 87}', YES])
    s, _ = session(model, cache=tmp_path / "cache.json")
    assert s.query("battery level", schema=int) == 87
    assert s.assert_("the switch is on") == "the switch is blue"
    rerun, _ = session(None, cache=tmp_path / "cache.json")
    assert rerun.query("Battery level", schema=int) == 87 and rerun.assert_("the switch is on")
    assert len(model.requests) == 2 and rerun.model_calls == 0
    other, _ = session(ScriptedModel(['{"answer": "87"}']), cache=tmp_path / "cache.json")
    assert other.query("battery level", schema=str) == "87"  # another schema is another question


def test_assert_raises_with_the_screenshot_saved(tmp_path):
    s, _ = session(ScriptedModel([NO]), out=tmp_path)
    with pytest.raises(AssertionFailed) as caught:
        s.assert_("the switch is on")
    error = caught.value
    assert isinstance(error, AssertionError) and isinstance(error, VLAgentError)
    assert "'the switch is on'" in str(error) and "the switch is grey" in str(error)
    assert error.screenshot.exists() and str(error.screenshot) in str(error)


def test_check_answers_without_raising():
    s, _ = session(ScriptedModel([NO, "yes"]))
    assert s.check("the switch is on") == (False, "the switch is grey")
    assert s.check("the title is black") == (True, "")


def test_wait_for_polls_and_asks_once_per_distinct_screen(tmp_path):
    model = ScriptedModel([NO])
    s, _ = session(model, cache=tmp_path / "cache.json")
    with pytest.raises(WaitTimeout) as caught:
        s.wait_for("the switch is on", timeout=0.3, interval=0.05)
    assert len(model.requests) == 1  # the screen never changed: one answer, cached
    assert caught.value.screenshot.exists() and isinstance(caught.value, AssertionFailed)

    model = ScriptedModel([NO, NO, YES])
    s, _ = session(model)  # no cache: every poll asks
    assert s.wait_for("the switch is on", timeout=5, interval=0.01) == "the switch is blue"
    assert len(model.requests) == 3


def test_run_hands_a_sub_task_to_the_agent_and_records_its_steps(tmp_path):
    model = ScriptedModel([
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [500, 500]}}</tool_call>',
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success", "text": "done"}}</tool_call>',
    ])
    s, device = session(model, out=tmp_path)
    s.open_app("Settings")
    result = s.run("turn on Wi-Fi", max_steps=3)
    s.close()
    assert result.status == "success" and result.answer == "done"
    assert device.actions == [A.OpenApp(name="Settings"), A.Tap(x=180, y=400)]
    assert s.model_calls == 2
    traj = Trajectory.load(tmp_path)
    assert [st.calls[0].name for st in traj.steps] == ["open_app", "mobile_use", "mobile_use"]
    assert all((tmp_path / st.screenshot).exists() for st in traj.steps)


# -- recording ------------------------------------------------------------------------------------


def test_a_session_with_out_records_a_trajectory(tmp_path):
    model = ScriptedModel([BOX, '{"answer": 87}'])
    with session(model, out=tmp_path)[0] as s:
        s.open_app("Settings")
        s.tap("the switch")
        s.tap(10, 20)
        s.query("battery level", schema=int)
    traj = Trajectory.load(tmp_path)
    assert traj.status == "success" and len(traj.steps) == 4
    assert [st.calls[0].arguments for st in traj.steps] == [
        {"name": "Settings"}, {"target": "the switch"}, {"x": 10, "y": 20}, {"question": "battery level"}]
    assert traj.steps[1].actions == [A.Tap(x=198, y=440)] and traj.steps[1].model_output == BOX
    assert traj.steps[3].actions == [] and traj.steps[3].results[0].content == "87"
    assert all((tmp_path / st.screenshot).exists() for st in traj.steps)


def test_a_failing_session_records_the_error(tmp_path):
    with pytest.raises(AssertionFailed):
        with session(ScriptedModel([NO]), out=tmp_path)[0] as s:
            s.assert_("the switch is on")
    traj = Trajectory.load(tmp_path)
    assert traj.status == "error" and "AssertionFailed" in traj.error
    assert traj.steps[0].results[0].is_error


def test_connect_takes_specs_and_objects(tmp_path):
    path = tmp_path / "shot.png"
    screen().save(path)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps([BOX]))
    with connect(f"image:{path}", f"scripted:{outputs}", cache=False) as s:
        assert s.tap("the switch") == (198, 440)
        assert s.device.actions == [A.Tap(x=198, y=440)]
    with pytest.raises(UserError, match="unknown device"):
        connect("toaster")
