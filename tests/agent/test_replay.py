"""Replay on SimPhone through the real adb binary: recorded runs reproduce their effect on a fresh
phone without the model, and steps whose screen differs (the phone is rotated) are re-grounded.

Models are ScriptedModels whose replies are computed from a probe SimPhone's UI XML (node bounds
turned into Qwen2-VL boxes), not a model's judgement. Effects are checked in SimPhone's state.
"""

from __future__ import annotations

import contextlib
import json
import re
import xml.etree.ElementTree as ET

import pytest

from vlagent.actions import OpenApp, Tap
from vlagent.loop import Agent
from vlagent.models.scripted import ScriptedModel
from vlagent import ReplayDiverged
from vlagent.replay import replay
from vlagent.session import Session
from vlagent.trajectory import Trajectory

pytestmark = pytest.mark.adb

SWITCH = "com.android.settings:id/wifi_switch"




@contextlib.contextmanager
def simphone(client, rotation: int = 0):
    from vlagent.devices.adb import AdbDevice
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    with SimPhoneServer() as server:
        connect_adb(server, client)
        try:
            with AdbDevice(server.serial, ime_settle=0) as device:
                if rotation:
                    device.shell(f"cmd simphone rotate {rotation}")
                yield device
        finally:
            disconnect_adb(server, client)


def state(device) -> dict:
    return json.loads(device.shell("cmd simphone state"))


def bounds_of(xml: str, attr: str, value: str) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    nodes = list(ET.fromstring(xml.encode("utf-8")).iter("node"))
    screen = tuple(map(int, re.findall(r"-?\d+", nodes[0].get("bounds"))))
    for n in nodes:
        if n.get(attr) == value:
            return tuple(map(int, re.findall(r"-?\d+", n.get("bounds")))), (screen[2], screen[3])
    raise AssertionError(f"no node with {attr}={value!r}")


def relative(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    w, h = size
    return (round(box[0] * 1000 / w), round(box[1] * 1000 / h), round(box[2] * 1000 / w), round(box[3] * 1000 / h))


def probe(client, rotation: int = 0) -> dict[str, tuple[int, int, int, int]]:
    """Relative boxes of "Network & internet" and the Wi-Fi switch, from a probe phone's UI XML."""
    with simphone(client, rotation) as dev:
        dev.execute(OpenApp(name="Settings"))
        (l, t, r, b), size = bounds_of(dev.ui_tree(), "text", "Network & internet")
        network = relative((l, t, r, b), size)
        dev.execute(Tap(x=(l + r) // 2, y=(t + b) // 2))
        switch, size = bounds_of(dev.ui_tree(), "resource-id", SWITCH)
        return {"network": network, "switch": relative(switch, size)}


def box(label: str, b: tuple[int, int, int, int]) -> str:
    return f"<|object_ref_start|>{label}<|object_ref_end|><|box_start|>({b[0]},{b[1]}),({b[2]},{b[3]})<|box_end|>"


def click(b: tuple[int, int, int, int], thought: str) -> str:
    x, y = (b[0] + b[2]) // 2, (b[1] + b[3]) // 2
    return (f'{thought} <tool_call>{{"name": "mobile_use", "arguments": {{"action": "click", '
            f'"coordinate": [{x}, {y}]}}}}</tool_call>')


@pytest.fixture(scope="module")
def portrait(adb_client):
    return probe(adb_client)


@pytest.fixture(scope="module")
def landscape(adb_client):
    return probe(adb_client, rotation=1)


@pytest.fixture(scope="module")
def recorded(adb_client, portrait, tmp_path_factory):
    """A Session recorded on a fresh phone: open Settings, two grounded taps."""
    out = tmp_path_factory.mktemp("recorded")
    model = ScriptedModel([box("Network & internet", portrait["network"]), box("the Wi-Fi switch", portrait["switch"])])
    with simphone(adb_client) as dev:
        with Session(dev, model, out=out, cache=False) as s:
            s.open_app("Settings")
            s.tap("Network & internet")
            s.tap("the Wi-Fi switch")
        assert state(dev)["wifi"] is True
    return out


def test_a_recorded_session_replays_on_a_fresh_phone_with_no_model_call(adb_client, recorded, tmp_path):
    traj = Trajectory.load(recorded)
    assert [s.calls[0].arguments for s in traj.steps] == [
        {"name": "Settings"}, {"target": "Network & internet"}, {"target": "the Wi-Fi switch"}]
    model = ScriptedModel([])
    with simphone(adb_client) as dev:
        result = replay(recorded, dev, model, tmp_path / "replay", cache=False)
        assert state(dev)["wifi"] is True
    assert len(model.requests) == 0 and result.model_calls == 0
    assert (result.replayed, result.regrounded) == (3, 0)
    assert all(s.distance is None or s.distance < 0.05 for s in result.steps)
    # The replay is recorded in turn, targets kept, so it can be replayed again.
    again = Trajectory.load(tmp_path / "replay")
    assert [s.calls[0].arguments.get("target") for s in again.steps][1:] == ["Network & internet", "the Wi-Fi switch"]


def test_replay_regrounds_the_steps_whose_screen_differs(adb_client, recorded, landscape):
    model = ScriptedModel([box("Network & internet", landscape["network"]), box("the Wi-Fi switch", landscape["switch"])])
    with simphone(adb_client, rotation=1) as dev:
        result = replay(recorded, dev, model, cache=False)
        assert state(dev)["wifi"] is True
    assert [s.outcome for s in result.steps] == ["replayed", "regrounded", "regrounded"]
    assert len(model.requests) == 2 == result.model_calls
    # The recorded descriptions were what the model was asked for.
    prompts = [m[0][-1]["content"][-1]["text"] for m in model.requests]
    assert "Network & internet" in prompts[0] and "the Wi-Fi switch" in prompts[1]


def test_replay_without_a_model_stops_at_the_first_step_that_differs(adb_client, recorded):
    with simphone(adb_client, rotation=1) as dev:
        with pytest.raises(ReplayDiverged) as caught:
            replay(recorded, dev, None, cache=False)
        assert state(dev)["wifi"] is False
    message = str(caught.value)
    assert message.startswith("step 1 (tap(") and "'Network & internet'" in message
    assert "no model" in message and caught.value.screenshot.exists()


def test_an_agent_run_replays_and_regrounds_from_crops(adb_client, portrait, landscape, tmp_path):
    """A `vlagent run` trajectory has no descriptions: a differing screen is re-grounded by
    showing the model a crop of the recorded screen around the old tap."""
    agent_model = ScriptedModel([
        click(portrait["network"], "Wi-Fi lives under Network & internet."),
        click(portrait["switch"], "The Wi-Fi switch is off; I will turn it on."),
        '<tool_call>{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}</tool_call>',
    ])
    with simphone(adb_client) as dev:
        dev.execute(OpenApp(name="Settings"))
        run = Agent(agent_model, dev, out_dir=tmp_path / "run", settle_timeout=0.3).run("Turn on Wi-Fi")
        assert run.status == "success" and state(dev)["wifi"] is True

    # The trajectory starts on Settings: replays start there too.
    model = ScriptedModel([])
    with simphone(adb_client) as dev:
        dev.execute(OpenApp(name="Settings"))
        result = replay(tmp_path / "run", dev, model, cache=False)
        assert state(dev)["wifi"] is True
    assert len(model.requests) == 0 and [s.outcome for s in result.steps] == ["replayed", "replayed", "skipped"]

    model = ScriptedModel([box("", landscape["network"]), box("", landscape["switch"])])
    with simphone(adb_client, rotation=1) as dev:
        dev.execute(OpenApp(name="Settings"))
        result = replay(tmp_path / "run", dev, model, cache=False)
        assert state(dev)["wifi"] is True
    assert result.regrounded == 2 and len(model.requests) == 2
    crop, text, current = model.requests[1][0][-1]["content"]
    assert crop["type"] == current["type"] == "image" and crop["image"].size != current["image"].size
    assert "The Wi-Fi switch is off; I will turn it on." in text["text"]
