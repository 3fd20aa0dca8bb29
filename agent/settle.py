"""Wait until the screen stops changing, with a bound, instead of sleeping a fixed time."""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future
from typing import Any, Callable, TypeVar

from PIL import Image, ImageChops

from .guards import thumbnail

T = TypeVar("T")


def wait_until_stable(
    capture: Callable[[], Image.Image],
    *,
    timeout: float = 2.0,
    interval: float = 0.1,
    tolerance: float = 1.0,
) -> tuple[Image.Image, bool]:
    """Capture until two frames in a row match; return (last frame, whether it settled).

    The last frame is meant to be the next observation, so a stable screen costs two captures
    and one `interval`. `tolerance` is the mean absolute grey-level difference allowed.
    """
    frame, settled, _ = settle_and_prepare(capture, None, None, timeout=timeout, interval=interval,
                                           tolerance=tolerance)
    return frame, settled


def settle_and_prepare(
    capture: Callable[[], Image.Image],
    prepare: Callable[[Image.Image], T] | None,
    executor: Executor | None,
    *,
    timeout: float = 2.0,
    interval: float = 0.1,
    tolerance: float = 1.0,
    captured: list[Image.Image] | None = None,
) -> tuple[Image.Image, bool, "Future[T] | None"]:
    """As `wait_until_stable`, and `prepare(frame)` runs on `executor` while the next frame is
    awaited: when two frames match exactly (as thumbnails), the first of the pair is returned with
    its preparation, usually done by then, so the work the next step needs overlaps the wait
    instead of following it; when they only match within `tolerance`, the second is returned,
    prepared after.

    Returns (frame, whether it settled, the Future of prepare(frame), or None without prepare).
    captured: a list every frame captured is appended to, in order (what happened meanwhile).
    """
    if captured is not None:
        capture = _keeping(capture, captured)
    deadline = time.monotonic() + timeout
    frame = capture()
    job = _start(executor, prepare, frame)
    previous = thumbnail(frame)
    while True:
        if time.monotonic() >= deadline:
            return frame, False, job
        time.sleep(interval)
        candidate = capture()
        current = thumbnail(candidate)
        if difference(previous, current) <= tolerance:
            if prepare is None:
                return candidate, True, None
            if current.tobytes() == previous.tobytes():
                return frame, True, job
            # Alike, but still moving: an eased transition's tail (the last ~100 ms of an activity
            # opening move a pixel or two) is within the tolerance before it ends. The later frame
            # is the nearer to the settled screen, so it is the one returned, prepared anew.
            if job is not None:
                job.cancel()
            return candidate, True, _start(executor, prepare, candidate)
        if job is not None:
            job.cancel()  # the screen moved on; a preparation not yet started is not needed
        frame, previous = candidate, current
        job = _start(executor, prepare, frame)


def _keeping(capture: Callable[[], Image.Image], into: list[Image.Image]) -> Callable[[], Image.Image]:
    def kept() -> Image.Image:
        frame = capture()
        into.append(frame)
        return frame

    return kept


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute grey-level difference of two same-size grey thumbnails (see `thumbnail`)."""
    histogram = ImageChops.difference(a, b).histogram()
    return sum(level * count for level, count in enumerate(histogram)) / max(1, a.width * a.height)


def _start(executor: Executor | None, prepare: Callable[[Image.Image], Any] | None, frame: Image.Image):
    if prepare is None:
        return None
    if executor is None:
        raise ValueError("settle_and_prepare needs an executor to prepare frames on")
    return executor.submit(prepare, frame)
