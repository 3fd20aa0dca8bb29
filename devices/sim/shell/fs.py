"""SimPhone's in-memory filesystem: what `adb push`, redirections, `screencap FILE` and
`uiautomator dump` write to, and what tests read back to prove a command touched nothing.

Only /sdcard and /data/local/tmp are writable, as for the shell user on a phone.
"""

from __future__ import annotations

import posixpath
import threading
import time
from dataclasses import dataclass


@dataclass
class _File:
    data: bytes
    mode: int = 0o100660
    mtime: int = 0


_DIR_MODE = 0o040771
_BASE_DIRS = (
    "/", "/sdcard", "/sdcard/Download", "/sdcard/Pictures", "/sdcard/DCIM", "/sdcard/Documents",
    "/data", "/data/local", "/data/local/tmp", "/system", "/system/bin", "/dev", "/proc", "/vendor",
)
# The shell user cannot remove or write these (they are root's on a phone).
_PROTECTED = ("/system", "/vendor", "/proc", "/dev", "/data", "/data/local", "/")


class FakeFS:
    """Files and directories by absolute path; /storage/emulated/0 and /storage/self/primary
    are /sdcard, /dev/null swallows writes. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._dirs: dict[str, int] = {d: int(time.time()) for d in _BASE_DIRS}
        self._files: dict[str, _File] = {}

    @staticmethod
    def norm(path: str, cwd: str = "/") -> str:
        p = posixpath.normpath(posixpath.join(cwd, path)) if path else cwd
        if p.startswith("//"):
            p = p[1:]
        for alias in ("/storage/emulated/0", "/storage/self/primary", "/mnt/sdcard"):
            if p == alias or p.startswith(alias + "/"):
                p = "/sdcard" + p[len(alias):]
        return p

    def is_dir(self, path: str) -> bool:
        with self._lock:
            return self.norm(path) in self._dirs

    def is_file(self, path: str) -> bool:
        with self._lock:
            return self.norm(path) in self._files

    def exists(self, path: str) -> bool:
        return self.is_dir(path) or self.is_file(path) or self.norm(path) in ("/dev/null", "/dev/tty")

    def read(self, path: str) -> bytes:
        p = self.norm(path)
        with self._lock:
            if p == "/dev/null":
                return b""
            if p in self._dirs:
                raise IsADirectoryError(path)
            if p not in self._files:
                raise FileNotFoundError(path)
            return self._files[p].data

    def writable(self, path: str) -> bool:
        p = self.norm(path)
        return p == "/dev/null" or any(p.startswith(d + "/") for d in ("/sdcard", "/data/local/tmp"))

    def write(self, path: str, data: bytes, *, append: bool = False, mode: int | None = None,
              mtime: int | None = None, make_parents: bool = False) -> None:
        p = self.norm(path)
        if p == "/dev/null":
            return
        with self._lock:
            if p in self._dirs:
                raise IsADirectoryError(path)
            self._may_create(p, path, make_parents)
            old = self._files.get(p)
            if append and old is not None:
                data = old.data + data
            self._files[p] = _File(
                data,
                0o100000 | (mode & 0o7777) if mode is not None else (old.mode if old else 0o100660),
                int(time.time()) if mtime is None else mtime,
            )

    def touch(self, path: str) -> None:
        p = self.norm(path)
        with self._lock:
            if p in self._files:
                self._files[p].mtime = int(time.time())
            elif p not in self._dirs:
                self.write(p, b"")

    def mkdir(self, path: str, *, parents: bool = False) -> None:
        p = self.norm(path)
        with self._lock:
            if p in self._dirs:
                if parents:
                    return
                raise FileExistsError(path)
            if p in self._files:
                raise FileExistsError(path)
            self._may_create(p, path, parents)
            self._dirs[p] = int(time.time())

    def _may_create(self, p: str, path: str, make_parents: bool) -> None:
        """Raise unless the shell user may create the normalised path `p` (`path` as given): its
        directory exists (or is made, with `make_parents`) and it lies where the shell user writes."""
        parent = posixpath.dirname(p)
        if parent not in self._dirs:
            if not make_parents:
                raise FileNotFoundError(path)
            self.mkdir(parent, parents=True)
        if not self.writable(p):
            raise PermissionError(path)

    def remove(self, path: str, *, recursive: bool = False) -> None:
        p = self.norm(path)
        with self._lock:
            if p in self._files:
                if not self.writable(p):
                    raise PermissionError(path)
                del self._files[p]
                return
            if p not in self._dirs:
                raise FileNotFoundError(path)
            if not recursive:
                raise IsADirectoryError(path)
            denied = False
            for f in [f for f in self._files if f.startswith(p.rstrip("/") + "/")]:
                if self.writable(f):
                    del self._files[f]
                else:
                    denied = True
            for d in sorted((d for d in self._dirs if d.startswith(p.rstrip("/") + "/")), reverse=True):
                if d not in _PROTECTED and d not in _BASE_DIRS and self.writable(d):
                    del self._dirs[d]
                else:
                    denied = True
            if p in _PROTECTED or p in _BASE_DIRS or not self.writable(p):
                denied = True
            else:
                del self._dirs[p]
            if denied:
                raise PermissionError(path)

    def listdir(self, path: str) -> list[str]:
        p = self.norm(path)
        with self._lock:
            if p not in self._dirs:
                raise (NotADirectoryError if p in self._files else FileNotFoundError)(path)
            prefix = p.rstrip("/") + "/"
            names = {q[len(prefix):] for q in list(self._dirs) + list(self._files)
                     if q.startswith(prefix) and q != p and "/" not in q[len(prefix):]}
            return sorted(names)

    def stat(self, path: str) -> tuple[int, int, int] | None:
        """(mode, size, mtime), or None when absent."""
        p = self.norm(path)
        with self._lock:
            if p in self._dirs:
                return (_DIR_MODE, 4096, self._dirs[p])
            f = self._files.get(p)
            if f is not None:
                return (f.mode, len(f.data), f.mtime)
            if p in ("/dev/null", "/dev/tty"):
                return (0o020666, 0, 0)
            return None

    def snapshot(self) -> dict[str, int]:
        """Every file with its size: what tests compare to prove nothing was touched."""
        with self._lock:
            return {p: len(f.data) for p, f in sorted(self._files.items())}
