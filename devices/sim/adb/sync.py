"""The `sync:` service (AOSP `SYNC.TXT`, `file_sync_protocol.h`, daemon/file_sync_service.cpp):
file transfer on the in-memory filesystem, packet for packet as adbd's v1 protocol answers.

A request is an id and a path length (little-endian uint32 each, path at most 1024 bytes), then
the path. adbd serves requests until QUIT or the first failure: a FAIL (id, length, message)
ends the service, so the stream closes after it, as it does on a phone. The messages are
adbd's own ("open failed: No such file or directory"); clients add their framing ("remote
object ... does not exist" is the adb binary's, from a STAT it makes first).

- STAT: lstat as (id, mode, size, mtime); all zeros for a path that does not exist.
- LIST: one DENT (id, mode, size, mtime, name length, name) per entry, `.` and `..` included,
  then DONE with zeros; a path that is not a directory lists nothing.
- SEND "path,mode": DATA chunks then DONE(mtime); the mode is read as C's strtoul(.., 0) does and
  its user bits are copied to group and other, as adbd does (on /sdcard, emulated storage, a
  file is 0660 whatever was asked); answered OKAY or FAIL.
- RECV: DATA chunks of at most 64 KiB (SYNC_DATA_MAX), then DONE.
The v2 requests (STA2, LST2, LIS2, SND2, RCV2) go with features we do not advertise.
"""

from __future__ import annotations

import posixpath
import stat as statmod
import struct

from ..shell.device_state import DeviceState
from .protocol import Stream, StreamClosed

SYNC_DATA_MAX = 64 * 1024
SYNC_PATH_MAX = 1024
_READ_ONLY = ("/system/", "/vendor/", "/product/", "/apex/", "/odm/")  # mounted read-only on a phone
# Emulated storage (FUSE) gives every file the mount's mode, whatever the push asked for.
_EMULATED_STORAGE, _EMULATED_FILE_MODE = "/sdcard/", 0o660


class _SyncFailed(Exception):
    """A FAIL went out: adbd ends the sync service after it."""


def serve_sync(stream: Stream, state: DeviceState) -> None:
    """Answer sync requests until QUIT, a failure, or the peer closing the stream."""
    try:
        while _request(stream, state):
            pass
    except (StreamClosed, _SyncFailed):
        pass


def _request(stream: Stream, state: DeviceState) -> bool:
    """One request; False when the service ends (QUIT)."""
    header = stream.read_exact(8)
    cmd, n = header[:4], int.from_bytes(header[4:], "little")
    if n > SYNC_PATH_MAX:
        _fail(stream, "path too long")
    path = stream.read_exact(n).decode("utf-8", "surrogateescape")
    if cmd == b"STAT":
        mode, size, mtime = state.fs.stat(path) or (0, 0, 0)
        stream.write(b"STAT" + struct.pack("<3I", mode, size & 0xFFFFFFFF, mtime))
    elif cmd == b"LIST":
        stream.write(_listing(state, path))
    elif cmd == b"SEND":
        _send(stream, state, path)
    elif cmd == b"RECV":
        _recv(stream, state, path)
    elif cmd == b"QUIT":
        return False
    else:
        _fail(stream, f"unknown command {int.from_bytes(cmd, 'little'):08x}")
    return True


def _listing(state: DeviceState, path: str) -> bytes:
    fs = state.fs
    out = bytearray()
    if fs.is_dir(path):
        for name in [".", ".."] + fs.listdir(path):
            full = fs.norm(posixpath.join(path, name))
            mode, size, mtime = fs.stat(full) or (0o040771, 4096, 0)  # `..` of / is / itself
            raw = name.encode("utf-8", "surrogateescape")
            out += b"DENT" + struct.pack("<4I", mode, size & 0xFFFFFFFF, mtime, len(raw)) + raw
    return bytes(out + b"DONE" + bytes(16))


def _send(stream: Stream, state: DeviceState, spec: str) -> None:
    path, comma, mode_text = spec.rpartition(",")
    if not comma:
        _fail(stream, "missing , in ID_SEND_V1")
    mode = _strtoul(mode_text)
    fs = state.fs
    refusal = _cannot_create(state, path, mode)
    if refusal:
        # adbd fails as soon as open() does, then reads and drops the rest of the transfer so
        # the client, which reads replies late, still gets to see the FAIL.
        stream.write(_fail_message(refusal))
        _read_transfer(stream, keep=False)
        raise _SyncFailed(refusal)
    data, mtime = _read_transfer(stream, keep=True)
    mode &= 0o777
    mode |= (mode >> 3) & 0o070  # adbd: the user's permission bits for group ...
    mode |= (mode >> 3) & 0o007  # ... and other
    if fs.norm(path).startswith(_EMULATED_STORAGE):
        mode = _EMULATED_FILE_MODE
    try:
        fs.write(path, data, mode=mode, mtime=mtime, make_parents=True)
    except (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError, FileExistsError):
        _fail(stream, "secure_mkdirs() failed: Not a directory")  # a file stands where a directory must
    stream.write(b"OKAY" + bytes(4))


def _cannot_create(state: DeviceState, path: str, mode: int) -> str:
    """Why adbd could not create `path` ("" when it can), in its words: the step, strerror."""
    fs = state.fs
    if statmod.S_ISLNK(mode):
        return "symlink failed: Operation not permitted"  # FakeFS has no symlinks
    if fs.is_dir(path):
        return "couldn't create file: Is a directory"
    if fs.writable(path):
        return ""
    where = fs.norm(path)
    reason = "Read-only file system" if where.startswith(_READ_ONLY) else "Permission denied"
    if not fs.is_dir(posixpath.dirname(where)):
        return f"secure_mkdirs() failed: {reason}"
    return f"couldn't create file: {reason}"


def _read_transfer(stream: Stream, *, keep: bool) -> tuple[bytes, int]:
    """SEND's DATA chunks up to DONE: (the bytes, or b"" when not kept; DONE's mtime)."""
    data = bytearray()
    while True:
        head = stream.read_exact(8)
        kind, n = head[:4], int.from_bytes(head[4:], "little")
        if kind == b"DONE":
            return bytes(data), n
        if kind != b"DATA":
            _fail(stream, "invalid data message")
        chunk = stream.read_exact(n)
        if keep:
            data += chunk


def _recv(stream: Stream, state: DeviceState, path: str) -> None:
    try:
        data = state.fs.read(path)
    except FileNotFoundError:
        _fail(stream, "open failed: No such file or directory")
    except IsADirectoryError:
        _fail(stream, "read failed: Is a directory")  # open(2) succeeds on a directory, read(2) not
    view = memoryview(data)
    out = bytearray()
    for start in range(0, len(view), SYNC_DATA_MAX):
        chunk = view[start:start + SYNC_DATA_MAX]
        out += b"DATA" + struct.pack("<I", len(chunk)) + chunk
    out += b"DONE" + bytes(4)
    stream.write(out)


def _fail(stream: Stream, message: str) -> None:
    stream.write(_fail_message(message))
    raise _SyncFailed(message)


def _fail_message(message: str) -> bytes:
    raw = message.encode()
    return b"FAIL" + struct.pack("<I", len(raw)) + raw


def _strtoul(text: str) -> int:
    """C's strtoul(text, NULL, 0), which adbd uses for SEND's mode: 0x.. hex, 0.. octal, else
    decimal, up to the first character that is not a digit (none: 0)."""
    s = text.strip()
    base = 10
    if s[:2].lower() == "0x":
        base, s = 16, s[2:]
    elif s.startswith("0"):
        base = 8
    digits = "0123456789abcdef"[:base]
    end = 0
    while end < len(s) and s[end].lower() in digits:
        end += 1
    return int(s[:end], base) if end else 0
