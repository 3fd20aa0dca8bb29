"""The naive loop `vlagent bench perf` compares against: one step built only from stock calls.

What a first agent script does, faithfully: adbutils' `device.screenshot()` (`screencap -p`, a
PNG encoded on the phone and decoded here), the full-size PIL image handed to the processor at
its default settings together with the whole prompt re-rendered and re-encoded, `generate`
without any cache, one `adb shell input ...` per action, a fixed one-second sleep after it, and
a record written the plain way (a default-compression PNG and the whole history as JSON).

The same prompt content as the agent's (system prompt, tool schema, goal, older steps one line
each, the screens of the agent's window of recent steps with their replies, the current screen)
goes in, and the same scripted reply is parsed and acted on, so the two loops differ only
in mechanics. A rig (`open_rig`) holds one device twice, as our driver and through the stock
calls, with the replies both loops act on and the undo that hands the device back to our loop.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from PIL import Image

from ..coords import Screen
from ..errors import UserError
from ..parsing import parse_tool_calls
from ..prompts import render, render_messages
from ..ui_tools import ui_tool_schema

SLEEP_AFTER_ACTION = 1.0
QUESTION = "This is the current screen. What is the next action?"


class NaiveLoop:
    """One stock step at a time: `step(reply)` captures, asks the model, acts on `reply`.

    capture() -> PIL image (decoded), transfer_seconds() -> seconds the last capture spent in
    the transport, act(text) -> runs the parsed call with one stock command, all from the rig.
    """

    def __init__(
        self,
        *,
        capture: Callable[[], Image.Image],
        transfer_seconds: Callable[[], float],
        act: Callable[[Any, Screen], None],
        device_size: tuple[int, int],
        hf_model: Any,
        processor: Any,
        goal: str,
        ui_tool: str,
        coordinate_system: str,
        max_new_tokens: int,
        out_dir: Path,
    ) -> None:
        self.capture, self.transfer_seconds, self.act = capture, transfer_seconds, act
        self.device_size = device_size
        self.hf_model, self.processor = hf_model, processor
        self.goal, self.ui_tool, self.system = goal, ui_tool, coordinate_system
        self.max_new_tokens = max_new_tokens
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.history: list[dict[str, Any]] = []
        self._frames: dict[int, Image.Image] = {}  # full-size screens of the agent's window, by step
        # The agent's screen window (which steps are shown in full), so both prompts hold the same.
        from ..conversation import Conversation
        from ..guards import Secrets

        self._window = Conversation(goal, ui_tool=ui_tool, system=coordinate_system, history_images=2,
                                    secrets=Secrets({}))
        # The processor's image half, timed in place: `preprocess_image` vs the whole stage.
        self.image_seconds = 0.0
        if not isinstance(processor.image_processor, _Timed):
            processor.image_processor = _Timed(processor.image_processor, self)

    def step(self, reply: str) -> dict[str, float]:
        """Seconds per stage for one step, plus `step` (wall) and `model` (prefill + decode)."""
        t: dict[str, float] = {}
        begin = time.perf_counter()

        mark = time.perf_counter()
        frame = self.capture()
        t["capture"] = time.perf_counter() - mark
        t["decode"] = max(0.0, t["capture"] - self.transfer_seconds())

        mark = time.perf_counter()
        screen = Screen(image_size=frame.size, device_size=self.device_size)
        self.image_seconds = 0.0
        inputs = self._inputs(frame, screen)
        t["preprocess"] = time.perf_counter() - mark
        t["preprocess_image"] = self.image_seconds

        t["prompt_tokens"] = float(inputs["input_ids"].shape[1])
        prefill, decode, tokens = self._generate(inputs)
        t["prefill"], t["model_decode"] = prefill, decode
        t["decode_tokens_per_s"] = (tokens - 1) / decode if decode > 0 and tokens > 1 else 0.0
        t["model"] = prefill + decode

        mark = time.perf_counter()
        calls = parse_tool_calls(reply)
        t["parse"] = time.perf_counter() - mark

        mark = time.perf_counter()
        for call in calls:
            self.act(call, screen)
        t["act"] = time.perf_counter() - mark

        mark = time.perf_counter()
        time.sleep(SLEEP_AFTER_ACTION)
        t["settle"] = time.perf_counter() - mark

        mark = time.perf_counter()
        index = len(self.history)
        frame.save(self.out_dir / f"step_{index:03d}.png")  # Pillow's default compression
        summary = "; ".join(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in calls)
        self.history.append({"index": index, "reply": reply, "calls": [c.arguments for c in calls],
                             "summary": f"{summary or 'no valid call'} -> ok"[:300]})
        (self.out_dir / "history.json").write_text(json.dumps(self.history, indent=1))
        t["record"] = time.perf_counter() - mark

        self._frames[index] = frame
        start = self._window.window_start(index + 1)
        self._frames = {i: f for i, f in self._frames.items() if i >= start}
        t["step"] = time.perf_counter() - begin
        return t

    def _inputs(self, frame: Image.Image, screen: Screen) -> Any:
        """The whole prompt, rendered and encoded from scratch, full-size images at defaults."""
        template = "desktop_system" if self.ui_tool == "computer_use" else "phone_system"
        intro = f"The user's task: {self.goal}"
        start = self._window.window_start(len(self.history))
        older, recent = self.history[:start], self.history[start:]
        if older:  # as the agent does: older steps one line each, the window's in full
            lines = [f"{old['index'] + 1}. {old['summary']}" for old in older]
            intro += "\n\nSteps taken so far (oldest first):\n" + "\n".join(lines)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": render(template, units=screen.units(self.system))},
            {"role": "user", "content": intro},
        ]
        images = []
        for old in recent:
            past = self._frames[old["index"]]
            messages += [
                {"role": "user", "content": [{"type": "image", "image": past}, {"type": "text", "text": QUESTION}]},
                {"role": "assistant", "content": old["reply"]},
                {"role": "tool", "name": self.ui_tool, "content": "ok"},
            ]
            images.append(past)
        messages.append({"role": "user", "content": [
            {"type": "image", "image": frame}, {"type": "text", "text": QUESTION},
        ]})
        images.append(frame)
        tools = [ui_tool_schema(self.ui_tool, screen, self.system)]
        prompt = self.processor.apply_chat_template(
            render_messages(messages, tools, "hermes"), tokenize=False, add_generation_prompt=True
        )
        return self.processor(text=[prompt], images=images, return_tensors="pt")

    def _generate(self, inputs: Any) -> tuple[float, float, int]:
        import torch

        from ..models.transformers_model import first_token_timer

        timer = first_token_timer()
        device = getattr(self.hf_model, "device", "cpu")
        inputs = inputs.to(device)
        begin = time.perf_counter()
        with torch.inference_mode():
            out = self.hf_model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, min_new_tokens=self.max_new_tokens,
                do_sample=False, stopping_criteria=[timer],
            )
        tokens = len(out[0, inputs["input_ids"].shape[1]:].tolist())
        end = time.perf_counter()
        first = timer.first or end
        return first - begin, end - first, tokens


# -- rigs: one device as our driver and through the stock calls ----------------------------------

@contextlib.contextmanager
def open_rig(spec: str) -> Iterator[Any]:
    from ..specs import open_device

    kind = spec.partition(":")[0]
    if kind not in ("sim", "adb", "desktop"):
        raise UserError(f"bench perf runs on sim, adb[:SERIAL] or desktop[:N], not {spec!r}")
    with open_device(spec) as device:
        yield (DesktopRig if kind == "desktop" else AdbRig)(device)


class Rig:
    ui_tool = "mobile_use"
    device: Any
    description: str

    def naive_loop(self, hf: Any, goal: str, max_new_tokens: int, out: Path) -> Any:
        return NaiveLoop(  # its own (shallow) copy of the processor: it times its image half
            capture=self.naive_capture, transfer_seconds=lambda: self._transfer, act=self._naive_act,
            device_size=tuple(self.device.size), hf_model=hf.hf_model, processor=copy.copy(hf.processor),
            goal=goal, ui_tool=self.ui_tool, coordinate_system=hf.coordinate_system,
            max_new_tokens=max_new_tokens, out_dir=out,
        )

    def untimed_capture(self) -> Any:
        # The class's method, past the probe our loop's instance carries: not on our clock.
        return type(self.device).screenshot(self.device)

    def _wait_until_shows(self, reference: Any, timeout: float = 5.0) -> None:
        from ..guards import thumbnail
        from ..settle import difference

        want, deadline = thumbnail(reference), time.monotonic() + timeout
        while time.monotonic() < deadline:
            if difference(want, thumbnail(self.untimed_capture())) <= 1.0:
                return
            time.sleep(0.05)
        raise RuntimeError("bench perf: the device did not come back to our loop's screen")

    def _naive_act(self, call: Any, screen: Any) -> None:
        from ..ui_tools import to_action

        self.naive_execute(to_action(call.name, call.arguments, screen, self.system))

    def _model_point(self, point: tuple[int, int], model: Any) -> tuple[int, int]:
        """A device point in the model's coordinates (Qwen2-VL 0-1000, Qwen2.5-VL resized pixels)."""
        from ..coords import smart_resize

        w, h = self.device.size
        if model.coordinate_system == "relative-1000":
            return round(point[0] * 1000 / w), round(point[1] * 1000 / h)
        mh, mw = smart_resize(h, w, min_pixels=model.min_pixels, max_pixels=model.max_pixels)
        return round(point[0] * mw / w), round(point[1] * mh / h)


class AdbRig(Rig):
    """A phone (SimPhone or real) through our AdbDevice, and the same phone through adbutils:
    taps its Settings icon and presses Home, in turn."""

    def __init__(self, device: Any) -> None:
        import adbutils

        self.device = device
        port = int(getattr(device, "_adb_port", None) or os.environ.get("ANDROID_ADB_SERVER_PORT") or 5037)
        host = getattr(device, "_adb_host", None) or "127.0.0.1"
        self.stock = adbutils.AdbClient(host=host, port=port).device(serial=device.serial)
        self.description = device.description
        self._transfer = 0.0
        shell = self.stock.shell

        def timed_shell(*a: Any, **k: Any) -> Any:  # adbutils' screenshot() goes through .shell
            start = time.perf_counter()
            try:
                return shell(*a, **k)
            finally:
                self._transfer = time.perf_counter() - start

        self.stock.shell = timed_shell
        self.reset()
        self.target = self._center_of("Settings", device.ui_tree())

    @staticmethod
    def _center_of(label: str, xml: str) -> tuple[int, int]:
        match = re.search(rf'<node [^>]*text="{label}"[^>]*bounds="\[(\d+),(\d+)\]\[(\d+),(\d+)\]"', xml)
        if not match:
            raise UserError(f"bench perf taps the '{label}' icon of the home screen and found none")
        left, top, right, bottom = map(int, match.groups())
        return (left + right) // 2, (top + bottom) // 2

    def reset(self) -> None:
        self.stock.shell("input keyevent KEYCODE_HOME")
        time.sleep(0.3)

    def replies(self, n: int, model: Any) -> list[str]:
        """Our loop's script from the home screen: open Settings, Home, open Settings, ..."""
        return [self.reply(i % 2 == 0, model) for i in range(n)]

    def naive_reply(self, index: int, model: Any) -> str:
        """After our step `index` Settings is open (even) or Home shows (odd): the other one."""
        return self.reply(index % 2 == 1, model)

    def undo_naive(self, index: int, before: Any) -> None:
        if index % 2 == 0:  # the naive step went Home from Settings: open Settings again
            self.stock.shell(f"input tap {self.target[0]} {self.target[1]}")
        else:
            self.stock.shell("input keyevent KEYCODE_HOME")
        self._wait_until_shows(before)

    def reply(self, tap: bool, model: Any) -> str:
        self.system = model.coordinate_system
        x, y = self._model_point(self.target, model)
        call = (f'{{"name": "mobile_use", "arguments": {{"action": "click", "coordinate": [{x}, {y}]}}}}'
                if tap else '{"name": "mobile_use", "arguments": {"action": "system_button", "button": "Home"}}')
        return f"<tool_call>\n{call}\n</tool_call>"

    def naive_capture(self) -> Any:
        self._transfer = 0.0
        image = self.stock.screenshot()  # `screencap -p`; Pillow decodes lazily...
        image.load()  # ...so decode here, inside the capture it belongs to
        return image

    def naive_execute(self, action: Any) -> None:
        from .. import actions as A

        if isinstance(action, A.Tap):
            self.stock.shell(f"input tap {action.x} {action.y}")
        elif isinstance(action, A.SystemButton):
            self.stock.shell(f"input keyevent KEYCODE_{action.button.upper()}")
        else:
            raise ValueError(f"the naive loop does not script {action!r}")


class DesktopRig(Rig):
    """This desktop through DesktopDevice (mss, pyautogui), and through pyautogui alone: moves
    the pointer between two points, which changes nothing on a real desktop."""

    ui_tool = "computer_use"

    def __init__(self, device: Any) -> None:
        import pyautogui

        self.device, self.stock = device, pyautogui
        self._grab: Any = None
        self.description = device.description
        self._transfer = 0.0
        w, h = device.size
        self.points = [(w // 3, h // 2), (2 * w // 3, h // 2)]

    def reset(self) -> None:
        pass

    def replies(self, n: int, model: Any) -> list[str]:
        return [self.reply(self.points[i % 2], model) for i in range(n)]

    def naive_reply(self, index: int, model: Any) -> str:
        return self.reply(self.points[(index + 1) % 2], model)

    def undo_naive(self, index: int, before: Any) -> None:
        self.stock.moveTo(*self.points[index % 2])
        self._wait_until_shows(before)

    def reply(self, point: tuple[int, int], model: Any) -> str:
        self.system = model.coordinate_system
        x, y = self._model_point(point, model)
        return (f'<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "mouse_move", '
                f'"coordinate": [{x}, {y}]}}}}\n</tool_call>')

    def naive_capture(self) -> Any:
        """pyautogui.screenshot(); where pyscreeze has no backend on X11 (it wants scrot or
        gnome-screenshot), the Pillow `ImageGrab.grab()` it would call with gnome-screenshot."""
        if self._grab is None:
            try:
                return self.stock.screenshot()
            except Exception:  # noqa: BLE001 - pyscreeze raises bare Exceptions for "no backend"
                from PIL import ImageGrab

                self._grab = ImageGrab.grab
        try:
            return self._grab()
        except OSError as e:
            raise UserError(f"the naive desktop loop cannot take a screenshot: {e}") from None

    def naive_execute(self, action: Any) -> None:
        self.stock.moveTo(action.x, action.y)


class _Timed:
    """An image processor that adds the seconds of each call to `owner.image_seconds`."""

    def __init__(self, inner: Any, owner: NaiveLoop) -> None:
        self.__dict__.update(_inner=inner, _owner=owner)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._inner(*args, **kwargs)
        finally:
            self._owner.image_seconds += time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
