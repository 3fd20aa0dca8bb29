"""RunConfig.show_transitions: the frames an action's settle captured reach the model as a video
before the next screen (ScriptedModel records the requests; the tiny checkpoint's real processor
counts their video tokens)."""

from __future__ import annotations

import json

from PIL import Image

from vlagent import Agent, ScriptedModel
from vlagent.conversation import CURRENT_SCREEN_QUESTION, TRANSITION_NOTE
from vlagent.testing import ImageDevice
from vlagent.video import Video

SIZE = (540, 1200)


def call(**arguments) -> str:
    return f'<tool_call>\n{json.dumps({"name": "mobile_use", "arguments": arguments})}\n</tool_call>'


class ToastDevice(ImageDevice):
    """White until tapped; then a toast (grey) in the first capture after the tap, then blue for
    good: a transient only the frames between two steps show."""

    def __init__(self) -> None:
        super().__init__(Image.new("RGB", SIZE, "white"))
        self.captures_since_tap: int | None = None

    def execute(self, action) -> None:
        super().execute(action)
        self.captures_since_tap = 0

    def screenshot(self) -> Image.Image:
        if self.captures_since_tap is None:
            return Image.new("RGB", SIZE, "white")
        self.captures_since_tap += 1
        return Image.new("RGB", SIZE, "grey" if self.captures_since_tap == 1 else "blue")


def _run(tmp_path, model, **settings):
    device = ToastDevice()
    outputs = [call(action="click", coordinate=[500, 500]), call(action="terminate", status="success")]
    script = model if model is not None else ScriptedModel(outputs)
    result = Agent(script, device, out_dir=tmp_path, settle_timeout=1.0, **settings).run("Tap the button")
    return result, script


def test_the_frames_after_an_action_come_before_the_next_screen(tmp_path):
    result, model = _run(tmp_path, None, show_transitions=True)
    assert result.status == "success"
    first, _ = model.requests[0]
    assert all(p.get("type") != "video" for m in first if isinstance(m["content"], list) for p in m["content"])
    second, _ = model.requests[1]
    turn = second[-1]["content"]
    assert [p["type"] for p in turn] == ["text", "video", "image", "text"]
    assert turn[0]["text"] == TRANSITION_NOTE and turn[3]["text"] == CURRENT_SCREEN_QUESTION
    video = turn[1]["video"]
    assert isinstance(video, Video) and not video.is_file and video.sample_fps > 0
    colours = [frame.getpixel((0, 0)) for frame in video.source]
    assert colours[0] == (128, 128, 128) and colours[-1] == (0, 0, 255)  # the toast, then the screen
    assert video.source[0].size == turn[2]["image"].size  # at the model's size, as the screenshot


def test_off_by_default(tmp_path):
    _, model = _run(tmp_path, None)
    second, _ = model.requests[1]
    assert all(p["type"] != "video" for p in second[-1]["content"])


def test_a_screen_that_did_not_move_shows_no_video(tmp_path):
    device = ImageDevice(Image.new("RGB", SIZE, "white"))  # a tap changes nothing
    model = ScriptedModel([call(action="click", coordinate=[500, 500]), call(action="terminate", status="success")])
    Agent(model, device, out_dir=tmp_path, settle_timeout=0.5, show_transitions=True).run("Tap")
    second, _ = model.requests[1]
    assert all(p["type"] != "video" for p in second[-1]["content"])


class Replying:
    """The tiny checkpoint's real forward (its prompt, processor and token counts) with the
    loop's replies scripted, so the run acts whatever the random weights say."""

    def __init__(self, hf, outputs: list[str]) -> None:
        self.hf, self.outputs, self.usages, self.requests = hf, outputs, [], []
        self.coordinate_system = hf.coordinate_system
        self.min_pixels, self.max_pixels = hf.min_pixels, hf.max_pixels

    def generate(self, messages, tools=None, **options):
        done = self.hf.generate(messages, tools, **options)
        self.usages.append(done.usage)
        self.requests.append(messages)
        done.text = self.outputs.pop(0)
        return done


def test_the_tiny_model_reads_the_transition_as_video_tokens(tmp_path, tiny_model_path):
    from vlagent import TransformersModel
    from vlagent.video import load

    hf = TransformersModel(tiny_model_path, max_new_tokens=2).load()
    model = Replying(hf, [call(action="click", coordinate=[500, 500]), call(action="terminate", status="success")])
    result, _ = _run(tmp_path, model, show_transitions=True)
    assert result.status == "success"
    assert model.usages[0]["video_tokens"] == 0
    video = next(p["video"] for p in model.requests[1][-1]["content"] if p["type"] == "video")
    assert model.usages[1]["video_tokens"] == load(video).tokens > 0  # as vlagent.video computes
