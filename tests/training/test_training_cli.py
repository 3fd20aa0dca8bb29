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


def test_train_passes_the_prefix_batching_and_schedule_options_through(tiny_models, datasets, tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["train", "--model", str(tiny_models["qwen2-vl"]), "--data", str(datasets["qwen2-vl"]),
                                 "--out", str(out), "--method", "full", "--max-steps", "1", "--no-share-prefix",
                                 "--no-group-by-length", "--lr-scheduler", "constant_with_warmup"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "training.json").read_text())["config"]
    assert config["share_prefix"] is False and config["lr_scheduler"] == "constant_with_warmup"
    assert config["group_by_length"] is False
