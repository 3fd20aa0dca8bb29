"""The scripted-automation examples on SimPhone through the real adb binary.

The model is a ScriptedModel. Its replies are not a model's judgement: before each run a probe
SimPhone walks the same screens with exact taps, and every reply is computed from that phone's
UI XML (`uiautomator dump`): grounding boxes from node bounds, yes/no from a node's `checked`
or text, answers from node text. The effects are then checked in SimPhone's own state
(`cmd simphone state`), never in what the model said.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vlagent.actions import Key, OpenApp, Tap, TypeText
from vlagent.flows import run_flow
from vlagent.models.scripted import ScriptedModel
from vlagent.replay import replay

pytestmark = pytest.mark.adb

EXAMPLES = Path(__file__).parents[2] / "examples"
SETTINGS = "com.android.settings:id/"
CONTACTS = "com.android.contacts:id/"


# -- a private adb server and SimPhones on it (as tests/devices/conftest.py does) ---------------




@contextlib.contextmanager
def simphone(client):
    """A fresh SimPhone on the private adb server, as a connected AdbDevice."""
    from vlagent.devices.adb import AdbDevice
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    with SimPhoneServer() as server:
        connect_adb(server, client)
        try:
            with AdbDevice(server.serial, ime_settle=0) as device:
                yield device
        finally:
            disconnect_adb(server, client)


def state(device) -> dict:
    return json.loads(device.shell("cmd simphone state"))


# -- replies computed from the UI XML -------------------------------------------------------------


def node(xml: str, **match: str) -> dict[str, str]:
    for n in ET.fromstring(xml.encode("utf-8")).iter("node"):
        if all(n.get(k.replace("_", "-")) == v for k, v in match.items()):
            return dict(n.attrib)
    raise AssertionError(f"no node with {match} in the UI dump")


def text_in(xml: str, **match: str) -> str:
    """The first text in the matching node or below it (list rows keep theirs in children)."""
    for n in ET.fromstring(xml.encode("utf-8")).iter("node"):
        if all(n.get(k.replace("_", "-")) == v for k, v in match.items()):
            return next(t for t in (d.get("text") for d in n.iter("node")) if t)
    raise AssertionError(f"no node with {match} in the UI dump")


def bounds(n: dict[str, str]) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in re.findall(r"-?\d+", n["bounds"]))  # type: ignore[return-value]


def screen_size(xml: str) -> tuple[int, int]:
    root = next(ET.fromstring(xml.encode("utf-8")).iter("node"))
    l, t, r, b = map(int, re.findall(r"-?\d+", root.get("bounds")))
    return r - l, b - t


def box_reply(label: str, xml: str, **match: str) -> str:
    """A Qwen2-VL grounding reply (relative 0-1000) for the node's bounds."""
    (w, h), (l, t, r, b) = screen_size(xml), bounds(node(xml, **match))
    return (f"<|object_ref_start|>{label}<|object_ref_end|><|box_start|>"
            f"({round(l * 1000 / w)},{round(t * 1000 / h)}),({round(r * 1000 / w)},{round(b * 1000 / h)})<|box_end|>")


def tap_node(device, xml: str, **match: str) -> None:
    l, t, r, b = bounds(node(xml, **match))
    device.execute(Tap(x=(l + r) // 2, y=(t + b) // 2))


def verdict(answer: bool, reason: str) -> str:
    return json.dumps({"answer": answer, "reason": reason})


def probe_settings(client, rotation: int = 0) -> dict[str, str]:
    """Walk Settings > Network & internet > Wi-Fi switch with exact taps on a probe phone."""
    with simphone(client) as dev:
        if rotation:
            dev.shell(f"cmd simphone rotate {rotation}")
        dev.execute(OpenApp(name="Settings"))
        home = dev.ui_tree()
        tap_node(dev, home, text="Network & internet")
        network = dev.ui_tree()
        tap_node(dev, network, resource_id=SETTINGS + "wifi_switch")
        after = dev.ui_tree()
        switch = node(after, resource_id=SETTINGS + "wifi_switch")
        battery = re.search(r"Battery (\d+) percent", after)
        return {
            "network": box_reply("Network & internet", home, text="Network & internet"),
            "switch": box_reply("the Wi-Fi switch", network, resource_id=SETTINGS + "wifi_switch"),
            "wifi_on": verdict(switch["checked"] == "true", f"the Wi-Fi switch has checked={switch['checked']}"),
            "battery": json.dumps({"answer": int(battery.group(1))}),
        }


def settings_outputs(client) -> list[str]:
    r = probe_settings(client)
    return [r["network"], r["switch"], r["wifi_on"], r["battery"]]


def write_outputs(path: Path, outputs: list[str]) -> str:
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return f"scripted:{path}"


def run_example(name: str, capsys, *args: str) -> str:
    """Run the example's main() with command-line arguments, in this process (a subprocess would
    pay for importing torch again); returns what it printed."""
    spec = importlib.util.spec_from_file_location(f"example_{Path(name).stem}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capsys.readouterr()
    assert module.main(list(args)) == 0
    return capsys.readouterr().out


# -- the examples ---------------------------------------------------------------------------------


def test_settings_script_turns_wifi_on(adb_client, tmp_path, capsys):
    model = write_outputs(tmp_path / "outputs.json", settings_outputs(adb_client))
    with simphone(adb_client) as phone:
        assert state(phone)["wifi"] is False
        printed = run_example("settings_script.py", capsys, "--device", f"adb:{phone.serial}", "--model", model,
                              "--cache", str(tmp_path / "cache.json"))
        after = state(phone)
    assert after["wifi"] is True
    assert after["foreground"]["package"] == "com.android.settings"
    assert "Wi-Fi is on; battery at 100%" in printed
    assert "model calls: 4, cache hits: 0" in printed


def test_contacts_form_adds_a_contact_with_unicode_fields(adb_client, tmp_path, capsys):
    name, number, email = "Zoë Ångström-Nakamura", "+33 6 12 34 56 78", "zoë.å@example.org"
    with simphone(adb_client) as dev:  # the probe: the same form, filled with exact taps
        dev.execute(OpenApp(name="Contacts"))
        people = dev.ui_tree()
        tap_node(dev, people, content_desc="Create contact")
        dev.execute(TypeText(text=name))
        dev.execute(Key(keys=("enter",)))
        dev.execute(TypeText(text=number))
        form = dev.ui_tree()
        tap_node(dev, form, resource_id=CONTACTS + "email")
        dev.execute(TypeText(text=email))
        filled = dev.ui_tree()
        tap_node(dev, filled, resource_id=CONTACTS + "editor_menu_save_button")
        detail = dev.ui_tree()
    title = node(detail, resource_id=CONTACTS + "large_title")["text"]
    outputs = [
        box_reply("the Create contact button", people, content_desc="Create contact"),
        box_reply("the Email field", form, resource_id=CONTACTS + "email"),
        box_reply("the Save button", filled, resource_id=CONTACTS + "editor_menu_save_button"),
        verdict(title == name, f"the page title reads {title!r}"),
        json.dumps({"answer": text_in(detail, resource_id=CONTACTS + "phone")}, ensure_ascii=False),
    ]
    model = write_outputs(tmp_path / "outputs.json", outputs)
    with simphone(adb_client) as phone:
        printed = run_example("contacts_form.py", capsys, "--device", f"adb:{phone.serial}", "--model", model,
                              "--cache", str(tmp_path / "cache.json"), "--name", name, "--phone", number,
                              "--email", email)
        after = state(phone)
    added = [c for c in after["contacts"] if c["name"] == name]
    assert added and added[0]["phone"] == number and added[0]["email"] == email
    assert after["foreground"]["activity"] == ".activities.QuickContactActivity"
    assert f"saved {name}: {number}" in printed


def test_flow_runs_and_a_rerun_on_unchanged_screens_makes_no_model_call(adb_client, tmp_path, caplog):
    flow, cache = EXAMPLES / "flow_wifi.yaml", tmp_path / "cache.json"
    first = ScriptedModel(settings_outputs(adb_client))
    with simphone(adb_client) as phone:
        result = run_flow(flow, phone, first, tmp_path / "run1", cache=cache)
        assert state(phone)["wifi"] is True
    assert result.status == "success" and result.variables == {"battery": 100}
    assert len(first.requests) == 4 == result.model_calls
    assert (tmp_path / "run1" / "trajectory.json").exists()

    second = ScriptedModel([])  # any model call would raise: it has no output to give
    with caplog.at_level(logging.INFO, logger="vlagent"), simphone(adb_client) as phone:
        again = run_flow(flow, phone, second, None, cache=cache)
        assert state(phone)["wifi"] is True
    assert len(second.requests) == 0 and again.model_calls == 0
    assert again.variables == {"battery": 100}
    looked = [s for s in again.steps if s.kind in ("tap", "wait_for", "query")]
    assert len(looked) == 4 and all(s.cached for s in looked)
    assert "grounding cache hit for 'Network & internet' — no model call" in caplog.text
    assert "grounding cache hit for 'the Wi-Fi switch' — no model call" in caplog.text

    # The recorded first run replays on a fresh phone without the model (and without the cache).
    with simphone(adb_client) as phone:
        replayed = replay(tmp_path / "run1", phone, second, cache=False)
        assert state(phone)["wifi"] is True
    assert len(second.requests) == 0 and replayed.regrounded == 0
    assert [s.outcome for s in replayed.steps] == ["replayed"] * 4 + ["skipped"] * 2 + ["replayed"]


def test_the_example_flow_runs_offline_from_the_command_line(adb_client, tmp_path, monkeypatch):
    """`vlagent flow run examples/flow_wifi.yaml` as written: its own SimPhone, and the scripted
    answers beside it, which are exactly what SimPhone's screens call for today."""
    from typer.testing import CliRunner

    from vlagent.cli import app

    assert json.loads((EXAMPLES / "flow_wifi_scripted.json").read_text()) == settings_outputs(adb_client)
    monkeypatch.setenv("VLAGENT_CACHE", str(tmp_path / "cache"))  # never the user's own cache
    run = CliRunner().invoke(app, ["flow", "run", str(EXAMPLES / "flow_wifi.yaml"), "--out", str(tmp_path / "run")])
    assert run.exit_code == 0, run.output
    assert "success: 4 model call(s), 0 cache hit(s)" in run.output
    again = CliRunner().invoke(app, ["flow", "run", str(EXAMPLES / "flow_wifi.yaml"), "--out", str(tmp_path / "run")])
    assert again.exit_code == 2 and "already holds a run" in again.output


def test_flow_with_its_own_sim_device(adb_client, tmp_path):
    """`device: sim` in the flow: run_flow starts (and stops) a SimPhone of its own."""
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: exact only\ndevice: sim\nsteps:\n  - open_app: Settings\n  - tap: [540, 450]\n"
                    "  - screenshot: network.png\n  - back\n", encoding="utf-8")
    result = run_flow(flow, None, None, tmp_path / "out", cache=False)
    assert result.status == "success" and result.model_calls == 0
    assert [s.kind for s in result.steps] == ["open_app", "tap", "screenshot", "back"]
    assert (tmp_path / "out" / "network.png").exists()


def test_flow_and_replay_commands(adb_client, tmp_path, monkeypatch):
    """`vlagent flow run` then `vlagent replay` from the command line, each on its own SimPhone."""
    import json

    from typer.testing import CliRunner

    from vlagent.cli import app

    monkeypatch.setenv("VLAGENT_CACHE", str(tmp_path / "cache"))  # never the user's own cache
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(settings_outputs(adb_client)))
    runner = CliRunner()
    run = runner.invoke(app, ["flow", "run", str(EXAMPLES / "flow_wifi.yaml"), "--model", f"scripted:{outputs}",
                              "--out", str(tmp_path / "run")])
    assert run.exit_code == 0, run.output
    assert "success: 4 model call(s), 0 cache hit(s)" in run.output
    numbers = [line.split()[1] for line in run.output.splitlines() if line.startswith("│")]
    assert numbers[:3] == ["1", "2", "3"]  # the table numbers steps as the flow file does
    again = runner.invoke(app, ["replay", str(tmp_path / "run"), "--device", "sim"])
    assert again.exit_code == 0, again.output
    assert "re-grounded 0, 0 model call(s)" in again.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - fly: away\n", encoding="utf-8")
    broken = runner.invoke(app, ["flow", "run", str(bad)])
    assert broken.exit_code == 2 and "bad.yaml:2" in broken.output
