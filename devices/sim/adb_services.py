"""The services a SimPhone offers on an ADB stream (AOSP `SERVICES.TXT`, `SYNC.TXT`):

- `shell:CMD` (v1: stdout and stderr merged, no exit status) and `shell,v2,...:CMD` (the shell
  protocol: packets of id, length, data for stdout 1, stderr 2 and exit status 3);
- `exec:CMD`: raw, no pty, so binary output such as `screencap` passes intact;
- `sync:`: file transfer (STAT, LIST, SEND, RECV, QUIT) on the in-memory filesystem;
- `reconnect`: answers, then drops the transport as adbd does.
"""

from __future__ import annotations

import os
import struct
from typing import Callable

from .adb_protocol import Stream, StreamClosed
from .sh import DeviceState, Shell, ShellResult

SYNC_DATA_MAX = 64 * 1024


def handler_for(service: str, state: DeviceState) -> Callable[[Stream], None] | None:
    """The function serving `service` against `state`, or None for a service not offered."""
    if service.startswith("shell"):
        head, sep, cmd = service.partition(":")
        if not sep:
            return None
        options = head.split(",")[1:]
        v2 = "v2" in options
        return lambda s: _shell(s, state, cmd, v2)
    if service.startswith("exec:"):
        return lambda s: _write_output(s, Shell(state).run(service[5:]))
    if service == "sync:":
        return lambda s: _sync(s, state)
    if service.startswith("reconnect"):
        return lambda s: _reconnect(s, state)
    return None


def _write_output(stream: Stream, result: ShellResult) -> None:
    for _fd, data in result.chunks:  # chunk by chunk: a frame is not copied again
        stream.write(data)


def _shell(stream: Stream, state: DeviceState, cmd: str, v2: bool) -> None:
    if not cmd.strip():
        message = b"SimPhone has no interactive shell; run `adb shell COMMAND`.\n"
        if v2:
            stream.write(_v2(2, message) + _v2(3, b"\x01"))
        else:
            stream.write(message)
        return
    result = Shell(state).run(cmd)
    if not v2:
        _write_output(stream, result)
        return
    out = bytearray()
    for fd, data in result.chunks:
        if data:
            out += _v2(fd, data)
    out += _v2(3, bytes([result.status & 0xFF]))
    stream.write(bytes(out))


def _reconnect(stream: Stream, state: DeviceState) -> None:
    stream.write(b"done")
    state.on_transport_fault("drop", [])


def _sync(stream: Stream, state: DeviceState) -> None:
    fs = state.fs
    while True:
        try:
            header = stream.read_exact(8)
        except StreamClosed:
            return
        cmd, n = header[:4], int.from_bytes(header[4:], "little")
        if cmd == b"QUIT":
            return
        if n > 4096:
            stream.write(_fail("path too long"))
            return
        path = stream.read_exact(n).decode("utf-8", "surrogateescape")
        if cmd == b"STAT":
            mode, size, mtime = fs.stat(path) or (0, 0, 0)
            stream.write(b"STAT" + struct.pack("<3I", mode, size, mtime))
        elif cmd == b"LIST":
            out = bytearray()
            if fs.is_dir(path):
                for name in [".", ".."] + fs.listdir(path):
                    full = path if name == "." else fs.norm(os.path.join(path, name))
                    mode, size, mtime = fs.stat(full) or (0o040771, 4096, 0)
                    raw = name.encode("utf-8", "surrogateescape")
                    out += b"DENT" + struct.pack("<4I", mode, size, mtime, len(raw)) + raw
            out += b"DONE" + bytes(16)
            stream.write(bytes(out))
        elif cmd == b"SEND":
            _sync_send(stream, state, path)
        elif cmd == b"RECV":
            try:
                data = fs.read(path)
            except (FileNotFoundError, IsADirectoryError):
                stream.write(_fail(f"remote object '{path}' does not exist"))
                continue
            out = bytearray()
            for start in range(0, len(data), SYNC_DATA_MAX):
                chunk = data[start:start + SYNC_DATA_MAX]
                out += b"DATA" + struct.pack("<I", len(chunk)) + chunk
            out += b"DONE" + bytes(4)
            stream.write(bytes(out))
        else:
            stream.write(_fail(f"unknown sync command {cmd!r}"))
            return


def _sync_send(stream: Stream, state: DeviceState, spec: str) -> None:
    path, _, mode_text = spec.rpartition(",")
    if not path:
        path, mode_text = spec, "33188"
    try:
        mode = int(mode_text)
    except ValueError:
        mode = 0o644
    data = bytearray()
    mtime = None
    while True:
        head = stream.read_exact(8)
        kind, n = head[:4], int.from_bytes(head[4:], "little")
        if kind == b"DATA":
            data += stream.read_exact(n)
        elif kind == b"DONE":
            mtime = n
            break
        else:
            stream.write(_fail(f"invalid data message {kind!r}"))
            return
    try:
        state.fs.write(path, bytes(data), mode=mode, mtime=mtime, make_parents=True)
    except IsADirectoryError:
        stream.write(_fail(f"couldn't create file: {path}: Is a directory"))
        return
    except (PermissionError, FileNotFoundError):
        stream.write(_fail(f"couldn't create file: {path}: Permission denied"))
        return
    stream.write(b"OKAY" + bytes(4))


def _v2(packet_id: int, data: bytes) -> bytes:
    """One shell-protocol packet: id (1 stdout, 2 stderr, 3 exit status), length, data."""
    return bytes([packet_id]) + struct.pack("<I", len(data)) + data


def _fail(message: str) -> bytes:
    """A sync-protocol failure with its message."""
    raw = message.encode()
    return b"FAIL" + struct.pack("<I", len(raw)) + raw
