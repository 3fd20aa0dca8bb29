"""Streaming `logcat` on a SimPhone as on a real Android 14 phone (system/logging/logcat/logcat.cpp):
without -d it prints the buffer, then follows new lines until the client closes the stream;
-d, -t N and -c exit at once, -T N prints its tail and follows. Through the real adb binary
(`adb logcat`, `adb shell logcat`) and adb-shell (no adb server)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest

pytestmark = [pytest.mark.adb, pytest.mark.timeout(60)]


class _Reader:
    """A running adb client whose stdout is collected on a thread."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.out += chunk

    def wait_for(self, text: bytes, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return text in self.out
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        self._thread.join(timeout=5)


def _client(adb_bin, adb_port, serial, *argv) -> _Reader:
    return _Reader([adb_bin, "-P", str(adb_port), "-s", serial, *argv])


@pytest.mark.parametrize("argv", [["logcat"], ["shell", "logcat"], ["shell", "logcat", "-v", "brief"]])
def test_logcat_follows_new_lines_until_the_client_goes(adb, sim_shell, adb_bin, adb_port, argv):
    run, serial = sim_shell
    reader = _client(adb_bin, adb_port, serial, *argv)
    try:
        assert reader.wait_for(b"Entered the Android system server!")   # the buffer first
        assert reader.proc.poll() is None   # still running: it follows
        assert run("am", "start", "-n", "com.android.settings/.Settings").returncode == 0
        assert reader.wait_for(b"cmp=com.android.settings/.Settings"), reader.out
        assert reader.proc.poll() is None
    finally:
        reader.stop()
    # The phone ended the command when the stream closed: its other commands still answer.
    assert run("echo", "ok").stdout == b"ok\n"


def test_dump_tail_and_clear_exit_at_once(sim_shell):
    run, _serial = sim_shell
    for argv in (["-d"], ["-t", "2"], ["-t2"], ["-c"]):
        started = time.monotonic()
        out = run("logcat", *argv)
        assert out.returncode == 0 and time.monotonic() - started < 5, argv
    assert run("logcat", "-d").stdout == b""   # -c emptied it


def test_tail_then_follow(adb, sim_shell, adb_bin, adb_port):
    run, serial = sim_shell
    reader = _client(adb_bin, adb_port, serial, "shell", "logcat", "-T", "1", "-v", "tag")
    try:
        assert reader.wait_for(b"ActivityTaskManager")
        assert b"SystemServer" not in reader.out   # only the last line of the buffer
        run("input", "keyevent", "KEYCODE_POWER")
        assert reader.wait_for(b"PowerManagerService"), reader.out
    finally:
        reader.stop()


def test_a_piped_logcat_dumps_and_exits(sim_shell):
    run, _serial = sim_shell
    out = run("logcat | grep SystemServer")
    assert out.returncode == 0 and b"Entered the Android system server!" in out.stdout


def test_adb_shell_client_stops_a_streaming_logcat(sim_shell, shared_sim):
    # sim_shell resets the shared phone, and with it the log: it holds the boot lines this
    # waits for even when a test before it ran `logcat -c`.
    adb_shell_device = pytest.importorskip("adb_shell.adb_device")
    device = adb_shell_device.AdbDeviceTcp("127.0.0.1", shared_sim.port, default_transport_timeout_s=10)
    assert device.connect(rsa_keys=None, auth_timeout_s=1, read_timeout_s=10)
    try:
        seen = b""
        stream = device.streaming_shell("logcat -v raw", decode=False)
        for chunk in stream:
            seen += chunk
            if b"System now ready" in seen:
                break
        stream.close()   # closes the stream (CLSE): the phone ends the command
        assert b"starting service 'zygote'..." in seen
        assert device.shell("echo still here", read_timeout_s=10) == "still here\n"
    finally:
        device.close()
