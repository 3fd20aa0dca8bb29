"""SimPhone's ADB services through three independent clients, each checked against what a real
Android 13/14 phone (a production build, adb over TCP) gives it:

- the real adb binary (through the private adb server of conftest.py),
- adbutils (also through that server),
- adb-shell's AdbDeviceTcp, which talks to adbd directly with no adb server, so it sees the
  device side packet by packet: its own flow control, its CLSE after every sync transaction,
  its checksums (it says version 0x01000000).

Plus a few packets sent by hand where the clients hide what adbd does (the negotiated payload
size, one OKAY per WRTE, the CLSE echo, backpressure).
"""

from __future__ import annotations

import io
import random
import re
import socket
import struct
import time

import pytest
from PIL import ImageChops

adb_shell_device = pytest.importorskip("adb_shell.adb_device")

pytestmark = [pytest.mark.adb, pytest.mark.timeout(60)]

SIZES = [0, 100, 64 * 1024 + 1, 5_000_000]
READ_TIMEOUT = 5.0  # adb-shell waits this long for a packet that never comes, then fails


def _payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.fixture
def adbsh_to():
    """adb-shell connected straight to a SimPhone's adbd port (no adb server)."""
    devices = []

    def connect(server):
        device = adb_shell_device.AdbDeviceTcp("127.0.0.1", server.port, default_transport_timeout_s=READ_TIMEOUT)
        assert device.connect(rsa_keys=None, auth_timeout_s=1, read_timeout_s=READ_TIMEOUT)
        devices.append(device)
        return device

    yield connect
    for device in devices:
        device.close()


@pytest.fixture
def adbsh(adbsh_to, shared_sim):
    return adbsh_to(shared_sim)


def _same_image(a, b) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None


# --- sync: push, stat, list, pull ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_adb_binary_push_pull(adb, shared_sim, tmp_path, size):
    data = _payload(size)
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    remote = f"/data/local/tmp/bin-{size}.bin"
    push = adb("push", str(src), remote, serial=shared_sim.serial)
    # A real phone: "<src>: 1 file pushed, 0 skipped. 12.3 MB/s (N bytes in 0.004s)", the rate
    # left out for an empty file; adb writes it on stderr when stdout is not a terminal.
    rate = "" if size == 0 else rf" [\d.]+ MB/s \({size} bytes in [\d.]+s\)"
    assert push.returncode == 0 and push.stdout == b""
    assert re.fullmatch(rf"{re.escape(str(src))}: 1 file pushed, 0 skipped\.{rate}\n", push.stderr.decode()), push
    pull = adb("pull", remote, str(back), serial=shared_sim.serial)
    assert pull.returncode == 0 and pull.stdout == b""
    assert re.fullmatch(rf"{re.escape(remote)}: 1 file pulled, 0 skipped\.{rate}\n", pull.stderr.decode()), pull
    assert back.read_bytes() == data


@pytest.mark.parametrize("size", SIZES)
def test_adbutils_push_stat_list_pull(adb_client, shared_sim, size):
    d = adb_client.device(shared_sim.serial)
    data = _payload(size)
    remote = f"/data/local/tmp/utils-{size}.bin"
    before = int(time.time())
    d.sync.push(data, remote, mode=0o644)
    st = d.sync.stat(remote)
    # adbd copies the user's permission bits to group and other: 0644 arrives as 0666.
    assert (st.mode, st.size) == (0o100666, size)
    assert before - 1 <= st.mtime.timestamp() <= time.time() + 1
    entry = {f.path: f for f in d.sync.list("/data/local/tmp")}[f"utils-{size}.bin"]
    assert (entry.mode, entry.size) == (0o100666, size)
    assert d.sync.read_bytes(remote) == data


@pytest.mark.parametrize("size", SIZES)
def test_adb_shell_push_stat_list_pull(adbsh, size):
    data = _payload(size)
    remote = f"/sdcard/Download/adbsh-{size}.bin"
    adbsh.push(io.BytesIO(data), remote, mtime=1_700_000_000, read_timeout_s=READ_TIMEOUT)
    # Emulated storage gives every file 0660, whatever mode was pushed (adb-shell asks 0770).
    assert adbsh.stat(remote, read_timeout_s=READ_TIMEOUT) == (0o100660, size, 1_700_000_000)
    listing = {bytes(f.filename): f for f in adbsh.list("/sdcard/Download", read_timeout_s=READ_TIMEOUT)}
    assert {b".", b".."} <= set(listing)
    assert (listing[f"adbsh-{size}.bin".encode()].size, listing[b"."].mode) == (size, 0o040771)
    out = io.BytesIO()
    adbsh.pull(remote, out, read_timeout_s=READ_TIMEOUT)
    assert out.getvalue() == data


def test_sync_failures_are_adbds_messages(adb, adbsh, shared_sim, tmp_path):
    from adb_shell.exceptions import AdbCommandFailureException, PushFailedError

    # A path that does not exist stats as all zeros; adbd's RECV fails with open()'s error.
    assert adbsh.stat("/sdcard/nope.txt", read_timeout_s=READ_TIMEOUT) == (0, 0, 0)
    with pytest.raises(AdbCommandFailureException, match=r"^Command failed: open failed: No such file or directory$"):
        adbsh.pull("/sdcard/nope.txt", io.BytesIO(), read_timeout_s=READ_TIMEOUT)
    # open(2) succeeds on a directory; read(2) is what fails.
    with pytest.raises(AdbCommandFailureException, match=r"^Command failed: read failed: Is a directory$"):
        adbsh.pull("/sdcard/Download", io.BytesIO(), read_timeout_s=READ_TIMEOUT)
    with pytest.raises(PushFailedError) as failed:
        adbsh.push(io.BytesIO(b"x"), "/system/x.txt", read_timeout_s=READ_TIMEOUT)
    assert failed.value.args == (b"couldn't create file: Read-only file system",)
    # The connection is still good after both (the service ended, the stream was closed).
    assert adbsh.shell("echo ok", read_timeout_s=READ_TIMEOUT) == "ok\n"

    src = tmp_path / "x.txt"
    src.write_bytes(b"x")
    out = adb("push", str(src), "/system/x.txt", serial=shared_sim.serial)
    assert out.returncode == 1 and out.stdout == b""
    assert (f"adb: error: failed to copy '{src}' to '/system/x.txt': "
            "remote couldn't create file: Read-only file system\n").encode() in out.stderr


# --- shell and exec-out through adb-shell ------------------------------------------------------------


def test_adb_shell_shell_and_exec_out(adbsh, shared_sim):
    assert adbsh.shell("echo hello; echo oops >&2", read_timeout_s=READ_TIMEOUT) == "hello\noops\n"
    raw = adbsh.exec_out("screencap", decode=False, read_timeout_s=READ_TIMEOUT)
    w, h, fmt, colour_space = struct.unpack_from("<4I", raw)
    assert (w, h, fmt, colour_space) == (1080, 2400, 1, 1) and len(raw) == 16 + w * h * 4


# --- framebuffer: ---------------------------------------------------------------------------------------

# framebuffer_service.cpp for RGBA_8888 (what screencap reports): version 2, bpp, colour space
# (sRGB), size, width, height, then offset/length of red, blue, green, alpha in that order.
FB_HEADER = (2, 32, 1, 1080 * 2400 * 4, 1080, 2400, 0, 8, 16, 8, 8, 8, 24, 8)


def test_framebuffer_through_adbutils_is_the_screen(adb_client, shared_sim):
    image = adb_client.device(shared_sim.serial).framebuffer()
    assert image.mode == "RGBA" and _same_image(image, shared_sim.phone.screenshot())


def test_framebuffer_through_adb_shell_is_adbds_format(adbsh, shared_sim):
    raw = adbsh._service(b"framebuffer", b"", read_timeout_s=READ_TIMEOUT, decode=False)
    assert struct.unpack_from("<14I", raw) == FB_HEADER
    assert len(raw) == 56 + FB_HEADER[3]
    from PIL import Image

    assert _same_image(Image.frombytes("RGBA", (1080, 2400), raw[56:]), shared_sim.phone.screenshot())


# --- root: / unroot: --------------------------------------------------------------------------------------


def test_root_and_unroot_answer_as_a_production_build(adb, adb_client, adbsh, shared_sim):
    out = adb("root", serial=shared_sim.serial)
    assert (out.returncode, out.stdout, out.stderr) == (0, b"adbd cannot run as root in production builds\n", b"")
    out = adb("unroot", serial=shared_sim.serial)
    assert (out.returncode, out.stdout, out.stderr) == (0, b"adbd not running as root\n", b"")
    assert adb_client.device(shared_sim.serial).root() == "adbd cannot run as root in production builds\n"
    adbsh.root(read_timeout_s=READ_TIMEOUT)  # reads to the end and discards it: must not time out
    assert adbsh._service(b"unroot", b"", read_timeout_s=READ_TIMEOUT) == "adbd not running as root\n"


# --- reverse: -------------------------------------------------------------------------------------------------


def test_adb_reverse_through_the_adb_binary(adb, sim):
    def run(*args):
        out = adb("reverse", *args, serial=sim.serial)
        return out.returncode, out.stdout.decode(), out.stderr.decode()

    # A new TCP listener's port comes back and adb prints it (tcp:0: the port the phone picked).
    assert run("tcp:8000", "tcp:9000") == (0, "8000\n", "")
    code, port, _ = run("tcp:0", "localabstract:devtools")
    assert code == 0 and 1024 <= int(port) <= 65535
    assert run("localabstract:chrome", "tcp:9222") == (0, "", "")
    assert run("tcp:8000", "tcp:9001") == (0, "", "")  # rebinding moves it, no port this time
    code, listing, _ = run("--list")
    name = listing.split()[0]
    assert code == 0 and re.fullmatch(r"host-\d+", name)
    assert listing == (f"{name} tcp:8000 tcp:9001\n{name} tcp:{port.strip()} localabstract:devtools\n"
                       f"{name} localabstract:chrome tcp:9222\n\n")
    assert run("--no-rebind", "tcp:8000", "tcp:1") == (1, "", "adb: error: cannot rebind existing socket\n")
    assert run("tcp:80", "tcp:80") == (1, "", "adb: error: cannot bind listener: Permission denied\n")
    assert run("--remove", "tcp:7") == (1, "", "adb: error: listener 'tcp:7' not found\n")
    assert run("--remove", "tcp:8000") == (0, "", "")
    assert run("--remove-all") == (0, "", "")
    assert run("--list") == (0, "\n", "")


def test_reverse_through_adbutils_and_adb_shell(adb_client, adbsh_to, sim):
    d = adb_client.device(sim.serial)
    adbsh = adbsh_to(sim)
    d.reverse("tcp:8000", "tcp:9000")
    # adb-shell on its own transport sees the phone-wide table, and adds to it.
    assert adbsh._service(b"reverse", b"forward:tcp:8100;tcp:9100", decode=False) == b"OKAY00048100"
    listing = adbsh._service(b"reverse", b"list-forward", decode=False)
    length, text = int(listing[:4], 16), listing[4:].decode()
    assert length == len(text) and len(text.splitlines()) == 2
    assert re.fullmatch(r"host-\d+ tcp:8000 tcp:9000\nhost-\d+ tcp:8100 tcp:9100\n", text)
    assert adbsh._service(b"reverse", b"killforward:tcp:1", decode=False) == b"FAIL001alistener 'tcp:1' not found"
    assert adbsh._service(b"reverse", b"bogus", decode=False) == b"FAIL0020not a reverse forwarding command"
    # A listener goes with the transport that made it.
    adbsh.close()
    deadline = time.monotonic() + 5
    while len(d.reverse_list()) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r.remote, r.local) for r in d.reverse_list()] == [("tcp:8000", "tcp:9000")]
    d.reverse_remove_all()
    assert d.reverse_list() == []


# --- the transport itself, packet by packet ------------------------------------------------------------


class RawHost:
    """The host side of the ADB transport in a few lines, to watch what the phone sends."""

    def __init__(self, port: int, maxdata: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.send(b"CNXN", 0x01000001, maxdata, b"host::\0")
        self.banner = self.recv()

    def send(self, cmd: bytes, arg0: int, arg1: int, data: bytes = b"") -> None:
        command = int.from_bytes(cmd, "little")
        self.sock.sendall(struct.pack("<6I", command, arg0, arg1, len(data), 0, command ^ 0xFFFFFFFF) + data)

    def recv(self, timeout: float = 5.0):
        self.sock.settimeout(timeout)
        head = self._exact(24)
        command, arg0, arg1, length = struct.unpack_from("<4I", head)
        return command.to_bytes(4, "little"), arg0, arg1, self._exact(length)

    def quiet(self, seconds: float = 0.3) -> bool:
        """True when the phone sends nothing for `seconds`."""
        try:
            self.sock.settimeout(seconds)
            return not self.sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return True

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise ConnectionError("closed")
            buf += part
        return buf

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(shared_sim):
    hosts = []

    def make(maxdata: int = 1024 * 1024) -> RawHost:
        hosts.append(RawHost(shared_sim.port, maxdata))
        return hosts[-1]

    yield make
    for h in hosts:
        h.close()


def test_cnxn_negotiates_the_payload_size_and_writes_respect_it(raw):
    host = raw(maxdata=4096)
    cmd, version, maxdata, banner = host.banner
    assert (cmd, version, maxdata) == (b"CNXN", 0x01000001, 4096) and banner.startswith(b"device::")
    host.send(b"OPEN", 7, 0, b"exec:screencap -p\0")
    cmd, local, remote, _ = host.recv()
    assert (cmd, remote) == (b"OKAY", 7)
    # One WRTE, no more until we acknowledge it, and none bigger than the 4096 we asked for.
    cmd, _, _, data = host.recv()
    assert cmd == b"WRTE" and len(data) == 4096 and data.startswith(b"\x89PNG")
    assert host.quiet(0.3)
    host.send(b"OKAY", 7, local)
    cmd, _, _, data = host.recv()
    assert cmd == b"WRTE" and len(data) <= 4096


def test_clse_is_echoed_and_unknown_streams_are_closed(raw):
    host = raw()
    host.send(b"OPEN", 3, 0, b"sync:\0")
    _, local, _, _ = host.recv()
    host.send(b"CLSE", 3, local)
    assert host.recv() == (b"CLSE", local, 3, b"")  # adbd closes its side and says so
    host.send(b"OKAY", 3, local)  # about a stream the phone no longer has
    assert host.recv() == (b"CLSE", local, 3, b"")
    host.send(b"OPEN", 4, 0, b"no-such-service:\0")
    assert host.recv() == (b"CLSE", 0, 4, b"")
    host.send(b"OPEN", 5, 4096, b"shell:true\0")  # asks for delayed acks, which are not offered
    assert host.recv() == (b"CLSE", 0, 5, b"")


def test_writes_to_a_service_that_is_not_reading_are_held_back(raw):
    host = raw()
    host.send(b"OPEN", 9, 0, b"shell:sleep 2\0")  # sleep never reads its stdin
    _, local, _, _ = host.recv()
    chunk = bytes(1024 * 1024)
    acked = 0
    while acked < 8:
        host.send(b"WRTE", 9, local, chunk)
        if host.quiet(0.3):
            break  # the phone stopped acknowledging: the service has not read what it holds
        assert host.recv() == (b"OKAY", local, 9, b"")
        acked += 1
    assert acked < 8


def test_a_packet_over_the_negotiated_size_drops_the_connection(raw):
    host = raw(maxdata=4096)
    host.send(b"OPEN", 2, 0, b"sync:\0")
    _, local, _, _ = host.recv()
    host.send(b"WRTE", 2, local, bytes(4097))
    with pytest.raises(ConnectionError):
        host.recv()
