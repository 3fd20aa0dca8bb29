"""Agent + TransformersModel on tiny random-weight checkpoints (real classes, random answers).

The weights are random, so this checks the plumbing — images reach the model as pixel values,
every step is recorded with its timings — never the model's judgement.
"""

import json

import jsonschema
import pytest
from PIL import Image, ImageDraw

from vlagent import Agent, Trajectory, TransformersModel
from vlagent.coords import smart_resize
from vlagent.testing import ImageDevice, tiny_checkpoint
from vlagent.trajectory import trajectory_schema


def test_three_steps_on_a_tiny_checkpoint(tiny_model_path, tmp_path):
    frame = Image.new("RGB", (1080, 2400), "white")
    ImageDraw.Draw(frame).rectangle((100, 200, 500, 400), fill="navy")
    model = TransformersModel(tiny_model_path, max_new_tokens=16)
    model.load()
    seen_inputs = []
    real_generate = model.hf_model.generate

    def spy(**kwargs):
        seen_inputs.append({k: kwargs[k] for k in ("pixel_values", "image_grid_thw") if k in kwargs})
        return real_generate(**kwargs)

    model.hf_model.generate = spy
    result = Agent(model, ImageDevice(frame), max_steps=3, out_dir=tmp_path, history_images=2).run("Open Settings")

    assert result.steps == 3
    assert result.status in {"max_steps", "success", "failure", "ask_user"}
    assert len(seen_inputs) == 3
    first = seen_inputs[0]
    assert first["image_grid_thw"].tolist() == [[1, 106, 48]]
    assert first["pixel_values"].shape[0] == 106 * 48
    # From step 2 on the model also sees the previous screenshot.
    assert seen_inputs[1]["image_grid_thw"].tolist() == [[1, 106, 48], [1, 106, 48]]

    data = json.loads(result.trajectory_path.read_text())
    jsonschema.validate(data, trajectory_schema())
    traj = Trajectory.model_validate(data)
    assert traj.model.startswith("transformers:")
    for step in traj.steps:
        for stage in ("capture", "preprocess", "model", "model_prefill", "model_decode", "parse", "act", "settle", "record"):
            assert stage in step.timings, (step.index, stage)
        assert step.usage["image_tokens"] >= 1272
        assert isinstance(step.model_output, str)
        # Random text is either no call or a broken one: either way the model is told.
        assert step.calls or step.errors


@pytest.mark.parametrize("family,size", [("qwen2-vl", (1080, 2400)), ("qwen2.5-vl", (1280, 800))])
def test_each_family_runs_a_step_with_the_profile_its_config_names(family, size, tmp_path_factory):
    """A tiny checkpoint of each family: the profile comes from config.json (the directory's
    name says nothing), and the image tokens fed to generate are what smart_resize says."""
    path = tiny_checkpoint(tmp_path_factory.mktemp("checkpoint"), family)
    model = TransformersModel(path, max_new_tokens=4)
    prompts = []
    result = Agent(RecordingPrompts(model, prompts), ImageDevice(Image.new("RGB", size, "white")),
                   max_steps=1, out_dir=tmp_path_factory.mktemp("run")).run("Open Settings")
    assert model.profile.name == family and result.steps == 1
    h, w = smart_resize(size[1], size[0], min_pixels=model.min_pixels, max_pixels=model.max_pixels)
    step = Trajectory.load(result.trajectory_path.parent).steps[0]
    assert step.usage["image_tokens"] == (h // 28) * (w // 28)
    # the profile's format wrote the tools block
    assert ("<tools>" in prompts[0]) == (family == "qwen2.5-vl")
    assert ("✿FUNCTION✿" in prompts[0]) == (family == "qwen2-vl")


class RecordingPrompts:
    """The model, with each prompt it renders kept."""

    def __init__(self, model, prompts):
        self.model, self.prompts = model, prompts

    def __getattr__(self, name):
        return getattr(self.model, name)

    def generate(self, messages, tools=None, **options):
        self.prompts.append(self.model.render(messages, tools))
        return self.model.generate(messages, tools, **options)
