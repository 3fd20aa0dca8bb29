"""The agent loop with ScriptedModel: replayed outputs, never a model's judgement."""

import json

import jsonschema
import pytest
from PIL import Image

from vlagent import Agent, ModelError, ScriptedModel, Trajectory, tool
from vlagent import actions as A
from vlagent.models.base import Completion
from vlagent.testing import ImageDevice
from vlagent.trajectory import trajectory_schema


def call(name="mobile_use", **arguments):
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


@pytest.fixture
def phone():
    frames = [Image.new("RGB", (1080, 2400), c) for c in ("white", "lightblue", "lightgreen", "pink")]
    return ImageDevice(frames)


def load(result):
    data = json.loads(result.trajectory_path.read_text())
    jsonschema.validate(data, trajectory_schema())
    return Trajectory.model_validate(data)


def test_mistakes_are_fed_back_and_recovered(phone, tmp_path):
    outputs = [
        'I will tap it. <tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [500,',  # malformed
        call(action="click", coordinate=[1500, 300]),  # off-screen
        call(action="click", coordinate=[500, 300], status="maybe"),  # bad argument
        call(action="click", coordinate=[500, 300]),
        call(action="terminate", status="success", text="done"),
    ]
    model = ScriptedModel(outputs)
    result = Agent(model, phone, out_dir=tmp_path, settle_timeout=0.2).run("Open Settings")

    assert (result.status, result.answer, result.steps) == ("success", "done", 5)
    assert phone.actions == [A.Tap(x=540, y=720)]  # only the valid tap reached the device
    traj = load(result)
    kinds = [s.errors for s in traj.steps]
    assert "Could not parse" in kinds[0][0]
    assert "off the screen" in kinds[1][0]
    assert "status" in kinds[2][0]
    assert kinds[3] == kinds[4] == []
    # Each error reached the model in the next request, as a tool result it can act on.
    for step, marker in ((1, "Could not parse"), (2, "off the screen"), (3, "status")):
        messages, _ = model.requests[step]
        tool_texts = [m["content"] for m in messages if m["role"] == "tool"]
        assert any(marker in t for t in tool_texts), (step, tool_texts)


def test_trajectory_is_written_every_step_with_timings(phone, tmp_path):
    seen = []

    def on_step(step):
        # Files are written in the background: on disk the run is at most one step behind.
        seen.append(len(Trajectory.load(tmp_path).steps))

    outputs = [call(action="click", coordinate=[100, 100])] * 2 + [call(action="terminate", status="failure")]
    result = Agent(ScriptedModel(outputs), phone, out_dir=tmp_path, on_step=on_step, settle_timeout=0.2).run("x")
    assert result.status == "failure"
    assert [n >= i for i, n in enumerate(seen)] == [True] * 3 and len(seen) == 3
    traj = load(result)
    assert len(traj.steps) == 3  # complete once run returns
    for step in traj.steps:
        assert {"capture", "preprocess", "model", "parse", "act", "settle", "record"} <= set(step.timings)
        assert all(v >= 0 for v in step.timings.values())
        assert (tmp_path / step.screenshot).exists()
        assert step.model_size == (672, 1484)
    assert traj.steps[0].actions == [A.Tap(x=108, y=240)]


def test_step_budget_ends_the_run(phone, tmp_path):
    outputs = [call(action="wait", time=0)] * 5
    result = Agent(ScriptedModel(outputs), phone, out_dir=tmp_path, max_steps=3).run("x")
    assert (result.status, result.steps) == ("max_steps", 3)


def test_plain_text_without_a_call_is_pointed_out(phone, tmp_path):
    model = ScriptedModel(["The settings icon is top left.", call(action="terminate", status="success")])
    result = Agent(model, phone, out_dir=tmp_path).run("x")
    assert result.status == "success"
    assert "no tool call" in load(result).steps[0].errors[0]


class CutOffModel(ScriptedModel):
    """Replays outputs; those ending in "…" come back as cut by the token limit, as servers say."""

    def generate(self, messages, tools=None, **options):
        text = super().generate(messages, tools, **options).text
        cut = text.endswith("…")
        return Completion(text.removesuffix("…"), {"completion_tokens": 16 if cut else 5},
                          finish_reason="length" if cut else "stop")


def test_an_answer_cut_at_the_token_limit_is_named_as_the_cause(phone, tmp_path):
    model = CutOffModel([
        '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [5…',
        "Let me think about where the settings icon could be. It is usually…",
        call(action="terminate", status="success"),
    ])
    result = Agent(model, phone, out_dir=tmp_path).run("x")
    assert result.status == "success"
    cut_call, cut_text = (s.errors[0] for s in load(result).steps[:2])
    for error in (cut_call, cut_text):
        assert error.startswith("Your reply was cut off at the token limit (16 tokens)")
    assert "Could not parse the tool call" in cut_call and "no tool call" in cut_text
    tool_texts = [m["content"] for m in model.requests[1][0] if m["role"] == "tool"]
    assert any("cut off at the token limit" in t for t in tool_texts)


def test_function_tools_run_and_results_reach_the_model(phone, tmp_path):
    @tool
    def battery_level(unit: str = "percent") -> dict:
        """Battery level of the phone.

        Args:
            unit: percent or fraction.
        """
        return {"level": 87 if unit == "percent" else 0.87}

    model = ScriptedModel([
        call("battery_level", unit=5),  # wrong type: schema error fed back
        call("battery_level"),
        call(action="terminate", status="success", text="87%"),
    ])
    result = Agent(model, phone, tools=[battery_level], out_dir=tmp_path).run("battery?")
    assert result.answer == "87%"
    traj = load(result)
    assert traj.steps[0].results[0].is_error and "unit" in traj.steps[0].results[0].content
    assert traj.steps[1].results[0].content == '{"level": 87}'
    schemas = model.requests[0][1]
    assert [s["function"]["name"] for s in schemas] == ["mobile_use", "battery_level"]


def test_unknown_tool_lists_the_known_ones(phone, tmp_path):
    model = ScriptedModel([call("fly_away"), call(action="terminate", status="success")])
    traj = load(Agent(model, phone, out_dir=tmp_path).run("x"))
    assert "no tool named 'fly_away'" in traj.steps[0].errors[0] and "mobile_use" in traj.steps[0].errors[0]


def test_history_keeps_a_bounded_number_of_images(phone, tmp_path):
    outputs = [call(action="click", coordinate=[10 * i, 10]) for i in range(1, 6)] + [call(action="terminate", status="success")]
    model = ScriptedModel(outputs)
    Agent(model, phone, out_dir=tmp_path, history_images=2, settle_timeout=0.1).run("x")
    last_messages, _ = model.requests[-1]
    images = [p for m in last_messages if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image"]
    assert len(images) == 2
    summary = last_messages[1]["content"]
    assert "Steps taken so far" in summary and '"coordinate": [10, 10]' in summary


def test_errors_the_user_must_fix_raise_with_the_trajectory_saved(phone, tmp_path):
    model = ScriptedModel([call(action="click", coordinate=[100, 100])])  # runs out on step 2
    with pytest.raises(ModelError, match="no output left"):
        Agent(model, phone, out_dir=tmp_path, settle_timeout=0.1).run("x")
    traj = Trajectory.load(tmp_path)
    assert traj.status == "error" and "no output left" in traj.error
    assert len(traj.steps) == 1


def test_wrong_ui_tool_for_the_device(phone, tmp_path):
    model = ScriptedModel([call("computer_use", action="left_click"), call(action="terminate", status="success")])
    traj = load(Agent(model, phone, out_dir=tmp_path).run("x"))
    assert "driven with `mobile_use`" in traj.steps[0].errors[0]


def test_ask_user_hands_back(phone, tmp_path):
    result = Agent(ScriptedModel([call(action="ask_user", text="Which Anna?")]), phone, out_dir=tmp_path).run("x")
    assert (result.status, result.answer) == ("ask_user", "Which Anna?")


def test_values_out_of_bounds_and_broken_text_go_back_to_the_model(phone, tmp_path):
    outputs = [
        "\ud800 " + call(action="wait", time=700),  # a lone surrogate, and a wait of minutes
        call(action="long_press", coordinate=[500, 500], time=50),
        call(action="type", text="x" * 100_000),
        call(action="terminate", status="success", text="done \udfff"),
    ]
    model = ScriptedModel(outputs)
    result = Agent(model, phone, out_dir=tmp_path, settle_timeout=0.2).run("Wait")
    traj = load(result)  # written and readable: no lone surrogate reached the file
    assert result.status == "success" and result.answer == "done \ufffd" and phone.actions == []
    # nor the next request: a server would refuse to encode it
    assert [m["content"] for m in model.requests[1][0] if m["role"] == "assistant"][0].startswith("\ufffd ")
    assert traj.steps[0].model_output.startswith("\ufffd ")
    assert "greater than the maximum of 60" in traj.steps[0].errors[0]
    assert "at most 10 seconds" in traj.steps[1].errors[0]
    assert "at most 4000 characters" in traj.steps[2].errors[0] and len(traj.steps[2].errors[0]) < 400
    assert traj.answer == "done \ufffd"


def test_a_record_holding_a_lone_surrogate_is_still_written(tmp_path):
    from vlagent.trajectory import TrajectoryWriter

    TrajectoryWriter(tmp_path, Trajectory(goal="tap \ud83d", model="m", device="d",
                                          coordinate_system="relative-1000")).write()
    assert Trajectory.load(tmp_path).goal == "tap \ufffd"


class BrokenDevice(ImageDevice):
    def execute(self, action):
        raise RuntimeError("driver bug")


def test_an_unexpected_exception_ends_the_run_as_error_with_its_step(tmp_path):
    device = BrokenDevice(Image.new("RGB", (1080, 2400)))
    with pytest.raises(RuntimeError, match="driver bug"):
        Agent(ScriptedModel([call(action="click", coordinate=[500, 500])]), device, out_dir=tmp_path).run("Tap")
    traj = Trajectory.load(tmp_path)
    assert traj.status == "error" and traj.error == "RuntimeError: driver bug"
    assert len(traj.steps) == 1 and "driver bug" in traj.steps[0].errors[0]  # the step that was acting


# --- a run killed mid-step: the resume settles the step from evidence (issue #16) ------------------


def killed_mid_step(tmp_path, device, output, *, acted: bool, tools=()) -> None:
    """A one-step run, rewritten as a kill after its write-ahead leaves it: the step `acting`, and
    with `acted` its call returned (its result and the mark on disk), else neither."""
    Agent(ScriptedModel([output]), device, tools=tools, out_dir=tmp_path, max_steps=1).run("goal")
    traj = Trajectory.load(tmp_path)
    step = traj.steps[0]
    traj.status, step.acting, step.acted = "running", True, acted
    traj.config = traj.config.model_copy(update={"max_steps": 5, "settle_timeout": 0.2})  # as if it had more to do
    if not acted:
        step.results = []
    (tmp_path / "trajectory.json").write_text(traj.model_dump_json())


TAP, DONE = call(action="click", coordinate=[500, 500]), call(action="terminate", status="success")
WHITE, BLUE = (Image.new("RGB", (1080, 2400), c) for c in ("white", "lightblue"))


@pytest.mark.parametrize("acted, screen_now, redone, result", [
    (False, WHITE, True, None),  # the screen it was chosen on: it never happened, so it is done again
    (False, BLUE, False, "ok (the run stopped while this action was being sent; the screen has changed"),
    (True, WHITE, False, "ok"),  # it returned: it happened, whatever the screen shows
])
def test_a_resume_settles_the_step_a_kill_left_acting(tmp_path, acted, screen_now, redone, result):
    killed_mid_step(tmp_path, ImageDevice([WHITE, BLUE]), TAP, acted=acted)
    device, model = ImageDevice([screen_now, Image.new("RGB", (1080, 2400), "pink")]), ScriptedModel([TAP, DONE])
    run = Agent(model, device, out_dir=tmp_path, settle_timeout=0.2).resume(tmp_path, same_script=True)
    traj = load(run)
    assert run.status == "success" and [s.index for s in traj.steps] == [0, 1]
    assert not any(s.acting for s in traj.steps) and sorted(p.name for p in tmp_path.glob("step_*.png")) == [
        "step_000.png", "step_001.png"]
    assert device.actions == ([A.Tap(x=540, y=1200)] if redone else [])
    assert len(model.requests) == (2 if redone else 1)
    if not redone:
        assert traj.steps[0].results[-1].content.startswith(result) and not traj.steps[0].errors


def test_a_resume_cannot_tell_for_a_tool_call_or_a_black_screen(tmp_path):
    calls = []

    @tool
    def send_invoice() -> str:
        """Send an invoice (not idempotent)."""
        calls.append(1)
        return "sent"

    black = Image.new("RGB", (1080, 2400), "black")
    for run_dir, screen, output, tools in [
        (tmp_path / "tool", WHITE, call("send_invoice"), [send_invoice]),
        (tmp_path / "black", black, TAP, []),  # a secure screen: black whatever happens on it
    ]:
        killed_mid_step(run_dir, ImageDevice(screen), output, acted=False, tools=tools)
        calls.clear()
        now = ImageDevice(screen)
        run = Agent(ScriptedModel([output, DONE]), now, tools=tools, out_dir=run_dir,
                    settle_timeout=0.2).resume(run_dir, same_script=True)
        traj = load(run)
        assert run.status == "success" and len(traj.steps) == 2
        assert "may or may not have happened" in traj.steps[0].results[-1].content
        assert calls == [] and now.actions == []  # never sent again blindly


def test_the_run_config_is_saved_and_a_resume_goes_on_with_it(tmp_path):
    from vlagent.run_config import RunConfig

    wait = call(action="wait", time=0)
    Agent(ScriptedModel([wait, wait]), ImageDevice([WHITE]), out_dir=tmp_path, max_steps=2, history_images=1,
          settle_timeout=0.05).run("wait")
    saved = json.loads((tmp_path / "trajectory.json").read_text())["config"]
    # prompt_style as the model asked for it (a scripted model asks for none: full), written down
    assert saved == {**RunConfig().model_dump(), "max_steps": 2, "history_images": 1, "settle_timeout": 0.05,
                     "prompt_style": "full"}
    # A resume with another Agent's settings keeps the run's own: its budget is spent, nothing runs.
    model = ScriptedModel([wait, DONE])
    again = Agent(model, ImageDevice([WHITE]), out_dir=tmp_path, max_steps=20).resume(tmp_path)
    assert (again.status, again.steps, len(model.requests)) == ("max_steps", 2, 0)
    # Settings given to the resume change the run's: two more steps.
    more = Agent(model, ImageDevice([WHITE]), out_dir=tmp_path).resume(tmp_path, max_steps=4)
    assert (more.status, more.steps) == ("success", 4)
    assert Trajectory.load(tmp_path).config == RunConfig(max_steps=4, history_images=1, settle_timeout=0.05,
                                                         prompt_style="full")
    assert len(model.requests[0][0]) == len(model.requests[1][0])  # history_images=1 held: same layout


def test_settings_are_validated_and_named():
    with pytest.raises(ValueError, match=r"max_steps: Input should be greater than or equal to 1.*the settings"):
        Agent(ScriptedModel([]), ImageDevice([WHITE]), max_steps=0)
    with pytest.raises(ValueError, match=r"max_step: Extra inputs are not permitted.*max_steps, max_seconds"):
        Agent(ScriptedModel([]), ImageDevice([WHITE]), max_step=3)
