"""Start a real X server (Xvfb) for the desktop tests, and carve it into RandR monitors.

`Xvfb -displayfd FD` picks a free display number itself and writes it to FD once it accepts
connections, so there is no guessing of numbers in /tmp/.X11-unix and no sleep-and-poll.
`-noreset` matters: without it the server resets whenever its last client disconnects, and
that throws away monitors defined with `xrandr --setmonitor`.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from system_packages import INSTALL_HINT


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


@dataclass
class Xvfb:
    display: str  # ":N"
    width: int
    height: int
    process: subprocess.Popen
    xauthority: str

    @property
    def env(self) -> dict[str, str]:
        """os.environ pointed at this server, for subprocesses."""
        return {**os.environ, "DISPLAY": self.display, "XAUTHORITY": self.xauthority}

    def set_monitors(self, monitors: Sequence[tuple[str, int, int, int, int]]) -> None:
        """Define RandR 1.5 monitors as (name, width, height, left, top).

        The first one takes over the server's only output ("screen"), so the automatic
        monitor covering the whole framebuffer disappears and mss lists exactly these, in order.
        """
        for i, (name, w, h, x, y) in enumerate(monitors):
            # Physical size in mm at 96 dpi; RandR wants one, its value does not matter here.
            geometry = f"{w}/{round(w * 25.4 / 96)}x{h}/{round(h * 25.4 / 96)}+{x}+{y}"
            subprocess.run(
                ["xrandr", "--setmonitor", name, geometry, "screen" if i == 0 else "none"],
                env=self.env, check=True, capture_output=True, timeout=10,
            )


@contextmanager
def xvfb(width: int = 1280, height: int = 800, depth: int = 24, timeout: float = 10.0) -> Iterator[Xvfb]:
    """Run Xvfb for the duration of the block; raises FileNotFoundError without Xvfb."""
    if shutil.which("Xvfb") is None:
        raise FileNotFoundError(f"Xvfb is not installed ({INSTALL_HINT})")
    # python-xlib (under pyautogui) refuses to connect without an Xauthority file, even to a
    # server with no access control; an empty one satisfies it.
    auth_dir = tempfile.mkdtemp(prefix="vlagent-xauth-")
    xauthority = str(Path(auth_dir) / "Xauthority")
    Path(xauthority).touch()
    log = open(Path(auth_dir) / "xvfb.log", "w+b")  # a file, not a pipe nobody drains
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x{depth}",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=log,
    )
    os.close(write_fd)
    try:
        number = _read_display_number(read_fd, proc, log, timeout)
        yield Xvfb(f":{number}", width, height, proc, xauthority)
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(auth_dir, ignore_errors=True)


def _read_display_number(fd: int, proc: subprocess.Popen, log, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            proc.wait()
            log.seek(0)
            err = log.read().decode(errors="replace")
            raise RuntimeError(f"Xvfb did not start within {timeout}s: {err.strip()[-500:]}")
        ready, _, _ = select.select([fd], [], [], min(left, 0.2))
        if ready:
            chunk = os.read(fd, 64)
            if not chunk:  # Xvfb closed the pipe: it died
                proc.wait(timeout=5)
                continue
            data += chunk
    return int(data.strip())


@contextmanager
def display_env(server: Xvfb) -> Iterator[None]:
    """Point this process at `server` (DISPLAY, XAUTHORITY), restoring the old values after."""
    old = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
    os.environ["DISPLAY"], os.environ["XAUTHORITY"] = server.display, server.xauthority
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def wait_for_app(state: Path, app: subprocess.Popen, timeout: float = 10) -> dict:
    """The state a Tk test app writes to `state` (JSON, replaced atomically) once it reports
    `ready`; fails if the app exits or takes longer than `timeout` seconds."""
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert app.poll() is None, "the Tk app exited"
        try:
            data = json.loads(state.read_text())
            if data.get("ready"):
                return data
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    raise AssertionError("the Tk app did not start")
