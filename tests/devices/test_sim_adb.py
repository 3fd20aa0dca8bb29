"""SimPhone through the real adb binary and adbutils, as a phone in TCP mode would be driven.

Everything here talks to the SimPhone over a private adb server (see conftest.py); the phone's
state is read back with `adb shell cmd simphone state`, the way benchmark checks read it.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import time

import pytest
from PIL import Image, ImageChops

from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb
from vlagent.devices.sim.shell.device_state import DeviceState
from vlagent.devices.sim.shell.interpreter import Shell

adb_only = pytest.mark.adb


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


def _wait_state(adb, serial: str, want: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        for line in adb("devices").stdout.decode().splitlines():
            if line.startswith(serial + "\t"):
                state = line.split("\t", 1)[1]
        if state == want:
            return state
        time.sleep(0.1)
    return state


# --- acceptance point 1: the real adb binary -------------------------------------------------


@adb_only
def test_adb_connect_then_devices_lists_it_as_device(adb):
    with SimPhoneServer() as server:
        out = adb("connect", server.serial)
        assert out.returncode == 0 and b"connected to " + server.serial.encode() in out.stdout, out
        try:
            assert _wait_state(adb, server.serial, "device") == "device"
            listing = adb("devices", "-l").stdout.decode()
            assert "model:SimPhone" in listing and "product:simphone" in listing
        finally:
            adb("disconnect", server.serial)


@adb_only
def test_connect_adb_starts_a_missing_adb_server_quietly(adb_bin, monkeypatch, capfd):
    """Where no adb server answers, connect_adb starts one without adb's "daemon not running"
    lines on the terminal (workers of `bench sim -j N` race to start it)."""
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    try:
        with SimPhoneServer() as server:
            assert connect_adb(server) == server.serial
            disconnect_adb(server)
        out, err = capfd.readouterr()
        assert "daemon" not in out + err, out + err
    finally:
        subprocess.run([adb_bin, "-P", str(port), "kill-server"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)


@adb_only
def test_wm_size(adb, shared_sim):
    out = adb("shell", "wm", "size", serial=shared_sim.serial)
    assert out.returncode == 0
    assert out.stdout == b"Physical size: 1080x2400\n"


@adb_only
def test_exec_out_screencap_png_is_the_launcher(adb, shared_sim):
    shared_sim.phone.start("com.android.launcher3")
    out = adb("exec-out", "screencap", "-p", serial=shared_sim.serial)
    assert out.returncode == 0 and out.stdout.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(out.stdout))
    assert image.size == (1080, 2400)
    assert adb.state(shared_sim.serial)["foreground"]["package"] == "com.android.launcher3"
    assert _same(image, shared_sim.phone.screenshot())


@adb_only
def test_exec_out_screencap_raw_frame(adb, shared_sim):
    out = adb("exec-out", "screencap", serial=shared_sim.serial)
    data = out.stdout
    w, h, fmt, colorspace = (int.from_bytes(data[i:i + 4], "little") for i in (0, 4, 8, 12))
    assert (w, h, fmt, colorspace) == (1080, 2400, 1, 1)
    assert len(data) == 16 + w * h * 4
    frame = Image.frombytes("RGBA", (w, h), data[16:]).convert("RGB")
    assert _same(frame, shared_sim.phone.screenshot())


@adb_only
def test_tap_on_the_settings_icon_opens_settings(adb, sim):
    x, y = adb.tap_target(sim.serial, text="Settings")
    out = adb("shell", "input", "tap", str(x), str(y), serial=sim.serial)
    assert out.returncode == 0, out
    assert adb.state(sim.serial)["foreground"]["package"] == "com.android.settings"


@adb_only
def test_unknown_command_is_not_found(adb, shared_sim):
    out = adb("shell", "frobnicate", "--now", serial=shared_sim.serial)
    assert out.returncode == 127  # shell_v2 carries the exit status to the adb client
    assert b"frobnicate: inaccessible or not found" in out.stderr
    assert adb("shell", "true", serial=shared_sim.serial).returncode == 0


@adb_only
def test_shell_quoting_reaches_the_phone_shell(adb, shared_sim):
    out = adb("shell", "echo 'a  b' \"$HOME\" \\$HOME; echo $((6*7)) && false || echo fallback",
              serial=shared_sim.serial)
    assert out.stdout == b"a  b / $HOME\n42\nfallback\n"


@adb_only
def test_unauthorized_shows_in_adb_devices_until_accepted(adb, adb_client):
    with SimPhoneServer(auth_required=True) as server:
        adb("connect", server.serial)
        try:
            assert _wait_state(adb, server.serial, "unauthorized") == "unauthorized"
            out = adb("shell", "echo", "hi", serial=server.serial)
            assert out.returncode != 0 and b"unauthorized" in out.stderr
            server.clear_faults()  # someone tapped "Allow" on the phone
            assert _wait_state(adb, server.serial, "device") == "device"
            assert adb("shell", "echo", "hi", serial=server.serial).stdout == b"hi\n"
        finally:
            adb("disconnect", server.serial)


@adb_only
def test_push_pull_and_screencap_to_a_file(adb, shared_sim, tmp_path):
    payload = os.urandom(200_000) + b"\x00\r\n\xff" * 1000
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    assert adb("push", str(src), "/sdcard/Download/", serial=shared_sim.serial).returncode == 0
    back = tmp_path / "back.bin"
    assert adb("pull", "/sdcard/Download/blob.bin", str(back), serial=shared_sim.serial).returncode == 0
    assert back.read_bytes() == payload
    # exec-out is binary-safe both ways
    assert adb("exec-out", "cat", "/sdcard/Download/blob.bin", serial=shared_sim.serial).stdout == payload

    assert adb("shell", "screencap", "-p", "/sdcard/x.png", serial=shared_sim.serial).returncode == 0
    png = tmp_path / "x.png"
    assert adb("pull", "/sdcard/x.png", str(png), serial=shared_sim.serial).returncode == 0
    assert Image.open(png).size == (1080, 2400)
    assert "/sdcard/x.png" in adb.files(shared_sim.serial)
    missing = adb("pull", "/sdcard/nope.txt", str(tmp_path / "n"), serial=shared_sim.serial)
    assert missing.returncode != 0 and b"does not exist" in missing.stderr


@adb_only
def test_adb_reconnect_device_brings_the_device_back(adb, sim):
    # `reconnect device` opens the device-side `reconnect` service: the phone drops the
    # transport and the adb server connects again by itself.
    assert adb("reconnect", "device", serial=sim.serial).returncode == 0
    time.sleep(0.3)
    assert _wait_state(adb, sim.serial, "device") == "device"
    assert "reconnect" in sim.opened
    assert adb("shell", "echo", "ok", serial=sim.serial).stdout == b"ok\n"


# --- adbutils ----------------------------------------------------------------------------------


@adb_only
def test_adbutils_window_size_screenshot_shell_app_current(adb_client, sim):
    d = adb_client.device(sim.serial)
    assert tuple(d.window_size()) == (1080, 2400)
    assert d.rotation() == 0
    assert d.shell("echo hello") == "hello"
    assert d.getprop("ro.product.model") == "SimPhone"
    assert d.app_current().package == "com.android.launcher3"
    assert _same(d.screenshot(), sim.phone.screenshot())
    d.app_start("com.android.settings")
    current = d.app_current()
    assert (current.package, current.activity) == ("com.android.settings", "com.android.settings.Settings")
    assert "com.simphone.notes" in d.list_packages()
    assert d.shell2("false", v2=True).returncode == 1
    assert d.shell2("echo hi; false").returncode == 1  # the v1 fallback's `echo $?` trick works too


@adb_only
def test_adbutils_rotation_swaps_window_size(adb, adb_client, sim):
    adb("shell", "cmd", "simphone", "rotate", "1", serial=sim.serial)
    d = adb_client.device(sim.serial)
    assert d.rotation() == 1
    assert tuple(d.window_size()) == (2400, 1080)
    assert d.screenshot().size == (2400, 1080)


@adb_only
def test_adbutils_push_pull_and_dump(adb_client, shared_sim):
    d = adb_client.device(shared_sim.serial)
    d.sync.push(b"hello\n", "/data/local/tmp/hello.txt")
    assert d.sync.read_bytes("/data/local/tmp/hello.txt") == b"hello\n"
    assert d.sync.stat("/data/local/tmp/hello.txt").size == 6
    assert "hello.txt" in [f.path for f in d.sync.list("/data/local/tmp")]
    assert d.dump_hierarchy().startswith("<?xml")


@adb_only
def test_many_streams_and_two_phones_at_once(adb_client, shared_sim):
    with SimPhoneServer() as other:
        connect_adb(other, adb_client)
        try:
            a, b = adb_client.device(shared_sim.serial), adb_client.device(other.serial)
            b.shell("input keyevent HOME")
            b.app_start("com.android.deskclock")
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                outs = list(pool.map(lambda i: (a if i % 2 else b).shell(f"echo {i}"), range(32)))
                shots = list(pool.map(lambda d: d.screenshot().size, [a, b, a, b]))
            assert outs == [str(i) for i in range(32)]
            assert shots == [(1080, 2400)] * 4
            assert b.app_current().package == "com.android.deskclock"
            assert a.app_current().package != "com.android.deskclock"
        finally:
            disconnect_adb(other, adb_client)


# --- the simulated shell itself (no adb needed) -------------------------------------------------


class _Recorder:
    """Enough of a Phone for shell-level tests: records what input reaches it."""

    size, density, rotation, secure = (1080, 2400), 420, 0, False

    def __init__(self):
        self.typed: list[str] = []
        self.keys: list[str] = []

    def input_text(self, text):
        self.typed.append(text)

    def keyevent(self, key):
        self.keys.append(key)
        return True

    def ime_current(self):
        return "com.android.inputmethod.latin/.LatinIME"


@pytest.mark.parametrize(
    "line, out, status",
    [
        ("echo 'a;b' \"c|d\" e\\&f", b"a;b c|d e&f\n", 0),
        ("echo $(echo in $(echo deep)) `echo bt`", b"in deep bt\n", 0),
        ("x=1; echo $x${x} '$x'", b"11 $x\n", 0),
        ("false; echo $?; true && echo yes || echo no", b"1\nyes\n", 0),
        ("echo {a,b}c /sdcard/Do*", b"ac bc /sdcard/Documents /sdcard/Download\n", 0),
        ("echo no*match # a comment", b"no*match\n", 0),
        ("(exit 3); echo $?", b"3\n", 0),
        ("echo hi > /sdcard/f; cat /sdcard/f | grep h", b"hi\n", 0),
        ("echo 'open", b"/system/bin/sh: syntax error: unterminated quoted string\n", 1),
        ("echo a;; echo b", None, 1),
        ("nosuch", b"/system/bin/sh: nosuch: inaccessible or not found\n", 127),
    ],
)
def test_shell_interprets_like_mksh(line, out, status):
    result = Shell(DeviceState(phone=_Recorder())).run(line)
    assert result.status == status
    if out is not None:
        assert result.output == out


def test_shell_command_substitution_has_side_effects():
    state = DeviceState(phone=_Recorder())
    Shell(state).run("input text $(touch /sdcard/pwned)x")
    assert "/sdcard/pwned" in state.fs.snapshot()
    assert state.phone.typed == ["x"]


@pytest.mark.parametrize(
    "arg, typed",
    [("a%sb", "a b"), ("%%s", "% "), ("100%", "100%"), ("%", "%"), ("s%", "s%"), ("a%s%sb", "a  b")],
)
def test_input_text_turns_percent_s_into_space(arg, typed):
    phone = _Recorder()
    Shell(DeviceState(phone=phone)).run(f"input text '{arg}'")
    assert "".join(phone.typed) == typed


def test_input_text_only_types_the_first_argument_and_only_ascii():
    phone = _Recorder()
    shell = Shell(DeviceState(phone=phone))
    assert shell.run("input text hello world").status == 0
    assert phone.typed == ["hello"]
    result = shell.run("input text 'héllo'")
    assert result.status != 0 and b"NullPointerException" in result.output
    assert phone.typed == ["hello"]


@pytest.mark.timeout(20)
def test_arithmetic_the_shell_has_not_cannot_hang_the_phone():
    """mksh has no `**`; evaluated as Python's power it would compute 9**(9**9) digits for hours."""
    result = Shell(DeviceState(phone=_Recorder())).run("echo $((9**9**9)); echo $((6*7))")
    assert result.output.splitlines()[-1] == b"42"
