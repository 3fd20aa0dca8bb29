"""A typed secret never reaches pixels: not the saved screenshots, not the images sent to the model.

The same scripted run goes twice on a fresh SimPhone (through the real adb binary), typing `{{PIN}}`
into a new note's title, with PIN = 1234 and then 9876. Everything pixel-shaped the run leaves
behind (every saved step screenshot) or sends out (every image in every request the model got)
must be identical between the two runs. If any of it showed the value, the two runs would differ.

The positive control: the raw frames of the two phones after the typing, captured with
`device.screenshot()` (the loop's masks do not apply), do differ, and only inside the field's
rectangle. So the comparison can fail, and the mask sits on the field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from vlagent import Agent, ScriptedModel
from vlagent import actions as A
from vlagent.secret_masks import MASK_COLOUR

pytestmark = pytest.mark.adb

W, H = 540, 1200
NOTES = "com.simphone.notes:id/"


def hermes(tool: str = "mobile_use", /, **arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': tool, 'arguments': arguments})}\n</tool_call>"


SCRIPT = [
    hermes(action="type", text="{{PIN}}"),              # step 0: the value goes into the title field
    hermes(action="wait", time=0.1),                      # step 1: sees the field holding it (masked)
    hermes(action="system_button", button="Home"),        # step 2: the field leaves the screen
    hermes(action="terminate", status="success"),         # step 3: the launcher, unmasked
]


def _bounds(xml: str, resource_id: str) -> tuple[int, int, int, int]:
    match = re.search(rf'resource-id="{re.escape(resource_id)}"[^>]*bounds="\[(\d+),(\d+)\]\[(\d+),(\d+)\]"', xml)
    assert match, f"no {resource_id} on the screen"
    return tuple(map(int, match.groups()))  # type: ignore[return-value]


def _pixels(image: Image.Image) -> tuple:
    return image.mode, image.size, image.tobytes()


def run_once(pin: str, out: Path) -> dict:
    """One run on a fresh phone; returns what it left and sent, and the control's raw frame."""
    from vlagent.devices import AdbDevice
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    with SimPhoneServer(width=W, height=H, density=210) as server:
        connect_adb(server)
        try:
            with AdbDevice(server.serial, ime_settle=0) as device:
                device.open_app("Notes")
                l, t, r, b = _bounds(device.ui_tree(), NOTES + "new_note")
                device.execute(A.Tap(x=(l + r) // 2, y=(t + b) // 2))
                title = _bounds(device.ui_tree(), NOTES + "title")
                raw: dict[str, object] = {}

                def after(step) -> None:
                    if step.index == 0:  # the typing is done and the screen has settled
                        state = json.loads(device.shell("cmd simphone state"))
                        raw["typed"] = state["focused_field"]["text"]
                        raw["frame"] = device.screenshot()

                model = ScriptedModel(SCRIPT)
                result = Agent(model, device, secrets={"PIN": pin}, out_dir=out, on_step=after).run(
                    "Write my PIN as a note's title")
                raw["launcher"] = device.screenshot()
        finally:
            disconnect_adb(server)
    assert result.status == "success" and result.steps == len(SCRIPT)
    assert raw["typed"] == pin, "the secret was really typed on the phone"
    sent = [_pixels(part["image"]) for messages, _ in model.requests for m in messages
            if isinstance(m["content"], list) for part in m["content"] if part.get("type") == "image"]
    saved = {}
    for path in sorted(out.glob("step_*.png")):
        with Image.open(path) as image:
            saved[path.name] = _pixels(image.convert("RGB"))
    return {"sent": sent, "saved": saved, "title": title, **raw}


def _diff_box(a: Image.Image, b: Image.Image):
    return ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox()


def test_the_typed_secret_is_in_no_saved_or_sent_pixels(adb_port, tmp_path: Path) -> None:
    one, two = run_once("1234", tmp_path / "a"), run_once("9876", tmp_path / "b")

    # The control: the phones themselves show different values, inside the title field only.
    diff = _diff_box(one["frame"], two["frame"])
    assert diff is not None, "the raw frames after typing should differ: the test could not fail"
    l, t, r, b = one["title"]
    assert l <= diff[0] and t <= diff[1] and diff[2] <= r and diff[3] <= b, (diff, one["title"])

    # The runs left and sent the same pixels: no trace of either value.
    assert list(one["saved"]) == [f"step_{i:03d}.png" for i in range(len(SCRIPT))]
    assert len(one["sent"]) >= len(SCRIPT)  # every request held an image, steps 1-3 two of them
    for name in one["saved"]:
        assert one["saved"][name] == two["saved"][name], f"{name} differs between the two secrets"
    assert len(one["sent"]) == len(two["sent"])
    for i, (a, b_) in enumerate(zip(one["sent"], two["sent"])):
        assert a == b_, f"image {i} sent to the model differs between the two secrets"

    # Masked with the flat colour over the field while it is on the screen...
    grey = Image.frombytes("RGB", one["saved"]["step_001.png"][1], one["saved"]["step_001.png"][2])
    assert grey.getpixel(((l + r) // 2, (t + b) // 2)) == Image.new("RGB", (1, 1), MASK_COLOUR).getpixel((0, 0))
    # ...and no more once it is gone: the last step's frame is the launcher as the phone shows it.
    assert one["saved"]["step_003.png"] == _pixels(one["launcher"].convert("RGB"))


def test_without_a_ui_tree_a_band_around_the_clicked_point_is_masked_in_frame_pixels(tmp_path, caplog) -> None:
    """A tree-less device whose frames are twice its pointer space (HiDPI). The band is a box in
    pointer units, scaled to the frame. With nothing clicked before the typing, there is nothing
    to mask, and a warning says so."""
    from vlagent.testing import ImageDevice

    white = Image.new("RGB", (200, 400), "white")
    grey = Image.new("RGB", (1, 1), MASK_COLOUR).getpixel((0, 0))
    script = [hermes("computer_use", action="left_click", coordinate=[500, 500]),
              hermes("computer_use", action="type", text="{{PIN}}"),
              hermes("computer_use", action="terminate", status="success")]
    device = ImageDevice([white] * 4, size=(100, 200), kind="desktop")
    Agent(ScriptedModel(script), device, secrets={"PIN": "1234"}, out_dir=tmp_path / "a").run("type")
    with Image.open(tmp_path / "a" / "step_002.png") as frame:
        column = [frame.getpixel((100, y)) for y in range(400)]
        row = {frame.getpixel((x, 200)) for x in range(200)}
    masked = [y for y, p in enumerate(column) if p == grey]
    assert masked == list(range(152, 248)), "rows 76-124 of the pointer space, x2 in the frame"
    assert row == {grey}, "the band spans the whole width"

    device = ImageDevice([white] * 4, kind="desktop")
    Agent(ScriptedModel(script[1:]), device, secrets={"PIN": "1234"}, out_dir=tmp_path / "b").run("type")
    assert "no known field" in caplog.text
    with Image.open(tmp_path / "b" / "step_001.png") as frame:
        assert frame.convert("RGB").getcolors() == [(200 * 400, (255, 255, 255))]
