"""Fixtures of the training tests: a run recorded by the real Agent on an in-memory device, with
a ScriptedModel that remembers every request, and that run exported. Models are the tiny
random-weight checkpoints (real transformers classes, built here; `vlagent.testing`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_fixtures import REPLIES, screens

# Replies in each family's trained format: a tap, a thought before a call, a swipe, the end.
# Four steps with two screens a prompt: step 2 sees step 0 as a summarised line, step 1 in full.
@pytest.fixture(scope="session")
def tiny_models(tiny_model_path, tmp_path_factory) -> dict[str, Path]:
    from vlagent.testing import tiny_checkpoint

    return {"qwen2-vl": tiny_model_path,
            "qwen2.5-vl": tiny_checkpoint(tmp_path_factory.mktemp("tiny-qwen25"), "qwen2.5-vl")}


@pytest.fixture(scope="session")
def recorded(tiny_models, tmp_path_factory):
    """family -> (run directory, the TransformersModel of that family, the ScriptedModel that
    played it, whose `requests` are what the Agent sent at each step)."""
    import vlagent
    from vlagent.models.scripted import ScriptedModel
    from vlagent.models.transformers_model import TransformersModel
    from vlagent.testing import ImageDevice

    runs = {}
    for family, path in tiny_models.items():
        model = TransformersModel(path).load()  # torch loaded: the loop resizes as the processor does
        scripted = ScriptedModel(REPLIES[family], coordinate_system=model.coordinate_system,
                                 min_pixels=model.min_pixels, max_pixels=model.max_pixels)
        out = tmp_path_factory.mktemp(f"run-{family}")
        result = vlagent.Agent(scripted, ImageDevice(screens()), out_dir=out, max_steps=6).run("Say hello")
        assert result.status == "success", result
        runs[family] = (out, model, scripted)
    return runs


@pytest.fixture(scope="session")
def datasets(recorded, tmp_path_factory) -> dict[str, Path]:
    """family -> the recorded run exported for that family's profile (everything in train)."""
    from vlagent.training.export import export

    out = {}
    for family, (run_dir, _, _) in recorded.items():
        out[family] = tmp_path_factory.mktemp(f"data-{family}") / "data"
        export([run_dir], out[family], profile=family, validation=0.0)
    return out
