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


def ci_lines() -> list[str]:
    text = (ROOT / ".ci" / "run").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_the_readme_test_command_and_the_quick_start_on_a_fresh_clone():
    run_cmd, test_cmd = quickstart_commands()
    assert "vlagent run" in run_cmd and "--device sim" in run_cmd
    assert run_cmd.startswith("pip install -e . &&")
    assert test_cmd.startswith("pip install -e '.[test]' &&") and test_cmd.endswith("python -m pytest")
    lines = ci_lines()
    assert test_cmd in lines, "CI must run README's test command exactly"
    assert "bash .ci/readme-quickstart" in lines
    assert any(line.startswith("python -m pytest") and "--random-order-bucket=module" in line for line in lines)
    assert lines[-1] == "python -m pytest -m slow", "the slow tier runs last, as a step of its own"


def test_the_quickstart_script_reads_both_commands_from_readme(tmp_path):
    """.ci/readme-quickstart's extraction, run on README itself: the same two lines this test reads."""
    script = (ROOT / ".ci" / "readme-quickstart").read_text()
    awk = re.search(r"awk '(.+?)' ", script).group(1)
    out = subprocess.run(["awk", awk, str(ROOT / "README.md")], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == quickstart_commands()


def test_readme_names_the_system_packages_ci_installs_and_the_skips_point_to():
    from system_packages import PACKAGES

    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert f"sudo apt-get install -y {' '.join(PACKAGES)}" in quick_start
    ci_loop = next(line for line in ci_lines() if line.startswith("for pkg in"))
    assert ci_loop == f"for pkg in {' '.join(PACKAGES)}; do"


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
    # --device sim went through the adb server the environment names, and the header says which.
    assert f"adb server on 127.0.0.1:{adb_port}" in result.stderr
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
