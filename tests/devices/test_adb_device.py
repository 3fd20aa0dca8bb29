"""AdbDevice against SimPhone through the real adb server: frames, actions, typing, faults.

The phone's state is read back with `cmd simphone state` over adb; pixels are compared with the
Phone's own frame. Typing is a round trip: text typed through AdbDevice into a focused Notes
body must arrive exactly, and no string may ever make the phone's shell do anything else.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import ImageChops

from vlagent import actions as A
from vlagent.devices.adb import AdbDevice, keycode
from vlagent.devices.adb_text import text_commands
from vlagent.devices.sim import SimPhoneServer
from vlagent.errors import DeviceCommandError, DeviceOffline, ToolArgumentsError, UserError

from faults import timed, wait_until_dropped

adb_only = pytest.mark.adb

NOTES = "com.simphone.notes"
LATIN = "com.android.inputmethod.latin/.LatinIME"


def _node(xml: str, **match: str) -> tuple[int, int]:
    """Centre of the first node whose attributes match."""
    for node in ET.fromstring(xml.encode("utf-8")).iter("node"):
        if all(node.get(k) == v for k, v in match.items()):
            l, t, r, b = map(int, re.findall(r"-?\d+", node.get("bounds", "")))
            return (l + r) // 2, (t + b) // 2
    raise AssertionError(f"no node with {match}")


def _bounds(xml: str, text: str) -> tuple[int, ...]:
    node = next(n for n in ET.fromstring(xml.encode("utf-8")).iter("node") if n.get("text") == text)
    return tuple(map(int, re.findall(r"-?\d+", node.get("bounds", ""))))


@pytest.fixture
def device(sim):
    with AdbDevice(sim.serial, ime_settle=0) as d:
        yield d


@pytest.fixture(scope="module")
def shared_device(shared_sim):
    with AdbDevice(shared_sim.serial, ime_settle=0) as d:
        yield d


# --- frames and geometry -----------------------------------------------------------------------


@adb_only
def test_screenshot_is_the_phones_own_frame(device, sim):
    assert device.kind == "phone"
    assert device.size == (1080, 2400) and device.density == 420 and device.rotation == 0
    assert "SimPhone" in device.description and "Android 14" in device.description
    shot = device.screenshot()
    assert shot.mode == "RGB" and shot.size == (1080, 2400)
    assert ImageChops.difference(shot, sim.phone.screenshot()).getbbox() is None


@adb_only
def test_rotation_swaps_size_and_frame(device, adb, sim):
    adb("shell", "cmd", "simphone", "rotate", "1", serial=sim.serial)
    shot = device.screenshot()  # the frame's shape tells the device the phone turned
    assert shot.size == (2400, 1080)
    assert device.size == (2400, 1080) and device.rotation == 1


@adb_only
def test_ui_tree_is_the_uiautomator_dump(device):
    xml = device.ui_tree()
    assert xml.startswith("<?xml") and xml.endswith("</hierarchy>")
    _node(xml, text="Settings")


# --- actions -----------------------------------------------------------------------------------


@adb_only
def test_tap_on_settings_then_back_and_home(device, adb, sim):
    device.execute(A.Tap(**dict(zip("xy", _node(device.ui_tree(), text="Settings")))))
    assert adb.state(sim.serial)["foreground"]["package"] == "com.android.settings"
    device.execute(A.SystemButton(button="back"))
    assert adb.state(sim.serial)["foreground"]["package"] == "com.android.launcher3"
    device.execute(A.OpenApp(name="Settings"))
    device.execute(A.SystemButton(button="home"))
    state = adb.state(sim.serial)
    assert state["foreground"]["package"] == "com.android.launcher3"
    assert "com.android.settings" in state["background_tasks"]


@adb_only
def test_swipe_and_scroll_move_the_list(device):
    device.execute(A.OpenApp(name="Settings"))
    before = _bounds(device.ui_tree(), "Apps")
    # 300 px: the list moves, and "Apps", near its top, stays on the screen
    device.execute(A.Swipe(x1=540, y1=1800, x2=540, y2=1500, duration_ms=200))
    after = _bounds(device.ui_tree(), "Apps")
    assert after[1] < before[1]
    device.execute(A.Scroll(amount=5))  # positive: back up
    assert _bounds(device.ui_tree(), "Apps")[1] > after[1]


@pytest.mark.parametrize("name, package", [
    ("Notes", NOTES), ("browser", "com.android.chrome"), ("com.android.contacts", "com.android.contacts"),
    ("Calculator", "com.android.calculator2"), ("com.android.deskclock/.DeskClock", "com.android.deskclock"),
])
@adb_only
def test_open_app_by_label_package_or_component(shared_device, adb, shared_sim, name, package):
    shared_device.execute(A.OpenApp(name=name))
    assert adb.state(shared_sim.serial)["foreground"]["package"] == package


@adb_only
def test_open_app_unknown_name_lists_close_matches(shared_device):
    with pytest.raises(ToolArgumentsError, match="close matches: .*settings"):
        shared_device.execute(A.OpenApp(name="Setings"))


@adb_only
def test_keys(device, adb, sim):
    volume = adb.state(sim.serial)["volume"]
    device.execute(A.Key(keys=("volume_up",)))
    assert adb.state(sim.serial)["volume"] == volume + 1
    _open_note_body(device)
    device.execute(A.TypeText(text="ab"))
    device.execute(A.Key(keys=("enter",)))
    device.execute(A.Key(keys=("c",)))
    device.execute(A.Key(keys=("del",)))
    device.execute(A.Key(keys=("KEYCODE_X",)))
    assert adb.state(sim.serial)["focused_field"]["text"] == "ab\nx"
    with pytest.raises(ToolArgumentsError, match="unknown key"):
        device.execute(A.Key(keys=("hyperdrive",)))
    # Combinations go as `input keycombination`; SimPhone refuses modifiers rather than fake them.
    with pytest.raises(DeviceCommandError, match="keycombination"):
        device.execute(A.Key(keys=("ctrl", "a")))
    assert adb.state(sim.serial)["focused_field"]["text"] == "ab\nx"
    assert keycode("Volume_Up") == "KEYCODE_VOLUME_UP" and keycode("F5") == "KEYCODE_F5"


@adb_only
def test_other_actions_map_to_touches(device, adb, sim):
    xml = device.ui_tree()
    x, y = _node(xml, text="Settings")
    device.execute(A.Click(x=x, y=y))
    assert adb.state(sim.serial)["foreground"]["package"] == "com.android.settings"
    device.execute(A.MouseMove(x=10, y=10))  # no pointer on a phone: nothing happens
    device.execute(A.LongPress(x=540, y=1200, duration_ms=600))
    device.execute(A.Drag(start=(540, 1800), x=540, y=900, duration_ms=300))
    with pytest.raises(ToolArgumentsError):
        device.execute(A.Click())
    with pytest.raises(ToolArgumentsError):
        device.execute(A.Drag(x=1, y=2))
    for control in (A.Wait(seconds=1), A.Terminate(status="success"), A.AskUser(question="?")):
        with pytest.raises(ValueError, match="agent loop"):
            device.execute(control)


# --- typing --------------------------------------------------------------------------------------


def _open_note_body(device) -> None:
    device.execute(A.OpenApp(name="Notes"))
    device.execute(A.Tap(**dict(zip("xy", _node(device.ui_tree(), **{"resource-id": f"{NOTES}:id/new_note"})))))
    device.execute(A.Tap(**dict(zip("xy", _node(device.ui_tree(), **{"resource-id": f"{NOTES}:id/body"})))))


@pytest.fixture(scope="module")
def note_body(shared_device, shared_sim, adb):
    _open_note_body(shared_device)
    field = adb.state(shared_sim.serial)["focused_field"]
    assert field and field["resource_id"] == f"{NOTES}:id/body"
    return shared_device


SHELL_META = list(";&|$`\"'\\%*?()<>{}[]~#! \n\t") + ["%s", "$(", "${", "&&", "||", "s", "%%"]
TEXT = st.lists(
    st.one_of(
        st.sampled_from(SHELL_META),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Co", "Cn")), max_size=3),
        st.sampled_from(["中文", "😀", "👩‍💻", "שלום", "مرحبا", "é", "ß", "Ω"]),
    ),
    min_size=1, max_size=12,
).map("".join)


@adb_only
@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=TEXT)
@example(text="$(touch /sdcard/pwned)")
@example(text="`touch /sdcard/pwned2`; rm -rf /sdcard")
@example(text="; rm -rf / ; echo $HOME")
@example(text="a%sb %s%%s 100% s")
@example(text="it's \"quoted\" \\ back\\slash")
@example(text="line1\nline2\n")
@example(text="tab\there 中文 😀 שלום")
@example(text="-d 3 keyevent HOME")
def test_typing_round_trip_is_exact_and_inert(note_body, adb, shared_sim, text):
    serial = shared_sim.serial
    before = adb.state(serial)
    if len(before["focused_field"]["text"]) > 200:  # keep the field small: start a fresh note
        note_body.execute(A.SystemButton(button="back"))
        note_body.execute(A.SystemButton(button="back"))
        _open_note_body(note_body)
        before = adb.state(serial)
    files = adb.files(serial)

    note_body.execute(A.TypeText(text=text))

    after = adb.state(serial)
    assert after["focused_field"]["text"] == before["focused_field"]["text"] + text
    assert after["foreground"] == before["foreground"]
    assert after["ime"] == LATIN  # ADBKeyboard was switched back
    assert adb.files(serial) == files  # nothing ran on the phone but input


def test_decode_raw_frames():
    device = AdbDevice("unused")  # no I/O until connect()
    device._sdk = 34
    rgba = bytes([10, 20, 30, 255, 40, 50, 60, 255])  # 2x1 pixels
    header = lambda w, h, fmt: b"".join(v.to_bytes(4, "little") for v in (w, h, fmt))  # noqa: E731
    image = device._decode_raw(header(2, 1, 1) + (1).to_bytes(4, "little") + rgba)
    assert image.mode == "RGB" and image.tobytes() == bytes([10, 20, 30, 40, 50, 60])
    # a warning printed before the frame (phones with several displays)
    warned = b"[Warning] Multiple displays were found\n" + header(2, 1, 1) + (1).to_bytes(4, "little") + rgba
    assert device._decode_raw(warned).tobytes() == bytes([10, 20, 30, 40, 50, 60])
    # cut short: never mistaken for the older 12-byte header
    with pytest.raises(Exception, match="pixel bytes"):
        device._decode_raw(header(2, 1, 1) + (1).to_bytes(4, "little") + rgba[:5])
    # Android 8 and older: a 12-byte header
    device._sdk = 26
    assert device._decode_raw(header(2, 1, 1) + rgba).tobytes() == bytes([10, 20, 30, 40, 50, 60])


def test_text_commands_escaping_rules():
    assert text_commands("a b") == ["input text 'a%sb'"]
    assert text_commands("it's") == ["input text 'it'\\''s'"]
    assert text_commands("%s") == ["input text '%'", "input text 's'"]
    assert text_commands("x\ny") == ["input text 'x'", "input keyevent KEYCODE_ENTER", "input text 'y'"]


@adb_only
def test_non_ascii_without_adb_keyboard_says_how_to_install_it(device, monkeypatch):
    monkeypatch.setattr(device, "_has_adb_keyboard", lambda: False)
    with pytest.raises(UserError, match="ADBKeyboard.*adb install ADBKeyboard.apk.*ime enable"):
        device.execute(A.TypeText(text="中文"))


@adb_only
def test_tabs_without_adb_keyboard_press_tab(device, adb, sim, monkeypatch):
    _open_note_body(device)
    monkeypatch.setattr(device, "_has_adb_keyboard", lambda: False)
    device.execute(A.TypeText(text="a\tb"))  # the Tab key, as a keyboard would press it
    state = adb.state(sim.serial)
    # On Android, Tab moves focus on: the body is the last field, so the keyboard closes and
    # the "b" has nowhere to go.
    assert state["screen"]["fields"]["body"] == "a" and state["focused_field"] is None


@adb_only
def test_phones_without_shell_v2(device, adb, sim):
    device._v2 = False  # as on Android 6 and older: `shell:`, no exit status
    _open_note_body(device)
    device.execute(A.TypeText(text="a b;$(x) 'q' 中文"))
    assert adb.state(sim.serial)["focused_field"]["text"] == "a b;$(x) 'q' 中文"
    assert device.ui_tree().startswith("<?xml")
    assert device.screenshot().size == (1080, 2400)


@adb_only
def test_failed_commands_raise(device):
    with pytest.raises(DeviceCommandError, match="exit 1"):
        device.shell("false")
    assert device.shell("false", check=False) == ""
    with pytest.raises(ToolArgumentsError, match="cannot start"):
        device.execute(A.OpenApp(name="com.android.settings/.NoSuchActivity"))


# --- faults: each ends in a reconnect or a clear error, in bounded time ---------------------------



@adb_only
def test_dropped_transport_reconnects(device, adb, adb_client, sim):
    adb("shell", "cmd", "simphone", "fault", "drop", serial=sim.serial)
    assert wait_until_dropped(adb_client, sim.serial)  # the capture below meets the drop, not before it
    shot, error, took = timed(device.screenshot)
    assert error is None and shot.size == (1080, 2400) and took < 30
    device.execute(A.SystemButton(button="home"))


@adb_only
def test_drop_during_commands_from_another_client(device, sim):
    sim.drop()  # the cable is pulled between two commands
    _, error, took = timed(lambda: device.execute(A.OpenApp(name="Settings")))
    assert error is None and took < 30


@adb_only
def test_offline_phone_raises_device_offline(adb, sim):
    # A 1 s reconnect window instead of the default 5 s: each failed call waits it out in full.
    with AdbDevice(sim.serial, reconnect_window=1.0) as device:
        adb("shell", "cmd", "simphone", "fault", "offline", "1", serial=sim.serial)
        _, error, took = timed(device.screenshot)
        assert isinstance(error, DeviceOffline) and took < 30
        assert "adb devices" in str(error)
        _, error, took = timed(lambda: device.execute(A.Tap(x=1, y=1)))
        assert isinstance(error, DeviceOffline) and took < 30


@adb_only
def test_unauthorized_phone_raises_device_offline_saying_accept_the_prompt(device, adb, sim):
    adb("shell", "cmd", "simphone", "fault", "unauthorized", serial=sim.serial)
    _, error, took = timed(device.screenshot)
    assert isinstance(error, DeviceOffline) and took < 30
    assert "Allow USB debugging" in str(error)
    sim.clear_faults()  # the prompt is accepted: the same device object goes on
    time.sleep(0.3)
    assert device.screenshot().size == (1080, 2400)


@adb_only
def test_slow_screencap(sim, adb):
    with AdbDevice(sim.serial, screenshot_timeout=2.0) as device:
        adb("shell", "cmd", "simphone", "fault", "slow-screencap", "500", serial=sim.serial)
        assert device.screenshot().size == (1080, 2400)  # slow but within the timeout
        adb("shell", "cmd", "simphone", "fault", "slow-screencap", "5000", serial=sim.serial)
        _, error, took = timed(device.screenshot)
        assert isinstance(error, DeviceCommandError) and "did not finish" in str(error) and took < 30


@adb_only
def test_truncated_frames(device, adb, sim):
    adb("shell", "cmd", "simphone", "fault", "truncate-screencap", serial=sim.serial)
    assert device.screenshot().size == (1080, 2400)  # one bad frame: retried
    adb("shell", "cmd", "simphone", "fault", "truncate-screencap", "2", serial=sim.serial)
    _, error, took = timed(device.screenshot)
    assert isinstance(error, DeviceCommandError) and "truncated" in str(error) and took < 30


@adb_only
def test_secure_screen_is_an_error_unless_allowed(sim, adb):
    adb("shell", "cmd", "simphone", "fault", "secure", "on", serial=sim.serial)
    with AdbDevice(sim.serial) as device:
        with pytest.raises(DeviceCommandError, match="FLAG_SECURE"):
            device.screenshot()
    with AdbDevice(sim.serial, allow_black=True) as device:
        assert device.screenshot().getbbox() is None


@adb_only
def test_popup_fault_shows_in_state_and_frame(device, adb, sim):
    adb("shell", "cmd", "simphone", "fault", "popup", "Update", "Install now?", serial=sim.serial)
    assert adb.state(sim.serial)["popup"]["title"] == "Update"
    assert ImageChops.difference(device.screenshot(), sim.phone.screenshot()).getbbox() is None


# --- connecting ----------------------------------------------------------------------------------


@adb_only
def test_two_devices_at_once(adb_client, sim, adb):
    from vlagent.devices.sim import connect_adb, disconnect_adb

    with SimPhoneServer() as other:
        connect_adb(other, adb_client)
        try:
            with AdbDevice(sim.serial) as a, AdbDevice(other.serial) as b:
                a.execute(A.OpenApp(name="Settings"))
                b.execute(A.OpenApp(name="Clock"))
                assert adb.state(sim.serial)["foreground"]["package"] == "com.android.settings"
                assert adb.state(other.serial)["foreground"]["package"] == "com.android.deskclock"
        finally:
            disconnect_adb(other, adb_client)


@adb_only
def test_constructor_does_no_io_and_unknown_serial_is_offline(adb_port):
    device = AdbDevice("127.0.0.1:1", connect_timeout=1.0)  # nothing listens on port 1
    with pytest.raises(DeviceOffline, match="adb devices"):
        device.connect()


@adb_only
def test_serial_none_picks_the_only_device_or_explains(adb_port, adb_client, sim):
    serials = [i.serial for i in adb_client.list() if i.state == "device"]
    if serials == [sim.serial]:
        with AdbDevice() as d:
            assert d.serial == sim.serial
    else:
        with pytest.raises(UserError, match="several phones"):
            AdbDevice().connect()


def test_missing_adb_binary_is_a_user_error(monkeypatch):
    import adbutils

    import vlagent.devices.adb_transport as transport

    def no_adb():
        raise adbutils.AdbError("No adb exe could be found")

    monkeypatch.setattr(adbutils, "adb_path", no_adb)
    monkeypatch.setattr(transport.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="platform-tools"):
        AdbDevice("x").connect()


@adb_only
def test_a_hung_adb_server_is_an_error_not_a_hang(monkeypatch):
    """An adb server that accepts connections and never answers (before: list() blocked forever)."""
    import socket
    import threading

    from vlagent.devices import adb as adb_module

    monkeypatch.setattr(adb_module, "ADB_SERVER_TIMEOUT", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.extend(listener.accept() for _ in range(8)), daemon=True).start()
    try:
        with pytest.raises(DeviceOffline, match="did not answer within 0.5 s; it has hung"):
            AdbDevice(adb_port=listener.getsockname()[1], connect_timeout=2).connect()
    finally:
        listener.close()
