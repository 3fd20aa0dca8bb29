"""Timing our loop from outside, for `vlagent bench perf` and the soak: the model that runs its real
forward each step but answers from a script (`ScriptedForward`), and a probe that times a device's
calls and the image path in place (`Probe`), so the Agent runs unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from ..models.base import Completion


class ScriptedForward:
    """The real model forward each step (its timings and usage), then the scripted reply as text."""

    def __init__(self, inner: Any, max_new_tokens: int) -> None:
        self.inner, self.max_new_tokens = inner, max_new_tokens
        self.replies: list[str] = []
        self.last: tuple[list, list | None] = ([], None)  # the last step's messages and tools
        self.coordinate_system = inner.coordinate_system
        self.min_pixels, self.max_pixels = inner.min_pixels, inner.max_pixels
        self.description = getattr(inner, "description", type(inner).__name__)

    def prepare_image(self, image: Any) -> None:
        self.inner.prepare_image(image)

    def generate(self, messages: list, tools: list | None = None, **options: Any) -> Completion:
        n = self.max_new_tokens
        self.last = (messages, tools)
        done = self.inner.generate(messages, tools, max_new_tokens=n, min_new_tokens=n, stop=[])
        return Completion(text=self.replies.pop(0) if self.replies else "", usage=done.usage,
                          timings=done.timings)


class Probe:
    """Times a device's calls in place (instance attributes shadow its methods) until restore()."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.image_seconds = 0.0  # fit_to_model (loop) + pixel_values (model): the image path
        self.captures: list[tuple[float, float]] = []  # (seconds, of which in the transport)
        self.io_outside_settle = 0.0
        self._acted = False
        self._transfer = 0.0
        screenshot, execute, run = device.screenshot, device.execute, getattr(device, "_run", None)

        def timed_screenshot(*a: Any, **k: Any) -> Any:
            self._transfer, start = 0.0, time.perf_counter()
            image = screenshot(*a, **k)
            took = time.perf_counter() - start
            self.captures.append((took, min(self._transfer, took)))
            if not self._acted:  # after the step's action, captures belong to settle
                self.io_outside_settle += took
            return image

        def timed_execute(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return execute(*a, **k)
            finally:
                self._acted = True
                self.io_outside_settle += time.perf_counter() - start

        def timed_run(service: bytes, *a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return run(service, *a, **k)
            finally:
                if service.startswith(b"exec:screencap"):
                    self._transfer += time.perf_counter() - start

        device.screenshot, device.execute = timed_screenshot, timed_execute
        if run is not None:
            device._run = timed_run

        # The image path: the steps' fit_to_model and the model's vision.pixel_values, looked up
        # as module globals at call time, so they are timed by rebinding them until restore().
        from .. import stepping, vision

        self._globals = [(stepping, "fit_to_model", stepping.fit_to_model), (vision, "pixel_values", vision.pixel_values)]
        for module, name, function in self._globals:
            setattr(module, name, self._timed(function))

    def _timed(self, function: Any) -> Any:
        def timed(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                self.image_seconds += time.perf_counter() - start
        return timed

    def next_step(self) -> None:
        self._acted, self.io_outside_settle, self.image_seconds = False, 0.0, 0.0

    def restore(self) -> None:
        for name in ("screenshot", "execute", "_run"):
            self.device.__dict__.pop(name, None)
        for module, name, function in self._globals:
            setattr(module, name, function)
