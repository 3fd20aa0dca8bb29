"""The agent loop on SimPhone through the real adb: faults mid-run, and the tiny checkpoint end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from vlagent import Agent, DeviceError, ScriptedModel, Trajectory
from vlagent.devices import AdbDevice

pytestmark = pytest.mark.adb


def tap(x: int, y: int) -> str:
    return '<tool_call>{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [%d, %d]}}</tool_call>' % (x, y)


@pytest.mark.parametrize("fault", ["offline", "drop", "unauthorized"])
def test_a_device_fault_mid_run_keeps_every_earlier_step(sim, tmp_path, fault):
    inject = {"offline": lambda: sim.set_offline(hang_s=1.0), "drop": None, "unauthorized": sim.set_unauthorized}[fault]

    def on_step(step):
        if step.index == 1:
            if fault == "drop":
                # A dropped cable that stays dropped: refuse reconnections too.
                sim.set_offline(hang_s=0.0)
            else:
                inject()

    model = ScriptedModel([tap(500, 500), tap(500, 600), tap(500, 700), tap(500, 800)])
    device = AdbDevice(sim.serial, reconnect_window=2.0, command_timeout=5.0, screenshot_timeout=5.0)
    started = time.monotonic()
    with device, pytest.raises(DeviceError) as caught:
        Agent(model, device, out_dir=tmp_path, settle_timeout=0.3, on_step=on_step).run("tap around")
    elapsed = time.monotonic() - started
    sim.clear_faults()
    assert elapsed < 60, f"the fault took {elapsed:.0f} s to surface"
    assert "adb" in str(caught.value) or sim.serial in str(caught.value)
    traj = Trajectory.load(tmp_path)
    assert traj.status == "error" and type(caught.value).__name__ in traj.error
    # Both steps before the fault are on disk, with their screenshots and executed taps.
    assert len(traj.steps) >= 2
    for step in traj.steps[:2]:
        assert (tmp_path / step.screenshot).exists() and step.actions


@pytest.mark.slow
def test_cli_run_with_the_tiny_checkpoint_on_sim(tiny_model_path, adb_port, tmp_path):
    """`vlagent run "Turn on Wi-Fi" --device sim --model <tiny> --max-steps 3`: random weights, so the
    plumbing is checked (steps recorded, model really ran on each screenshot), never the outcome."""
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "vlagent.cli", "run", "Turn on Wi-Fi", "--device", "sim",
         "--model", str(tiny_model_path), "--max-steps", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )
    assert result.returncode in (0, 1, 3), result.stderr
    traj = Trajectory.load(out)
    assert 1 <= len(traj.steps) <= 3 and traj.status != "error"
    for step in traj.steps:
        assert step.usage["image_tokens"] >= 1272  # a 1080x2400 frame at the default max pixels
        assert step.screenshot_size == (1080, 2400)
        assert "model_prefill" in step.timings
    json.loads((out / "trajectory.json").read_text())


def test_cli_run_on_a_secure_screen_goes_on_without_the_black_frame(sim, tmp_path):
    """`vlagent run --device adb:SERIAL` on a FLAG_SECURE screen: the device hands the black
    capture to the loop, which stands the UI tree's labels in for it (tests/agent/test_guards.py
    checks what the model sees), so the run goes on; it used to stop with DeviceCommandError."""
    from typer.testing import CliRunner

    from vlagent.cli import app

    script = tmp_path / "script.json"
    script.write_text(json.dumps(['<tool_call>{"name": "mobile_use", "arguments": '
                                  '{"action": "terminate", "status": "success"}}</tool_call>']))
    sim.phone.secure = True
    try:
        ran = CliRunner().invoke(app, ["run", "Say hello", "--device", f"adb:{sim.serial}", "--model",
                                       f"scripted:{script}", "--out", str(tmp_path / "run"), "--max-steps", "2"])
    finally:
        sim.phone.secure = False
    assert ran.exit_code == 0, ran.output
    traj = Trajectory.load(tmp_path / "run")
    assert traj.status == "success" and len(traj.steps) == 1
