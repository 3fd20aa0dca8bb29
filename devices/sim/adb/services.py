"""The services a SimPhone offers on an ADB stream (AOSP `SERVICES.TXT`, daemon/services.cpp),
each answering as a production (user) build of Android 13/14 does:

- `shell:CMD` (v1: stdout and stderr merged, no exit status) and `shell,v2,...:CMD` (the shell
  protocol: packets of id, length, data for stdout 1, stderr 2 and exit status 3);
- `exec:CMD`: raw, no pty, so binary output such as `screencap` passes intact;
  a command runs for a `StreamSession`: its output goes out when it ends or when it flushes
  (a following logcat), and it learns that the client closed the stream (Ctrl-C in `adb
  shell`), as a process under adbd gets SIGHUP: screenrecord then finishes its file;
- `sync:`: file transfer (sync.py);
- `framebuffer:`: the legacy screenshot, adbd's framebuffer_service: it runs `screencap` and
  rewrites its header as DDMS raw image version 2;
- `reverse:...`: `adb reverse` (reverse.py);
- `root:` / `unroot:`: a user build's adbd cannot switch, and says so;
- `reconnect`: answers, then drops the transport as adbd does.
"""

from __future__ import annotations

import struct
from typing import Callable

from ..shell.command import Session
from ..shell.device_state import DeviceState
from ..shell.interpreter import Shell, ShellResult
from .protocol import Stream, StreamClosed
from .reverse import ReverseListeners
from .sync import serve_sync

# restart_service.cpp's answers on a production build, whose adbd runs as `shell`.
ROOT_REFUSED = b"adbd cannot run as root in production builds\n"
UNROOT_REFUSED = b"adbd not running as root\n"


def handler_for(service: str, state: DeviceState,
                reverse: ReverseListeners | None = None) -> Callable[[Stream], None] | None:
    """The function serving `service` against `state` (and the phone's reverse listeners),
    or None for a service not offered. Prefixes are matched as daemon_service_to_fd does."""
    if service.startswith("shell"):
        head, sep, cmd = service.partition(":")
        if not sep:
            return None
        options = head.split(",")[1:]
        v2 = "v2" in options
        return lambda s: _shell(s, state, cmd, v2)
    if service.startswith("exec:"):
        return lambda s: _exec(s, state, service[5:])
    if service.startswith("sync:"):
        return lambda s: serve_sync(s, state)
    if service.startswith("framebuffer:"):
        return lambda s: _framebuffer(s, state)
    if service.startswith("reverse:") and reverse is not None:
        return lambda s: reverse.serve(s, service[len("reverse:"):])
    if service.startswith("root:"):
        return lambda s: s.write(ROOT_REFUSED)
    if service.startswith("unroot:"):
        return lambda s: s.write(UNROOT_REFUSED)
    if service == "reconnect":
        return lambda s: _reconnect(s, state)
    return None


class StreamSession(Session):
    """A command line's client at the other end of an ADB stream (shell/command.py's Session):
    output is held until `flush()` (a command's end, or a streaming command's each step), then
    written raw or, with the shell protocol, as stdout/stderr packets; the client hung up once
    it closed the stream."""

    live = True

    def __init__(self, stream: Stream, v2: bool):
        self.stream, self.v2 = stream, v2
        self._pending: list[tuple[int, bytes]] = []

    def write(self, fd: int, data: bytes) -> None:
        if data:
            self._pending.append((fd, data))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or self.stream.peer_closed:
            return   # a hung-up client's output goes nowhere (the command sees hung_up())
        try:
            if self.v2:
                self.stream.write(b"".join(_v2(fd, data) for fd, data in pending))
            else:
                for _fd, data in pending:  # chunk by chunk: a frame is not copied again
                    self.stream.write(data)
        except StreamClosed:
            pass

    def hung_up(self) -> bool:
        return self.stream.peer_closed

    def read(self, n: int) -> bytes | None:
        """Raw, the stream's bytes are stdin; with the shell protocol, stdin packets (id 0) until
        a close-stdin one (id 3)."""
        try:
            if not self.v2:
                return self.stream.read_exact(n)
            data = bytearray()
            while len(data) < n:
                packet_id, length = struct.unpack("<BI", self.stream.read_exact(5))
                payload = self.stream.read_exact(length)
                if packet_id == 0:
                    data += payload
                elif packet_id == 3:
                    return None
            return bytes(data[:n])
        except StreamClosed:
            return None

    def wait(self, seconds: float) -> bool:
        return self.stream.wait_closed(seconds)


def _write_output(stream: Stream, result: ShellResult) -> None:
    for _fd, data in result.chunks:  # chunk by chunk: a frame is not copied again
        stream.write(data)


def _exec(stream: Stream, state: DeviceState, cmd: str) -> None:
    session = StreamSession(stream, v2=False)
    Shell(state, session=session).run(cmd)
    session.flush()


def _shell(stream: Stream, state: DeviceState, cmd: str, v2: bool) -> None:
    if not cmd.strip():
        message = b"SimPhone has no interactive shell; run `adb shell COMMAND`.\n"
        if v2:
            stream.write(_v2(2, message) + _v2(3, b"\x01"))
        else:
            stream.write(message)
        return
    session = StreamSession(stream, v2)
    result = Shell(state, session=session).run(cmd)
    if v2:
        session.write(3, bytes([result.status & 0xFF]))
    session.flush()


def _reconnect(stream: Stream, state: DeviceState) -> None:
    stream.write(b"done")
    state.on_transport_fault("drop", [])


# framebuffer_service.cpp: screencap's pixel format -> (bpp, then offset and length of red, blue,
# green, alpha: the header's order). 1 RGBA_8888, 2 RGBX_8888, 3 RGB_888, 4 RGB_565, 5 BGRA_8888.
_FB_FORMATS = {
    1: (32, 0, 8, 16, 8, 8, 8, 24, 8),
    2: (32, 0, 8, 16, 8, 8, 8, 24, 0),
    3: (24, 0, 8, 16, 8, 8, 8, 24, 0),
    4: (16, 11, 5, 0, 5, 5, 6, 0, 0),
    5: (32, 16, 8, 0, 8, 8, 8, 24, 8),
}
DDMS_RAWIMAGE_VERSION = 2  # the header has the colour space after bpp


def _framebuffer(stream: Stream, state: DeviceState) -> None:
    """adbd runs `screencap` (no arguments: raw w, h, format, colour space, then pixels) and
    sends version, bpp, colour space, size, width, height and the channels' offsets and lengths
    (14 little-endian uint32), then the pixels. Like adbd, it sends nothing for a format it does
    not know or a header cut short, and stops where screencap's pixels stop."""
    head, pixels = bytearray(), []  # the pixels stay in screencap's own buffers (10 MB a frame)
    for fd, data in Shell(state).run("screencap").chunks:
        if fd != 1:
            continue
        view = memoryview(data)
        take = 16 - len(head)
        head += view[:take]
        if len(view) > take:
            pixels.append(view[take:])
    if len(head) < 16:
        return
    w, h, fmt, colour_space = struct.unpack("<4I", head)
    layout = _FB_FORMATS.get(fmt)
    if layout is None:
        return
    bpp = layout[0]
    left = w * h * bpp // 8
    stream.write(struct.pack("<14I", DDMS_RAWIMAGE_VERSION, bpp, colour_space, left, w, h, *layout[1:]))
    for piece in pixels:
        if left <= 0:
            break
        stream.write(piece[:left])
        left -= len(piece)


def _v2(packet_id: int, data: bytes) -> bytes:
    """One shell-protocol packet: id (1 stdout, 2 stderr, 3 exit status), length, data."""
    return bytes([packet_id]) + struct.pack("<I", len(data)) + data
