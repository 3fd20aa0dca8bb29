"""Export: each step's sample is the prompt the agent sent then, as the model renders it, with the
images it saw; the split keeps a task and seed on one side; duplicates go (or stay, on their side)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vlagent.errors import UserError
from vlagent.training.dataset import Encoder
from vlagent.training.export import export, read_run, split_of

from training_fixtures import REPLIES, samples, screens


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl"])
def test_each_sample_renders_to_the_prompt_the_agent_sent(family, recorded, datasets):
    _, model, scripted = recorded[family]
    exported = samples(datasets[family])
    assert [s["step"] for s in exported] == [0, 1, 2, 3]  # one sample per step, none lost
    encoder = Encoder(model, datasets[family])
    for sample, (sent, tools) in zip(exported, scripted.requests):
        messages, images = encoder.messages(sample)
        assert model.render(messages, sample["tools"]) == model.render(sent, tools)
        shown = [p["image"] for m in sent if isinstance(m["content"], list) for p in m["content"]
                 if p.get("type") == "image"]
        assert [im.size for im in images] == [im.size for im in shown]
        for saved, seen in zip(images, shown):  # the very pixels, not only the size
            assert np.array_equal(np.asarray(saved), np.asarray(seen))
    # the target is the reply as that family writes calls (here the reply itself)
    assert [s["target"] for s in exported] == REPLIES[family]


def test_a_bare_prompt_is_exported_as_sent_and_other_runs_can_be_rendered_bare(recorded, tmp_path):
    """A run whose Agent sent bare prompts exports as it was sent; a full run (an oracle's, say)
    exported with prompt_style="bare" becomes those very samples; runs prompted differently are
    not mixed unless a style is asked for."""
    import vlagent
    from vlagent.models.scripted import ScriptedModel
    from vlagent.testing import ImageDevice

    full_run, model, _ = recorded["qwen2-vl"]
    scripted = ScriptedModel(REPLIES["qwen2-vl"], coordinate_system=model.coordinate_system,
                             min_pixels=model.min_pixels, max_pixels=model.max_pixels)
    agent = vlagent.Agent(scripted, ImageDevice(screens()), out_dir=tmp_path / "bare-run", max_steps=6,
                          prompt_style="bare")
    assert agent.run("Say hello").status == "success"
    export([tmp_path / "bare-run"], tmp_path / "as-sent", validation=0.0)
    export([full_run], tmp_path / "rendered", validation=0.0, prompt_style="bare")
    encoder = Encoder(model, tmp_path / "as-sent")
    for data in ("as-sent", "rendered"):
        assert json.loads((tmp_path / data / "dataset.json").read_text())["prompt_style"] == "bare"
        exported = samples(tmp_path / data)
        assert len(exported) == len(scripted.requests) == 4
        for sample, (sent, tools) in zip(exported, scripted.requests):
            assert "Rules" not in model.render(sent, tools)
            assert model.render(encoder.messages(sample)[0], sample["tools"]) == model.render(sent, tools)
    with pytest.raises(UserError, match="--prompt-style"):
        export([full_run, tmp_path / "bare-run"], tmp_path / "mixed", validation=0.0)
    assert not (tmp_path / "mixed").exists()  # the failed export left nothing behind to clear
    export([full_run, tmp_path / "bare-run"], tmp_path / "mixed", validation=0.0, prompt_style="full")


def test_calls_of_another_format_are_written_as_the_profile_writes_them(recorded, tmp_path):
    """A run whose model wrote Hermes calls (the oracle does) exported for Qwen2-VL (✿ calls):
    targets and the history in prompts become ✿ calls, coordinates untouched."""
    run_dir, _, _ = recorded["qwen2-vl"]
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    record = json.loads((copy / "trajectory.json").read_text())
    for step in record["steps"]:
        call = step["calls"][0]
        step["model_output"] = "<tool_call>\n" + json.dumps(call) + "\n</tool_call>"
    (copy / "trajectory.json").write_text(json.dumps(record))
    export([copy], tmp_path / "data", profile="qwen2-vl", validation=0.0)
    exported = samples(tmp_path / "data")
    assert exported[0]["target"] == REPLIES["qwen2-vl"][0]
    assert exported[2]["target"] == REPLIES["qwen2-vl"][2]
    calls = [r.split("\n", 1)[1] if r.startswith("The field") else r for r in REPLIES["qwen2-vl"]]
    history = [m["content"] for m in exported[3]["messages"] if m["role"] == "assistant"]
    assert history and history == calls[3 - len(history):3]  # the latest steps shown in full, as ✿ calls


def test_split_keeps_groups_apart_and_duplicates_are_dropped(recorded, tmp_path):
    run_dir, _, _ = recorded["qwen2-vl"]
    runs = []
    for i in range(12):  # twelve copies of one run: twelve groups, the same samples
        runs.append(tmp_path / "runs" / f"r{i}")
        shutil.copytree(run_dir, runs[-1])
    stats = export(runs, tmp_path / "data", validation=0.5)
    assert stats.duplicates == 11 * 4 and sum(stats.samples.values()) == 4
    # kept as often as the runs took them, but only on the side where each sample first came
    sides = [split_of(read_run(r).group, 0.5) for r in sorted(runs)]
    assert len(set(sides)) == 2, "the copies fall on both sides of the split"
    stats = export(runs, tmp_path / "kept", validation=0.5, keep_duplicates=True)
    first, other = sides[0], next(s for s in sides if s != sides[0])
    assert stats.samples == {first: 4 * sides.count(first), other: 0}
    assert stats.duplicates == 4 * sides.count(other)
    # distinct samples per group: give each copy its own goal
    for i, r in enumerate(runs):
        record = json.loads((r / "trajectory.json").read_text())
        record["goal"] = f"Say hello {i}"
        (r / "trajectory.json").write_text(json.dumps(record))
    stats = export(runs, tmp_path / "data2", validation=0.5)
    assert stats.duplicates == 0 and stats.samples["train"] and stats.samples["validation"]
    sides = {split: {s["run"] for s in samples(tmp_path / "data2", split)} for split in ("train", "validation")}
    assert not sides["train"] & sides["validation"]
    assert len(sides["train"] | sides["validation"]) == 12
    sharegpt = [json.loads(line) for line in open(tmp_path / "data2" / "sharegpt_train.jsonl")]
    assert len(sharegpt) == stats.samples["train"]
    first = sharegpt[0]
    assert sum(m["content"].count("<image>") for m in first["messages"]) == len(first["images"])
    assert first["messages"][-1]["role"] == "assistant" and "✿FUNCTION✿" in first["messages"][-1]["content"]
    assert all((tmp_path / "data2" / p).is_file() for p in first["images"])


def test_a_profile_of_other_coordinates_is_refused_with_the_fix(recorded, tmp_path):
    run_dir, _, _ = recorded["qwen2-vl"]  # relative-1000
    with pytest.raises(UserError, match="--profile qwen2-vl"):
        export([run_dir], tmp_path / "data", profile="qwen2.5-vl")


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl"])
def test_a_grounding_lesson_is_each_tap_as_its_screen_and_task_answered_with_the_point(family, recorded, datasets,
                                                                                      tmp_path):
    """Of the run's four steps only the tap (step 0) teaches pointing; its lesson is the screen the
    agent sample showed at that step and the goal, with no tools, and the reply is the tapped
    point in the run's coordinates, which the model learns alone (the loss is on it)."""
    run_dir, model, _ = recorded[family]
    stats = export([run_dir], tmp_path / "pointing", profile=family, validation=0.0, grounding=True)
    [lesson] = samples(tmp_path / "pointing")
    assert stats.steps_skipped == {"not a tap (a grounding lesson is of taps)": 3}
    assert json.loads((tmp_path / "pointing" / "dataset.json").read_text())["kind"] == "grounding"
    assert json.loads((datasets[family] / "dataset.json").read_text())["kind"] == "agent"
    assert lesson["step"] == 0 and lesson["tools"] == []
    tapped = {"qwen2-vl": [500, 300], "qwen2.5-vl": [100, 150]}[family]  # REPLIES' first calls
    assert f'"coordinate": {tapped}' in REPLIES[family][0] and lesson["target"] == str(tapped)
    [turn] = lesson["messages"]
    assert turn["role"] == "user" and [p["type"] for p in turn["content"]] == ["image", "text"]
    assert turn["content"][1]["text"] == "Say hello"
    agent_sample = samples(datasets[family])[0]
    shown = [p["image"] for m in agent_sample["messages"] if isinstance(m["content"], list)
             for p in m["content"] if p["type"] == "image"]
    assert turn["content"][0]["image"] == shown[-1]  # images are named by their pixels
    prompt, target, images = Encoder(model, tmp_path / "pointing").texts(lesson)
    assert target == lesson["target"] + "<|im_end|>" and len(images) == 1
    assert "mobile_use" not in prompt and prompt.endswith("Say hello<|im_end|>\n<|im_start|>assistant\n")
    [record] = [json.loads(line) for line in open(tmp_path / "pointing" / "sharegpt_train.jsonl")]
    assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
    assert record["messages"][1]["content"] == lesson["target"] and len(record["images"]) == 1
