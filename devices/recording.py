"""Screen recordings as MP4 files: a phone's through `screenrecord`, a desktop's through mss frames.

`AdbDevice.record` and `DesktopDevice.record` call these. Each returns the path of an MP4 the
caller owns (a new temporary file unless given one); `vlagent.video.Video(path)` shows it to a
model.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError

MAX_PHONE_SECONDS = 180  # screenrecord's --time-limit ceiling


def _target(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    fd, name = tempfile.mkstemp(prefix="vlagent-recording-", suffix=".mp4")
    os.close(fd)
    return Path(name)


def record_phone(device: Any, seconds: float, path: str | Path | None = None) -> Path:
    """`adb shell screenrecord --time-limit S` into a temporary file on the phone, `adb pull`ed to
    `path` and removed from the phone. Whole seconds (screenrecord's unit), 1 to 180."""
    if not 0 < seconds <= MAX_PHONE_SECONDS:
        raise UserError(f"a phone records 1 to {MAX_PHONE_SECONDS} seconds, not {seconds}")
    limit = max(1, math.ceil(seconds))
    remote = f"/sdcard/vlagent-recording-{os.getpid()}-{time.monotonic_ns()}.mp4"
    local = _target(path)
    try:
        # blocks until the time limit; the file is finished (moov written) when it returns
        device.shell(f"screenrecord --time-limit {limit} {remote}", timeout=limit + device.command_timeout,
                     idempotent=False)
        device.pull(remote, str(local))
    except BaseException:
        if path is None:
            local.unlink(missing_ok=True)
        raise
    finally:
        device.shell(f"rm -f {remote}", check=False)
    return local


def record_frames(grab: Callable[[], Any], seconds: float, fps: float, path: str | Path | None = None) -> Path:
    """`grab()` called `fps` times a second for `seconds` (on a steady clock: a slow grab takes
    from the wait before the next, never adds up), the frames written as an MP4 at `fps`."""
    from ..video_io import write_mp4

    if seconds <= 0 or fps <= 0:
        raise UserError(f"record needs positive seconds and fps, not {seconds} s at {fps} fps")
    count = max(1, round(seconds * fps))
    frames, start = [], time.monotonic()
    for i in range(count):
        delay = start + i / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        frames.append(grab())
    local = _target(path)
    write_mp4(frames, fps, local)
    return local
