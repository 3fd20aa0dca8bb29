"""Guards in the loop, driven by ScriptedModel (replayed outputs) on in-memory devices."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vlagent import Agent, Completion, DeviceCommandError, PolicyViolation, ScriptedModel, Trajectory, tool
from vlagent import actions as A
from vlagent.guards import Secrets, is_black
from vlagent.testing import ImageDevice


def ui(**arguments) -> str:
    return f'<tool_call>{json.dumps({"name": "mobile_use", "arguments": arguments})}</tool_call>'


DONE = ui(action="terminate", status="success")


def white():
    return ImageDevice(Image.new("RGB", (1080, 2400), "white"))


def test_secrets_are_typed_but_never_recorded_or_shown(tmp_path):
    seen_by_tool = []

    @tool
    def remember(note: str) -> str:
        """Store a note."""
        seen_by_tool.append(note)
        return "stored"

    device = white()
    model = ScriptedModel([ui(action="type", text="PIN: {{PIN}}"), '<tool_call>{"name": "remember", "arguments": {"note": "{{PIN}}"}}</tool_call>', DONE])
    Agent(model, device, tools=[remember], secrets={"PIN": "480913"}, out_dir=tmp_path).run("unlock")
    assert device.actions == [A.TypeText(text="PIN: 480913")]  # the device gets the value
    assert seen_by_tool == ["{{PIN}}"]  # outgoing tool requests never do
    on_disk = (tmp_path / "trajectory.json").read_text()
    assert "480913" not in on_disk and "{{PIN}}" in on_disk
    prompts = json.dumps([[m.get("content") for m in msgs if isinstance(m.get("content"), str)] for msgs, _ in model.requests])
    assert "480913" not in prompts and "{{PIN}}" in prompts


def test_secret_values_are_scrubbed_from_errors(tmp_path):
    class Leaky(ImageDevice):
        def execute(self, action):
            raise DeviceCommandError(f"input text {action.text!r} failed")

    device = Leaky(Image.new("RGB", (100, 200), "white"))
    with pytest.raises(DeviceCommandError):
        Agent(ScriptedModel([ui(action="type", text="{{PW}}")]), device, secrets={"PW": "hunter2"}, out_dir=tmp_path).run("x")
    traj = Trajectory.load(tmp_path)
    assert "hunter2" not in traj.error and "{{PW}}" in traj.error


def test_secrets_reject_bad_names():
    with pytest.raises(ValueError, match="VLAGENT_SECRET_novalue"):
        Secrets.parse(["novalue"], environ={})
    with pytest.raises(ValueError, match="letters"):
        Secrets({"my-pin": "1"})


def test_secrets_come_from_the_environment_by_name():
    assert Secrets.parse(["PIN", "CODE=x1"], environ={"VLAGENT_SECRET_PIN": "4242"}).values == {"PIN": "4242",
                                                                                               "CODE": "x1"}


def test_scrub_catches_the_forms_a_value_travels_in():
    import base64
    import json
    import shlex
    from urllib.parse import quote

    value = "Zq7$'\"; é-secret"
    secrets = Secrets({"PIN": value})
    for form in (value, json.dumps(value), repr(value), quote(value, safe=""), shlex.quote(value),
                 base64.b64encode(value.encode()).decode()):
        scrubbed = secrets.scrub(f"before {form} after")
        assert "{{PIN}}" in scrubbed and "secret" not in scrubbed, (form, scrubbed)
    assert Secrets({"A": "x"}).scrub("xyz") == "{{A}}yz"  # short values still scrub verbatim


def test_same_action_on_an_unchanged_screen_is_not_repeated(tmp_path):
    device = white()  # one frame: nothing ever changes
    tap = ui(action="click", coordinate=[500, 500])
    result = Agent(ScriptedModel([tap] * 3), device, out_dir=tmp_path, settle_timeout=0.1).run("x")
    assert result.status == "stuck" and result.steps == 3
    assert device.actions == [A.Tap(x=540, y=1200)]  # executed once, then refused
    traj = Trajectory.load(tmp_path)
    assert "same action" in traj.steps[1].errors[0]


def test_too_many_mistakes_in_a_row_stop_the_run(tmp_path):
    result = Agent(ScriptedModel(["hmm"] * 10), white(), out_dir=tmp_path, max_consecutive_errors=4).run("x")
    assert (result.status, result.steps) == ("too_many_errors", 4)


def test_token_budget(tmp_path):
    class Counting(ScriptedModel):
        def generate(self, messages, tools=None, **options):
            completion = super().generate(messages, tools, **options)
            return Completion(completion.text, usage={"prompt_tokens": 1300, "completion_tokens": 20})

    outputs = [ui(action="click", coordinate=[100 * i, 100]) for i in range(1, 9)]
    result = Agent(Counting(outputs), white(), out_dir=tmp_path, max_tokens=3000, settle_timeout=0.1).run("x")
    assert (result.status, result.steps) == ("max_tokens", 3)


def test_dry_run_plans_without_acting(tmp_path):
    device = white()
    result = Agent(ScriptedModel([ui(action="click", coordinate=[1, 1]), DONE]), device, dry_run=True, out_dir=tmp_path).run("x")
    assert result.status == "success" and device.actions == []
    step = Trajectory.load(tmp_path).steps[0]
    assert step.actions == [A.Tap(x=1, y=2)] and step.results[0].content == "dry run: not executed"


def test_a_blocked_action_is_not_executed_and_the_model_is_told(tmp_path):
    class DenyTaps:
        def __init__(self):
            self.trees = []

        def check(self, action, ui_xml=None, foreground=None, context=None):
            self.trees.append(ui_xml)
            if isinstance(action, A.Tap):
                raise PolicyViolation("blocked: tapping 'Send' needs the user's confirmation")

    class WithTree(ImageDevice):
        def ui_tree(self):
            return "<hierarchy/>"

    device = WithTree(Image.new("RGB", (1080, 2400), "white"))
    policy = DenyTaps()
    model = ScriptedModel([ui(action="click", coordinate=[5, 5]), DONE])
    Agent(model, device, policy=policy, out_dir=tmp_path).run("x")
    assert device.actions == [] and policy.trees == ["<hierarchy/>"]
    assert "blocked" in Trajectory.load(tmp_path).steps[0].errors[0]
    assert any("blocked" in m["content"] for m in model.requests[1][0] if m["role"] == "tool")


def test_black_frames_are_never_shown_and_the_ui_tree_stands_in(tmp_path):
    class Secure(ImageDevice):
        captures = 0

        def screenshot(self):
            Secure.captures += 1
            return super().screenshot()

        def ui_tree(self):
            return ('<hierarchy rotation="0"><node text="Pay now" clickable="true" bounds="[0,0][1080,240]"/>'
                    '<node text="" bounds="[0,0][1,1]"/></hierarchy>')

    device = Secure(Image.new("RGB", (1080, 2400), "black"))
    model = ScriptedModel([ui(action="terminate", status="failure", text="secure screen")])
    result = Agent(model, device, out_dir=tmp_path).run("pay")
    assert result.status == "failure"
    assert Secure.captures == 3  # the first capture and two retries
    last = model.requests[0][0][-1]
    assert isinstance(last["content"], str) and "black" in last["content"]
    assert "'Pay now' (button) at [500, 50]" in last["content"]


def test_is_black():
    assert is_black(Image.new("RGB", (10, 10), (3, 3, 3)))
    assert not is_black(Image.new("RGB", (10, 10), "white"))
    frame = Image.new("RGB", (1080, 2400), "black")
    frame.putpixel((540, 1200), (255, 255, 255))
    assert is_black(frame)  # one stray pixel is still a black frame after downsampling


def test_resume_continues_an_interrupted_run_without_redoing_steps(tmp_path):
    frames = [Image.new("RGB", (1080, 2400), c) for c in ("white", "gray", "silver", "beige")]
    device = ImageDevice(frames)
    taps = [ui(action="click", coordinate=[100 * i, 100]) for i in (1, 2, 3)]

    class Crash(ScriptedModel):
        def generate(self, messages, tools=None, **options):
            if len(self.requests) == 2:
                raise KeyboardInterrupt  # the person hits Ctrl-C while the model thinks
            return super().generate(messages, tools, **options)

    with pytest.raises(KeyboardInterrupt):
        Agent(Crash(taps), device, out_dir=tmp_path, settle_timeout=0.1).run("tap three times")
    assert Trajectory.load(tmp_path).status == "interrupted"
    assert len(device.actions) == 2

    model = ScriptedModel([taps[2], DONE])
    result = Agent(model, device, out_dir=tmp_path, settle_timeout=0.1).resume(tmp_path)
    assert (result.status, result.steps) == ("success", 4)
    assert device.actions == [A.Tap(x=108, y=240), A.Tap(x=216, y=240), A.Tap(x=324, y=240)]  # none twice
    traj = Trajectory.load(tmp_path)
    assert [s.index for s in traj.steps] == [0, 1, 2, 3] and traj.goal == "tap three times"
    # The resumed model saw the earlier steps as history, with the last screenshot.
    first = model.requests[0][0]
    assert any(m["role"] == "assistant" and m["content"] == taps[1] for m in first)
    # ... as many screens as an uninterrupted run shows at step 2: the window grows until it
    # rolls (RunConfig.history_roll), so steps 0 and 1 and the current screen
    assert sum(1 for m in first if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image") == 3
    # A finished run is not resumed.
    assert Agent(ScriptedModel([]), device, out_dir=tmp_path).resume(tmp_path).status == "success"
