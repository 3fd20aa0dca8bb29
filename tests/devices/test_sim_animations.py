"""SimPhone's transitions (animations="real"): frames mid-way, the end frame, the scales a phone
has, flings, and the agent's settle waiting through them. Through the real adb where a client
would see it; durations are stretched with the phone's own scale settings, so that "mid-way" holds
on a loaded machine."""

from __future__ import annotations

import time

import pytest
from PIL import Image, ImageChops

from vlagent import Agent, ScriptedModel, Trajectory
from vlagent.devices import AdbDevice
from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb
from vlagent.devices.sim import Phone
from vlagent.guards import thumbnail
from vlagent.settle import difference

pytestmark = pytest.mark.adb

SETTINGS = "com.android.settings"
OPEN_SETTINGS = f"monkey -p {SETTINGS} -c android.intent.category.LAUNCHER 1"   # what AdbDevice's `open` sends


def same(a, b) -> bool:
    return ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def apart(a, b) -> float:
    """How different two frames look: settle's measure (mean grey difference of thumbnails)."""
    return difference(thumbnail(a), thumbnail(b))


@pytest.fixture
def real(adb_client):
    """A SimPhone with animations on, on the private adb server, and an AdbDevice on it."""
    server = SimPhoneServer(animations="real").start()
    try:
        connect_adb(server, adb_client)
        with AdbDevice(server.serial, ime_settle=0) as device:
            yield server, device
    finally:
        disconnect_adb(server, adb_client)
        server.stop()


def shell(adb, server, command: str) -> str:
    out = adb("shell", command, serial=server.serial)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()


def test_a_transition_mid_way_differs_from_both_ends_and_ends_on_the_final_frame(real, adb):
    server, device = real
    shell(adb, server, "settings put global transition_animation_scale 5")   # 450 ms -> 2.25 s
    home = device.screenshot()
    shell(adb, server, OPEN_SETTINGS)
    started = time.monotonic()
    frames = []
    while time.monotonic() - started < 1.2:
        frames.append(device.screenshot())
    xml = shell(adb, server, "uiautomator dump /dev/tty")   # waits, as uiautomator does, until nothing moves
    end = device.screenshot()
    assert f'package="{SETTINGS}"' in xml
    assert any(apart(f, home) > 5 and apart(f, end) > 5 for f in frames)
    # Nothing moves once the dump is back, and the end frame is the one the same state has without animations.
    still = Phone()
    still.start(SETTINGS)
    assert same(end, still.screenshot())
    time.sleep(0.3)
    assert same(device.screenshot(), end)


def _tap_settings_icon(adb, server):
    x, y = adb.tap_target(server.serial, text="Settings")
    shell(adb, server, f"input tap {x} {y}")


@pytest.mark.parametrize("setting, act", [
    ("animator_duration_scale", _tap_settings_icon),     # the launcher animates an app out of its icon
    ("transition_animation_scale", lambda adb, server: shell(adb, server, OPEN_SETTINGS)),
    ("window_animation_scale", lambda adb, server: shell(adb, server, "cmd simphone fault popup Update Restart now?")),
])
def test_an_animation_scale_of_0_makes_the_transition_instant(real, adb, setting, act):
    server, device = real
    seen = {}
    for scale in ("5", "0"):    # 5: the same change is still moving when captured; 0: already done
        shell(adb, server, "cmd simphone reset")
        shell(adb, server, f"settings put global {setting} {scale}")
        before = device.screenshot()
        act(adb, server)
        first = device.screenshot()
        shell(adb, server, "uiautomator dump /dev/tty")
        seen[scale] = (before, first, device.screenshot())
    before, first, end = seen["0"]
    assert same(first, end) and not same(before, end)
    before, first, end = seen["5"]
    assert not same(first, end) and not same(before, end)


def _long_page(animations: str) -> Phone:
    phone = Phone(animations=animations)
    phone.set_reader_text("\n".join(f"Line {i}: the winning number is not here yet." for i in range(400)),
                          title="Long page", url="https://example.com/long")
    phone.open_url("https://example.com/long")
    return phone


def _page_scroll(phone: Phone) -> int:
    return phone.state()["reader"]["scroll"]


def test_a_swipe_flings_on_and_a_touch_stops_the_fling():
    off, real = _long_page("off"), _long_page("real")
    time.sleep(0.5)    # the browser's own opening transition
    for phone in (off, real):
        phone.swipe(540, 1900, 540, 900, 300)
    assert _page_scroll(off) == 1000                  # off: the content follows the finger, no more
    assert _page_scroll(real) > 1500                 # real: 1000 px at 3333 px/s flings ~770 px further
    first = real.screenshot()
    moving = real.screenshot()
    while same(moving, first):
        moving = real.screenshot()
    # A touch on the moving list stops it where it is (the state keeps the offset it had on screen).
    planned = _page_scroll(real)
    real.tap(540, 1500)
    stopped = _page_scroll(real)
    assert 1000 <= stopped < planned      # not short of where the finger lifted: the drag is the finger's
    assert same(real.screenshot(), real.screenshot())    # nothing moves after the stop


def test_the_agents_settle_waits_through_a_real_length_transition(real, adb, tmp_path):
    """The step that opens an app settles for at least the transition, and the next step's
    screenshot is the transition's end frame; with the scale at 0 the same step settles sooner."""
    server, device = real
    waits = {}
    for scale in ("1", "0"):     # 1: the opening takes Android's 450 ms
        shell(adb, server, "cmd simphone reset")
        shell(adb, server, f"settings put global transition_animation_scale {scale}")
        model = ScriptedModel([
            '<tool_call>{"name": "mobile_use", "arguments": {"action": "open", "text": "Settings"}}</tool_call>',
            '<tool_call>{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}</tool_call>',
        ])
        out = tmp_path / scale
        Agent(model, device, out_dir=out).run("Open Settings")
        traj = Trajectory.load(out)
        timings = traj.steps[0].timings
        waits[scale] = (timings["act"], timings["settle"])
        seen = Image.open(out / traj.steps[1].screenshot)
        assert same(seen, device.screenshot()), "the next step saw a frame mid-transition"
    # The transition starts while `open` runs (act) and settle outlasts it; without it, settle is shorter.
    (act, settle), (_, instant) = waits["1"], waits["0"]
    assert act + settle >= 0.45 and settle > instant


@pytest.mark.slow
def test_the_oracle_solves_every_task_with_animations_on(adb_port, tmp_path):
    """~95 s on 2 busy cores (~40 s with animations off): every transition of every task is waited
    through by settle, and the UI dumps the oracle reads wait for the screen to go still."""
    from vlagent.bench.runner import run_suite
    from vlagent.bench.tasks import all_tasks

    result = run_suite(tmp_path / "run", models=["oracle"], jobs=2, seed=3, devices=["sim:animations=real"],
                       sim_size=(560, 1232))
    bad = {r.task_id: (r.outcome, r.reason) for r in result.results if r.outcome != "success"}
    assert len(result.results) == len(all_tasks()) and not bad, bad


def test_the_animations_option_reaches_sim_specs_only():
    from vlagent.bench.sim_devices import device_slots
    from vlagent.errors import UserError
    from vlagent.specs import sim_options, with_animations

    assert with_animations("sim", "off") == "sim"
    assert with_animations("sim,sim", "real") == "sim:animations=real,sim:animations=real"
    assert sim_options("animations=real") == {"animations": "real"} and sim_options("") == {}
    assert [s.animations for s in device_slots(["sim:animations=real"], 2, (560, 1232))] == ["real", "real"]
    for bad in (lambda: with_animations("adb:SERIAL", "real"), lambda: with_animations("sim", "fast"),
                lambda: sim_options("animations=fast")):
        with pytest.raises(UserError):
            bad()
