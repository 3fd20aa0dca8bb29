"""`vlagent run` killed with SIGKILL at random moments, then resumed (issue #16): every input
reaches the phone exactly once and trajectory.json is a valid trajectory after every kill.

The phone lives in this test's process and the run in a child process (`vlagent run -d
adb:SERIAL`, through the suite's private adb server), so a kill takes the run down and leaves the
phone as it was. The run types one letter per step into a Notes field: one `input text` each, each
visible, so the field's text counts and orders the inputs that arrived (a repeat doubles a letter,
a loss drops one), and `input_events` counts them again.

A real phone's `input` command takes 0.1-0.3 s to start before its event lands, and a client that
dies meanwhile takes it down with it (adbd hangs up the shell); SimPhone's input lands at once. So
the child is `vlagent run` with its adb driver waiting INPUT_LATENCY before each input goes out:
the moment between the step's write-ahead and its input reaching the phone is then as wide as on
a phone, and kills land in it.

Kills come at seeded random moments of two kinds: anywhere in the run (a delay drawn over the
length of a clean run, start-up included), and just after a step's write-ahead reached the disk
(the file is watched; a delay drawn over the input's latency and a little more). After each kill
the test tells which phase it landed in from the record and the phone: before the step's
write-ahead, between the write-ahead and the input reaching the phone, or after it (with the step's
`acted` mark on disk or not yet).
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlagent import Trajectory
from vlagent import actions as A
from vlagent.devices.adb import AdbDevice

NOTES = "com.simphone.notes"
SEED = 16


def ui(**arguments) -> str:
    return f'<tool_call>{json.dumps({"name": "mobile_use", "arguments": arguments})}</tool_call>'


INPUT_LATENCY = 0.05
SLOW_PHONE_CLI = """
import sys, time
from vlagent.devices.adb import AdbDevice

latency = float(sys.argv.pop(1))
send = AdbDevice._input

def _input(self, *args, **kwargs):
    time.sleep(latency)  # the phone's `input` starting up; a kill now means it never runs
    return send(self, *args, **kwargs)

AdbDevice._input = _input
from vlagent.cli import app
app(prog_name="vlagent")
"""


def start(args: list[str]) -> subprocess.Popen:
    """`vlagent run ARGS` in a child process, its inputs taking INPUT_LATENCY to land."""
    return subprocess.Popen([sys.executable, "-c", SLOW_PHONE_CLI, str(INPUT_LATENCY), "run", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def last_step(out: Path) -> dict | None:
    """The last step of the record as it is on disk now (None before there is one); a reader never
    sees half a file (atomic replace)."""
    try:
        steps = json.loads((out / "trajectory.json").read_text(encoding="utf-8"))["steps"]
    except FileNotFoundError:
        return None
    return steps[-1] if steps else None


def kill_at_a_write_ahead(proc: subprocess.Popen, out: Path, step: int, delay: float) -> None:
    """SIGKILL `delay` seconds after the write-ahead of step `step` or a later one is on disk (or
    when the run ends first)."""
    seen = None
    while proc.poll() is None:
        try:
            stamp = os.stat(out / "trajectory.json").st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp != seen:
            seen = stamp
            last = last_step(out)
            if last is not None and last["index"] >= step and last.get("acting") and not last.get("acted"):
                time.sleep(delay)
                proc.kill()
                return
        time.sleep(0.0005)


def phase_of(out: Path, typed: str, word: str) -> str:
    """Where the kill landed, from the record on disk and the letters the phone got."""
    traj = Trajectory.load(out)  # valid after every kill: a pydantic validation of the whole file
    assert all((out / s.screenshot).is_file() for s in traj.steps)  # every step's frame is there
    recorded = sum(isinstance(a, A.TypeText) for s in traj.steps for a in s.actions)
    assert word.startswith(typed), (typed, word)  # in order, none twice
    last = traj.steps[-1] if traj.steps else None
    if last is None or not last.acting:
        assert len(typed) == recorded
        return "before the write-ahead"
    assert len(typed) in (recorded - 1, recorded), (typed, recorded)
    if len(typed) == recorded - 1:
        return "write-ahead, input not on the phone"
    return "input on the phone, acted mark on disk" if last.acted else \
        "input on the phone, no acted mark yet"


@pytest.fixture
def notes_field(sim, adb):
    """Notes open on a new note with its body focused: what is typed next lands there."""
    def prepare() -> None:
        assert adb("shell", "cmd", "simphone", "reset", serial=sim.serial).returncode == 0
        with AdbDevice(sim.serial, ime_settle=0) as device:
            device.execute(A.OpenApp(name="Notes"))
            x, y = adb.tap_target(sim.serial, **{"resource-id": f"{NOTES}:id/new_note"})
            device.execute(A.Tap(x=x, y=y))
            x, y = adb.tap_target(sim.serial, **{"resource-id": f"{NOTES}:id/body"})
            device.execute(A.Tap(x=x, y=y))
        assert typed_text(adb, sim) == ""
    return prepare


def typed_text(adb, sim) -> str:
    return adb.state(sim.serial)["focused_field"]["text"]


def kill_and_resume_trials(sim, adb, tmp_path, notes_field, *, trials: int, letters: int, seed: int = SEED,
                           anywhere: float = 0.5, after_write_ahead: tuple[float, float] = (0, 2 * INPUT_LATENCY),
                           ) -> collections.Counter:
    """`trials` runs of `letters` steps each, killed once or twice each (with probability `anywhere`
    at a random moment of the run, else `after_write_ahead` seconds, drawn uniformly, after a
    random step's write-ahead) and resumed until they finish; returns the kills counted by phase."""
    rng = random.Random(seed)
    phases: collections.Counter = collections.Counter()
    script = tmp_path / "script.json"
    spec = ["-d", f"adb:{sim.serial}", "-m", f"scripted:{script}"]

    def write_script(word: str) -> None:
        script.write_text(json.dumps([ui(action="type", text=c) for c in word]
                                     + [ui(action="terminate", status="success")]))

    length = 0.0
    if anywhere:  # a clean run first: how long one lasts, start-up included, spreads the kills over it
        notes_field()
        write_script("x" * letters)
        started = time.monotonic()
        clean = start(["type", "--out", str(tmp_path / "clean"), *spec])
        assert clean.wait(60) == 0, clean.stderr.read()[-2000:]
        length = time.monotonic() - started

    for trial in range(trials):
        word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(letters))
        notes_field()
        before = adb.state(sim.serial)["input_events"]
        write_script(word)
        out = tmp_path / f"run{trial}"
        kills = rng.choice((1, 2))  # then resumed until it finishes
        launches = 0
        while True:
            launches += 1
            assert launches < 20, "the run never finished"
            if (out / "trajectory.json").is_file():
                proc = start(["--resume", str(out), *spec])
            else:  # killed before its first record: nothing happened yet; start it again
                shutil.rmtree(out, ignore_errors=True)
                proc = start([f"type {word}", "--out", str(out), *spec])
            if kills:
                kills -= 1
                if rng.random() < anywhere:
                    time.sleep(rng.uniform(0, length))
                    proc.kill()
                else:
                    kill_at_a_write_ahead(proc, out, rng.randrange(letters), rng.uniform(*after_write_ahead))
                if proc.wait(60) == -signal.SIGKILL:
                    time.sleep(0.2)  # an input the adb server still held lands now, if it does
                    phases[phase_of(out, typed_text(adb, sim), word) if (out / "trajectory.json").is_file()
                           else "before the first record"] += 1
                    continue
            code = proc.wait(60)
            assert code == 0, proc.stderr.read()[-3000:]
            break
        traj = Trajectory.load(out)
        assert traj.status == "success" and not any(s.acting for s in traj.steps)
        # every scripted input reached the phone exactly once, in order
        assert typed_text(adb, sim) == word, (trial, phases)
        assert adb.state(sim.serial)["input_events"] == before + letters
        assert sorted(p.name for p in out.glob("step_*.png")) == [s.screenshot for s in traj.steps]
        assert not list(out.glob(".trajectory.json.*.tmp"))
    return phases


@pytest.mark.adb
@pytest.mark.slow
def test_runs_killed_at_random_moments_and_resumed_send_every_input_once(sim, adb, tmp_path, notes_field):
    phases = kill_and_resume_trials(sim, adb, tmp_path, notes_field, trials=20, letters=6)
    print("kills by phase:", dict(phases))
    assert sum(phases.values()) >= 20


@pytest.mark.adb
def test_a_run_killed_between_its_write_ahead_and_the_input_sends_it_once(sim, adb, tmp_path, notes_field):
    """The default suite's share: kills aimed between a write-ahead and its input, where a resume
    that takes the action as done loses it (the slow test above spreads them over the whole run)."""
    phases = kill_and_resume_trials(sim, adb, tmp_path, notes_field, trials=2, letters=3, anywhere=0,
                                    after_write_ahead=(0, INPUT_LATENCY * 0.8))
    print("kills by phase:", dict(phases))
    assert phases["write-ahead, input not on the phone"] >= 1
