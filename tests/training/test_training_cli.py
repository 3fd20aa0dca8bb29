"""`vlagent data export` and `vlagent train` from the command line: tables, and errors as one line
with the fix and exit status 2."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from vlagent.cli import app

runner = CliRunner()


def test_export_prints_the_split_and_writes_the_dataset(recorded, tmp_path):
    run_dir, _, _ = recorded["qwen2-vl"]
    result = runner.invoke(app, ["data", "export", str(run_dir), "--out", str(tmp_path / "d"), "--validation", "0"])
    assert result.exit_code == 0, result.output
    assert "samples" in result.output and "1 runs exported" in result.output
    meta = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert meta["profile"] == "qwen2-vl" and meta["samples"] == {"train": 4, "validation": 0}


def test_export_into_a_used_directory_is_refused(recorded, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("")
    result = runner.invoke(app, ["data", "export", str(recorded["qwen2-vl"][0]), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "not empty" in result.output


def test_train_refuses_qlora_on_a_cpu_with_the_fix(tiny_models, datasets, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = runner.invoke(app, ["train", "--model", str(tiny_models["qwen2-vl"]), "--data", str(datasets["qwen2-vl"]),
                                 "--out", str(tmp_path / "o"), "--method", "qlora"])
    assert result.exit_code == 2 and "use --method lora" in result.output


def test_a_grounding_lesson_then_the_agents_samples_with_options_passed_through(recorded, tiny_models, datasets,
                                                                                  tmp_path):
    """docs/training.md's two stages: the runs' taps as a grounding lesson, a model trained on it
    (which says what comes next), then that model trained on the agent's samples."""
    pointing, pointed = tmp_path / "pointing", tmp_path / "pointed"
    result = runner.invoke(app, ["data", "export", str(recorded["qwen2-vl"][0]), "--out", str(pointing),
                                 "--validation", "0", "--grounding"])
    assert result.exit_code == 0, result.output
    assert "skipped 3: not a tap" in result.output
    result = runner.invoke(app, ["train", "--model", str(tiny_models["qwen2-vl"]), "--data", str(pointing),
                                 "--out", str(pointed), "--method", "full", "--max-steps", "1"])
    assert result.exit_code == 0, result.output
    assert f"next, teach it the agent's format: vlagent train --model {pointed}" in result.output
    assert json.loads((pointed / "training.json").read_text())["data_kind"] == "grounding"
    out = tmp_path / "o"
    result = runner.invoke(app, ["train", "--model", str(pointed), "--data", str(datasets["qwen2-vl"]),
                                 "--out", str(out), "--method", "full", "--max-steps", "1", "--no-share-prefix",
                                 "--no-group-by-length", "--lr-scheduler", "constant_with_warmup"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "training.json").read_text())["config"]
    assert config["share_prefix"] is False and config["lr_scheduler"] == "constant_with_warmup"
    assert config["group_by_length"] is False
    assert "try it: vlagent bench sim" in result.output


def test_the_readmes_learning_commands_are_ones_the_cli_accepts():
    """README's collect, export, train and evaluate lines and the pointing lesson's two, parsed by
    the CLI itself: each command and option exists and takes the value it is given."""
    import shlex
    from pathlib import Path

    import typer.main

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Learning from runs", 1)[1].split("\n## ", 1)[0]
    lines = [line for block in section.split("```bash\n")[1:] for line in block.split("```")[0].splitlines()]

    def parse(command, args, parent=None, name="vlagent"):
        ctx = command.make_context(name, args, parent=parent)
        if not hasattr(command, "resolve_command"):
            return ctx
        name, sub, rest = command.resolve_command(ctx, [*getattr(ctx, "_protected_args", []), *ctx.args])
        return parse(sub, rest, ctx, name)

    parsed = [parse(typer.main.get_command(app), shlex.split(line)[1:]) for line in lines]
    assert [c.command.name for c in parsed] == ["sim", "export", "train", "sim", "export", "train"]
    assert parsed[4].params["grounding"] and parsed[2].params["max_minutes"] + parsed[5].params["max_minutes"] <= 14.5
