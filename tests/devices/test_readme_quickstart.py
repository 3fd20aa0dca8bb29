"""README's quick start: its two commands are the ones CI and a fresh machine run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from vlagent import Agent, ScriptedModel, Trajectory

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quickstart_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, re.DOTALL)


def test_ci_runs_the_readme_test_command():
    run_cmd, test_cmd = quickstart_commands()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == test_cmd, "the last step of .ci/run must be README's test command, exactly"
    assert "vlagent run" in run_cmd and "--device sim" in run_cmd


@pytest.mark.adb
def test_main_job_command_runs_on_simphone(adb_port, tmp_path):
    run_cmd, _ = quickstart_commands()
    # The package is installed already; run the command after `pip install -e . &&`.
    argv = shlex.split(run_cmd.split("&&")[-1])
    assert argv[0] == "vlagent"
    out = tmp_path / "wifi"
    argv = [a if a != "runs/wifi" else str(out) for a in argv]
    result = subprocess.run([sys.executable, "-m", "vlagent.cli", *argv[1:]], cwd=ROOT, capture_output=True,
                            text=True, timeout=180, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    traj = Trajectory.load(out)
    assert traj.status == "success" and traj.answer == "Wi-Fi is on."
    assert [a.type for s in traj.steps for a in s.actions] == ["tap", "tap", "tap", "terminate"]


@pytest.mark.adb
def test_the_scripted_wifi_run_really_turns_wifi_on(adb_port, tmp_path):
    from vlagent.specs import open_device

    model = ScriptedModel.from_file(ROOT / "examples" / "wifi_scripted.json")
    with open_device("sim") as phone:
        assert json.loads(phone.shell("cmd simphone state"))["wifi"] is False
        result = Agent(model, phone, out_dir=tmp_path).run("Turn on Wi-Fi")
        state = json.loads(phone.shell("cmd simphone state"))
    assert result.status == "success"
    assert state["wifi"] is True and state["foreground"]["package"] == "com.android.settings"


@pytest.mark.adb
def test_simphone_screenshot_example(adb_port, tmp_path):
    from PIL import Image

    result = subprocess.run([sys.executable, str(ROOT / "examples" / "simphone_screenshot.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    home, settings = Image.open(tmp_path / "simphone_home.png"), Image.open(tmp_path / "simphone_settings.png")
    assert home.size == settings.size == (540, 1200)
    assert home.tobytes() != settings.tobytes()
    for image in (home, settings):
        # A real frame, not a black failed capture.
        assert max(image.convert("L").getextrema()) > 200
