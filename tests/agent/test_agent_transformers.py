"""Agent + TransformersModel on a tiny random-weight Qwen2-VL (real classes, random answers).

The weights are random, so this checks the plumbing — images reach the model as pixel values,
every step is recorded with its timings — never the model's judgement.
"""

import json

import jsonschema
from PIL import Image, ImageDraw

from vlagent import Agent, Trajectory, TransformersModel
from vlagent.testing import ImageDevice
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
