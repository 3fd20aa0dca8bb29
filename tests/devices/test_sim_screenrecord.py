"""`screenrecord` on a SimPhone, checked the way a user of a real Android 14 phone checks it
(frameworks/av cmds/screenrecord/screenrecord.cpp): a real H.264 MP4 that PyAV decodes to frames
of the screen's size showing the screen, a recording that ends at its time limit or when the
client hangs up (Ctrl-C in `adb shell`: the file is still finished), its options' answers and
exit codes; through the real adb binary, adbutils and adb-shell (no adb server)."""

from __future__ import annotations

import io
import signal
import subprocess
import time

import pytest
from PIL import Image, ImageChops, ImageStat

av = pytest.importorskip("av")

pytestmark = [pytest.mark.adb, pytest.mark.timeout(90)]


def _frames(data: bytes, fmt: str | None = None) -> list:
    with av.open(io.BytesIO(data), format=fmt) as container:
        return [(frame.time, frame.to_image()) for frame in container.decode(video=0)]


def _close(a: Image.Image, b: Image.Image, tolerance: float = 4.0) -> bool:
    """Same size and a mean absolute difference per channel under `tolerance` (H.264 is lossy)."""
    if a.size != b.size:
        return False
    diff = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean
    return max(diff) < tolerance


def _screencap(adb, serial) -> Image.Image:
    out = adb("exec-out", "screencap", "-p", serial=serial)
    return Image.open(io.BytesIO(out.stdout)).convert("RGB")


def _pull(adb, serial, path, tmp_path) -> bytes:
    local = tmp_path / path.rsplit("/", 1)[-1]
    out = adb("pull", path, str(local), serial=serial)
    assert out.returncode == 0, out.stderr
    return local.read_bytes()


def test_time_limit_blocks_then_the_mp4_shows_the_screen(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    shot = _screencap(adb, serial)
    started = time.monotonic()
    out = run("screenrecord", "--time-limit", "2", "/sdcard/x.mp4")
    took = time.monotonic() - started
    assert out.returncode == 0 and out.stdout == b"" and out.stderr == b"", out
    assert 1.9 <= took < 8
    data = _pull(adb, serial, "/sdcard/x.mp4", tmp_path)
    assert data[4:8] == b"ftyp" and b"moov" in data and b"avc1" in data
    frames = _frames(data)
    assert frames and frames[0][0] == 0.0
    assert all(image.size == (1080, 2400) for _, image in frames)
    assert _close(frames[0][1], shot)


def test_ctrl_c_finishes_the_file_and_a_change_is_a_new_frame(adb, sim_shell, adb_bin, adb_port, tmp_path):
    run, serial = sim_shell
    recording = subprocess.Popen([adb_bin, "-P", str(adb_port), "-s", serial, "shell", "screenrecord",
                                  "/sdcard/early.mp4"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        # The phone's other commands run meanwhile (the recording holds no lock between frames).
        started = time.monotonic()
        assert run("am", "start", "-n", "com.android.settings/.Settings").returncode == 0
        assert adb.state(serial)["foreground"]["package"] == "com.android.settings"
        assert time.monotonic() - started < 5
        settings = _screencap(adb, serial)
        time.sleep(1.0)
    finally:
        recording.send_signal(signal.SIGINT)   # Ctrl-C: the adb client goes, the stream closes
        recording.wait(timeout=10)
    deadline = time.monotonic() + 10
    while True:   # the phone finishes the file once it learns of the hang-up
        listing = run("ls", "-l", "/sdcard/early.mp4").stdout.split()
        if len(listing) > 4 and int(listing[4]) > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    frames = _frames(_pull(adb, serial, "/sdcard/early.mp4", tmp_path))
    assert len(frames) >= 2
    times = [t for t, _ in frames]
    assert times == sorted(times) and 0.8 < times[-1] < 10   # wall-clock stamps, variable rate
    assert _close(frames[-1][1], settings)
    assert not _close(frames[0][1], settings)


def test_size_format_and_verbose(adb, sim_shell, tmp_path):
    run, serial = sim_shell
    out = run("screenrecord", "--verbose", "--size", "540x1200", "--bit-rate", "4M", "--time-limit=1",
              "/sdcard/small.mp4")
    assert out.returncode == 0, out
    lines = out.stdout.decode().splitlines()
    assert lines[:3] == ["Display is 1080x2400 @60.00fps (orientation=ROTATION_0), layerStack=0",
                         "Configuring recorder for 540x1200 video/avc at 4.00Mbps",
                         "Content area is 540x1200 at offset x=0 y=0"]
    assert "Time limit reached" in lines and "Stopping encoder and muxer" in lines
    assert any(ln.startswith("Encoder stopping; recorded ") for ln in lines)
    assert ("Executing: /system/bin/am broadcast -a android.intent.action.MEDIA_SCANNER_SCAN_FILE "
            "-d file:///sdcard/small.mp4") in lines
    frames = _frames(_pull(adb, serial, "/sdcard/small.mp4", tmp_path))
    assert frames[0][1].size == (540, 1200)
    # A raw H.264 elementary stream.
    assert run("screenrecord", "--output-format=h264", "--time-limit", "1", "/sdcard/raw.h264").returncode == 0
    raw = _pull(adb, serial, "/sdcard/raw.h264", tmp_path)
    assert raw.startswith(b"\x00\x00\x00\x01") and _frames(raw, "h264")[0][1].size == (1080, 2400)


def test_h264_to_stdout_through_exec_out(adb, sim_shell):
    _run, serial = sim_shell
    out = adb("exec-out", "screenrecord", "--output-format=h264", "--time-limit", "1", "-", serial=serial)
    assert out.returncode == 0
    assert _frames(out.stdout, "h264")[0][1].size == (1080, 2400)


@pytest.mark.parametrize("argv, message", [
    (["--time-limit", "0", "/sdcard/a.mp4"], "Time limit 0s outside acceptable range [1,180]\n"),
    (["--time-limit", "181", "/sdcard/a.mp4"], "Time limit 181s outside acceptable range [1,180]\n"),
    (["--size", "720", "/sdcard/a.mp4"], "Invalid size '720', must be width x height\n"),
    (["--size", "0x720", "/sdcard/a.mp4"], "Invalid size 0x720, width and height may not be zero\n"),
    (["--bit-rate", "fast", "/sdcard/a.mp4"], "Unrecognized value: fast\n"),
    (["--bit-rate", "10", "/sdcard/a.mp4"], "Bit rate 10bps outside acceptable range [100000,200000000]\n"),
    (["--output-format=avi", "/sdcard/a.mp4"], "Unknown format 'avi'\n"),
    (["--frobnicate", "/sdcard/a.mp4"], "screenrecord: unknown option -- frobnicate\n"),
    (["-x", "/sdcard/a.mp4"], "screenrecord: unknown option -- x\n"),
    (["/sdcard/a.mp4", "--size"], "screenrecord: option requires an argument -- size\n"),
    ([], "Must specify output file (see --help).\n"),
    (["/sdcard/a.mp4", "/sdcard/b.mp4"], "Must specify output file (see --help).\n"),
])
def test_bad_options_exit_2_with_the_message_on_stderr(sim_shell, argv, message):
    run, _serial = sim_shell
    out = run("screenrecord", *argv)
    assert (out.returncode, out.stdout, out.stderr.decode()) == (2, b"", message)


def test_help_and_unwritable_file(sim_shell):
    run, _serial = sim_shell
    out = run("screenrecord", "--help")
    assert out.returncode == 0 and out.stdout == b""
    assert out.stderr.startswith(b"Usage: screenrecord [options] <filename>\n")
    assert b"Default / maximum is 180." in out.stderr and b"Default 20Mbps." in out.stderr
    out = run("screenrecord", "/system/a.mp4")
    assert (out.returncode, out.stderr) == (1, b"Unable to open '/system/a.mp4': Read-only file system\n")
    out = run("screenrecord", "/sdcard/no/such/dir.mp4")
    assert (out.returncode, out.stderr) == (1, b"Unable to open '/sdcard/no/such/dir.mp4': No such file or directory\n")


def test_adbutils_and_adb_shell_clients(shared_sim, adb_client, tmp_path):
    adb_shell_device = pytest.importorskip("adb_shell.adb_device")
    device = adb_client.device(shared_sim.serial)
    result = device.shell2("screenrecord --time-limit 1 /sdcard/u.mp4")
    assert result.returncode == 0
    device.sync.pull("/sdcard/u.mp4", str(tmp_path / "u.mp4"))
    data = (tmp_path / "u.mp4").read_bytes()
    assert _frames(data)[0][1].size == (1080, 2400)

    direct = adb_shell_device.AdbDeviceTcp("127.0.0.1", shared_sim.port, default_transport_timeout_s=10)
    assert direct.connect(rsa_keys=None, auth_timeout_s=1, read_timeout_s=10)
    try:
        direct.shell("screenrecord --time-limit 1 /sdcard/s.mp4", read_timeout_s=10)
        direct.pull("/sdcard/s.mp4", str(tmp_path / "s.mp4"))
    finally:
        direct.close()
    assert _frames((tmp_path / "s.mp4").read_bytes())[0][1].size == (1080, 2400)
