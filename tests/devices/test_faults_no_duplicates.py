"""Faults never duplicate an action (issue #9): every injected fault ends in recovery or a typed
error within a bound, no action reaches the phone twice, the trajectory stays intact, and a run
resumes without redoing anything.

Duplicates are counted, not guessed: SimPhone counts the input events it receives
(`input_events` in `cmd simphone state`: one per `input` command that ran, one per ADBKeyboard
broadcast the IME took), read back over adb. The worst case for duplicates is injected with
`cmd simphone fault drop-after-input [N]`: the phone runs the next input and the transport drops
before the reply is out, so the client cannot know whether it happened. The only correct answer
is a DeviceOffline that says so, never a blind re-send.

The time bounds are loose (30 s): they catch a hang, not a slow machine.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest

from vlagent import Agent, Assistant, DeviceError, ScriptedModel, Trajectory, tool
from vlagent import actions as A
from vlagent.devices.adb import AdbDevice
from vlagent.devices.sim import connect_adb
from vlagent.errors import DeviceOffline, ModelError

from faults import timed, wait_until_dropped

BOUND_S = 30
SETTINGS = "com.android.settings"
LAUNCHER = "com.android.launcher3"
NOTES = "com.simphone.notes"


def ui(**arguments) -> str:
    return f'<tool_call>{json.dumps({"name": "mobile_use", "arguments": arguments})}</tool_call>'


DONE = ui(action="terminate", status="success")



def arm_drop_after_input(adb, sim, n: int = 1) -> None:
    out = adb("shell", "cmd", "simphone", "fault", "drop-after-input", str(n), serial=sim.serial)
    assert out.returncode == 0 and not out.stdout.strip(), out


@pytest.fixture
def phone_state(adb, adb_client, sim):
    """`cmd simphone state` through the adb binary, once adb lists the phone as usable again (the
    test's own view: the device under test has already shown whether it recovered by itself)."""
    def read() -> dict:
        connect_adb(sim, adb_client)
        return adb.state(sim.serial)
    return read




def executed(traj: Trajectory) -> int:
    """Device actions the trajectory says were executed (terminate and friends touch nothing)."""
    return sum(1 for s in traj.steps for a in s.actions if not isinstance(a, (A.Terminate, A.AskUser, A.Wait)))


def relative(point: tuple[int, int], size: tuple[int, int] = (1080, 2400)) -> list[int]:
    """Device pixels to the model's relative 0-1000 coordinates."""
    return [round(point[0] * 1000 / size[0]), round(point[1] * 1000 / size[1])]


@pytest.fixture
def device(sim):
    with AdbDevice(sim.serial, ime_settle=0, reconnect_window=5.0) as d:
        yield d


# --- the counter itself ---------------------------------------------------------------------------


@pytest.mark.adb
def test_input_events_count_each_input_that_ran_once(device, adb, sim, phone_state):
    before = phone_state()["input_events"]
    device.execute(A.Tap(x=540, y=300))
    device.execute(A.Swipe(x1=540, y1=1800, x2=540, y2=1700, duration_ms=200))
    device.execute(A.Key(keys=("volume_up",)))
    device.execute(A.SystemButton(button="home"))
    device.execute(A.TypeText(text="ab"))  # one `input text`
    device.execute(A.TypeText(text="é"))  # one ADBKeyboard broadcast (the IME switches are no input)
    device.ui_tree(), device.screenshot()  # reads are no input
    assert phone_state()["input_events"] == before + 6
    bad = adb("shell", "input", "tap", "x", "y", serial=sim.serial)  # refused before the phone: not counted
    assert bad.returncode != 0 and phone_state()["input_events"] == before + 6
    usage = adb("shell", "cmd", "simphone", "fault", "drop-after-input", "many", serial=sim.serial)
    assert usage.returncode != 0 and b"drop-after-input [N]" in usage.stderr + usage.stdout
    arm_drop_after_input(adb, sim, 3)
    adb("shell", "cmd", "simphone", "fault", "clear", serial=sim.serial)  # disarms it
    device.execute(A.SystemButton(button="home"))
    assert phone_state()["input_events"] == before + 7


# --- AdbDevice: an input whose reply is lost ------------------------------------------------------


@pytest.mark.adb
def test_an_input_whose_reply_is_lost_is_offline_once_and_never_resent(device, adb, sim, phone_state):
    x, y = adb.tap_target(sim.serial, text="Settings")
    before = phone_state()["input_events"]
    arm_drop_after_input(adb, sim)
    _, error, took = timed(lambda: device.execute(A.Tap(x=x, y=y)))
    assert isinstance(error, DeviceOffline), error
    assert "may or may not have happened" in str(error) and f"input tap {x} {y}" in str(error)
    assert took < BOUND_S
    assert device.screenshot().size == (1080, 2400)  # the same device object reads again
    state = phone_state()
    # It did happen, exactly once: no blind retry after the drop.
    assert state["input_events"] == before + 1
    assert state["foreground"]["package"] == SETTINGS
    device.execute(A.SystemButton(button="home"))  # and acts again
    state = phone_state()
    assert state["input_events"] == before + 2 and state["foreground"]["package"] == LAUNCHER


@pytest.mark.adb
def test_a_shell_command_that_changes_the_phone_is_not_resent_when_marked_so(device, adb, sim, phone_state):
    """`shell()` retries a lost reply (right for reads); `idempotent=False`, as the benchmark's
    setup passes for `input`, `am start` or an incoming SMS, runs such a command once."""
    before = phone_state()["input_events"]
    arm_drop_after_input(adb, sim)
    _, error, took = timed(lambda: device.shell("input keyevent KEYCODE_HOME", idempotent=False))
    assert isinstance(error, DeviceOffline) and took < BOUND_S
    assert phone_state()["input_events"] == before + 1
    arm_drop_after_input(adb, sim)
    device.shell("input keyevent KEYCODE_HOME")  # a read-style call: retried, so it runs twice
    assert phone_state()["input_events"] == before + 3


@pytest.mark.adb
def test_typing_cut_by_a_lost_reply_is_neither_repeated_nor_continued(device, adb, sim, phone_state):
    device.execute(A.OpenApp(name="Notes"))
    x, y = adb.tap_target(sim.serial, **{"resource-id": f"{NOTES}:id/new_note"})
    device.execute(A.Tap(x=x, y=y))
    x, y = adb.tap_target(sim.serial, **{"resource-id": f"{NOTES}:id/body"})
    device.execute(A.Tap(x=x, y=y))
    assert phone_state()["focused_field"]["resource_id"] == f"{NOTES}:id/body"
    before = phone_state()["input_events"]
    arm_drop_after_input(adb, sim)
    # One shell line: `input text 'hello' && input keyevent KEYCODE_ENTER && input text 'world'`.
    _, error, took = timed(lambda: device.execute(A.TypeText(text="hello\nworld")))
    assert isinstance(error, DeviceOffline) and "may or may not have happened" in str(error) and took < BOUND_S
    device.screenshot()
    state = phone_state()
    # The first command ran once; the rest of the line died with the session and was not re-sent.
    assert state["focused_field"]["text"] == "hello" and state["input_events"] == before + 1
    device.execute(A.TypeText(text="!"))
    state = phone_state()
    assert state["focused_field"]["text"] == "hello!" and state["input_events"] == before + 2


@pytest.mark.adb
def test_several_lost_replies_in_a_row_each_run_once(device, adb, sim, phone_state):
    before = phone_state()["input_events"]
    arm_drop_after_input(adb, sim, 2)
    for key in ("volume_up", "volume_up"):
        _, error, took = timed(lambda: device.execute(A.Key(keys=(key,))))
        assert isinstance(error, DeviceOffline) and took < BOUND_S
    device.execute(A.Key(keys=("volume_down",)))  # the fault is used up: a normal reply
    assert phone_state()["input_events"] == before + 3


# --- AdbDevice: reads are retried, transparently ---------------------------------------------------


@pytest.mark.adb
@pytest.mark.parametrize("read", ["screenshot", "ui_tree"])
def test_a_read_after_a_drop_recovers_and_sends_no_input(device, adb, adb_client, sim, read, phone_state):
    before = phone_state()["input_events"]
    adb("shell", "cmd", "simphone", "fault", "drop", serial=sim.serial)
    assert wait_until_dropped(adb_client, sim.serial)
    result, error, took = timed(getattr(device, read))
    assert error is None and took < BOUND_S
    assert result.size == (1080, 2400) if read == "screenshot" else "</hierarchy>" in result
    assert phone_state()["input_events"] == before


@pytest.mark.adb
@pytest.mark.parametrize("read", ["screenshot", "shell"])
def test_a_read_cut_midway_is_retried_and_sends_no_input(device, adb, sim, read, phone_state):
    before = phone_state()["input_events"]
    if read == "screenshot":
        adb("shell", "cmd", "simphone", "fault", "slow-screencap", "800", serial=sim.serial)
        run = device.screenshot
    else:  # a shell-v2 read (as ui_tree is): the cut reply has no exit status
        def run():
            return json.loads(device.shell("sleep 0.8 && cmd simphone state"))
    cable = threading.Timer(0.3, sim.drop)  # pulled while the phone is still working on it
    cable.start()
    try:
        result, error, took = timed(run)
    finally:
        cable.cancel()
    assert error is None and took < BOUND_S
    assert result.size == (1080, 2400) if read == "screenshot" else result["input_events"] == before
    assert phone_state()["input_events"] == before


# --- the agent: a lost reply mid-run, then resume --------------------------------------------------


@pytest.mark.adb
def test_a_lost_reply_mid_run_keeps_the_trajectory_and_resume_redoes_nothing(sim, adb, tmp_path, phone_state):
    settings = relative(adb.tap_target(sim.serial, text="Settings"))

    def on_step(step):
        if step.index == 0:  # the next input, step 1's tap, runs and loses its reply
            arm_drop_after_input(adb, sim)

    before = phone_state()["input_events"]
    model = ScriptedModel([ui(action="click", coordinate=[500, 150]), ui(action="click", coordinate=settings),
                           ui(action="click", coordinate=[500, 300])])
    started = time.monotonic()
    with AdbDevice(sim.serial, reconnect_window=5.0) as device, pytest.raises(DeviceError) as caught:
        Agent(model, device, out_dir=tmp_path, settle_timeout=0.3, on_step=on_step).run("open Settings")
    assert time.monotonic() - started < 2 * BOUND_S
    assert isinstance(caught.value, DeviceOffline) and len(model.requests) == 2  # nothing after the fault

    traj = Trajectory.load(tmp_path)
    assert traj.status == "error" and "DeviceOffline" in traj.error and "may or may not have happened" in traj.error
    # The step in flight is kept too: its tap reached the phone, and its result says it may have.
    assert [s.index for s in traj.steps] == [0, 1]
    assert traj.steps[1].results[-1].is_error and "may or may not have happened" in traj.steps[1].results[-1].content
    assert all((tmp_path / s.screenshot).exists() for s in traj.steps)
    first_step = traj.steps[0].model_dump()
    first_png = hashlib.sha256((tmp_path / traj.steps[0].screenshot).read_bytes()).hexdigest()
    # The phone got each recorded action, the one in flight included, exactly once.
    state = phone_state()
    assert state["input_events"] == before + executed(traj) == before + 2
    assert state["foreground"]["package"] == SETTINGS  # the in-flight tap did happen

    resumed = ScriptedModel([ui(action="system_button", button="Back"), ui(action="click", coordinate=[500, 300]),
                             DONE])
    with AdbDevice(sim.serial) as device:  # a new process would bring a new device
        result = Agent(resumed, device, out_dir=tmp_path, settle_timeout=0.3).resume(tmp_path)
    assert (result.status, result.steps) == ("success", 5)
    traj = Trajectory.load(tmp_path)
    assert traj.status == "success" and traj.error is None
    assert [s.index for s in traj.steps] == [0, 1, 2, 3, 4]
    # The resumed model was told its last action may or may not have happened.
    assert any("may or may not have happened" in str(m["content"]) for m in resumed.requests[0][0])
    assert traj.steps[0].model_dump() == first_step  # the finished step is kept as it was
    assert hashlib.sha256((tmp_path / traj.steps[0].screenshot).read_bytes()).hexdigest() == first_png
    assert all((tmp_path / s.screenshot).exists() for s in traj.steps)
    assert len(resumed.requests) == 3  # only the new steps were asked for
    # Nothing was re-sent: the phone got the resumed run's own two actions and no more.
    state = phone_state()
    assert state["input_events"] == before + 2 + 2 == before + executed(traj)
    assert state["foreground"]["package"] == LAUNCHER


# --- the model and tools failing mid-run: the actions already done are not done again -------------


@pytest.mark.adb
def test_a_model_failure_mid_run_redoes_no_action_and_resume_goes_on(sim, adb, tmp_path, phone_state):
    class CutStream(ScriptedModel):
        def generate(self, messages, tools=None, **options):
            if len(self.requests) == 1:  # what OpenAIModel raises for a stream cut midway
                self.requests.append((list(messages), tools))
                raise ModelError("the model server's stream was cut after 5 characters")
            return super().generate(messages, tools, **options)

    before = phone_state()["input_events"]
    with AdbDevice(sim.serial) as device, pytest.raises(ModelError):
        Agent(CutStream([ui(action="click", coordinate=[500, 150])]), device, out_dir=tmp_path,
              settle_timeout=0.3).run("tap twice")
    traj = Trajectory.load(tmp_path)
    assert traj.status == "error" and [s.index for s in traj.steps] == [0]
    assert phone_state()["input_events"] == before + executed(traj) == before + 1
    with AdbDevice(sim.serial) as device:
        result = Agent(ScriptedModel([ui(action="click", coordinate=[500, 300]), DONE]), device, out_dir=tmp_path,
                       settle_timeout=0.3).resume(tmp_path)
    assert (result.status, result.steps) == ("success", 3)
    assert phone_state()["input_events"] == before + 2 == before + executed(Trajectory.load(tmp_path))


@pytest.mark.adb
def test_a_function_tool_that_timed_out_is_not_called_again(sim, adb, tmp_path, phone_state):
    calls: list[str] = []
    release = threading.Event()

    @tool(timeout=0.2)
    def send_invoice(customer: str) -> str:
        """Send an invoice (not idempotent: a second call sends a second invoice)."""
        calls.append(customer)
        release.wait(10)
        return "sent"

    model = ScriptedModel(['<tool_call>{"name": "send_invoice", "arguments": {"customer": "Ana"}}</tool_call>',
                           ui(action="click", coordinate=[500, 300]), DONE])
    before = phone_state()["input_events"]
    try:
        with AdbDevice(sim.serial) as device:
            _, error, took = timed(lambda: Agent(model, device, tools=[send_invoice], out_dir=tmp_path,
                                                  settle_timeout=0.3).run("bill Ana"))
    finally:
        release.set()
    assert error is None and took < BOUND_S
    traj = Trajectory.load(tmp_path)
    assert traj.status == "success" and len(traj.steps) == 3
    result = traj.steps[0].results[0]
    assert result.is_error and "timed out after 0.2 s (it may still be running)" in result.content
    # The model saw the timeout and moved on; the loop itself never called the tool again.
    assert any("timed out" in str(m["content"]) for m in model.requests[1][0])
    assert calls == ["Ana"]
    assert phone_state()["input_events"] == before + executed(traj) == before + 1


def test_the_assistant_does_not_call_a_timed_out_tool_again():
    calls: list[int] = []
    release = threading.Event()

    @tool(timeout=0.2)
    def transfer(amount: int) -> str:
        """Move money (not idempotent)."""
        calls.append(amount)
        release.wait(10)
        return "done"

    model = ScriptedModel(['<tool_call>{"name": "transfer", "arguments": {"amount": 5}}</tool_call>',
                           "The transfer timed out; check your account before trying again."])
    try:
        reply = Assistant(model, [transfer]).ask("send 5")
    finally:
        release.set()
    assert reply.results[0].is_error and "timed out" in reply.results[0].text
    assert calls == [5] and len(model.requests) == 2


# --- the process killed mid-step: the record said what it was doing --------------------------------

DIES_AFTER_ACTING = """
import os, sys
from vlagent import Agent, ScriptedModel
from vlagent.devices.adb import AdbDevice

class DiesAfterItsSecondAction(AdbDevice):
    acted = 0
    def execute(self, action):
        super().execute(action)
        self.acted += 1
        if self.acted == 2:
            os._exit(9)  # as kill -9 would: no cleanup, no last write

serial, script, out = sys.argv[1:4]
with DiesAfterItsSecondAction(serial, ime_settle=0) as device:
    Agent(ScriptedModel.from_file(script), device, out_dir=out, settle_timeout=0.3).run("two taps, then back")
"""


@pytest.mark.adb
def test_a_process_killed_mid_step_resumes_without_redoing_anything(sim, adb, tmp_path, phone_state):
    """The step was written before its action ran (write-ahead), so the record says the run died
    while carrying it out; the action's mark was not on disk yet, but the screen has changed since
    the step's screenshot, so the resume takes it as done and the same script goes on from the
    next output: every input reaches the phone once. (tests/devices/test_kill_and_resume.py kills
    `vlagent run` at random moments, before the input too.)"""
    import subprocess
    import sys

    script = tmp_path / "script.json"
    settings = relative(adb.tap_target(sim.serial, text="Settings"))
    outputs = [ui(action="click", coordinate=[500, 150]), ui(action="click", coordinate=settings),
               ui(action="system_button", button="Back"), DONE]
    script.write_text(json.dumps(outputs))
    out = tmp_path / "run"
    before = phone_state()["input_events"]
    died = subprocess.run([sys.executable, "-c", DIES_AFTER_ACTING, sim.serial, str(script), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == 9, died.stderr[-2000:]
    traj = Trajectory.load(out)
    assert traj.status == "running" and [s.index for s in traj.steps] == [0, 1]
    assert traj.steps[1].acting and not traj.steps[0].acting  # its intent was on disk before it acted
    assert not traj.steps[1].acted  # the process died before the mark that its action returned
    assert phone_state()["input_events"] == before + 2

    # what a kill during a later write would leave: a screenshot the record never named, a temp file
    (out / "step_009.png").write_bytes(b"orphan")
    (out / ".trajectory.json.abc123.tmp").write_text("{half")
    model = ScriptedModel.from_file(script)
    with AdbDevice(sim.serial) as device:  # as `vlagent run --resume` does with its scripted model
        result = Agent(model, device, out_dir=out, settle_timeout=0.3).resume(out, same_script=True)
    assert result.status == "success"
    traj = Trajectory.load(out)
    assert [s.index for s in traj.steps] == [0, 1, 2, 3] and not any(s.acting for s in traj.steps)
    assert "taken to have happened" in traj.steps[1].results[-1].content
    assert any("taken to have happened" in str(m["content"]) for m in model.requests[0][0])
    assert phone_state()["input_events"] == before + 3 == before + executed(traj)  # each input once
    assert sorted(p.name for p in out.glob("step_*.png")) == [s.screenshot for s in traj.steps]
    assert not list(out.glob(".trajectory.json.*.tmp"))
