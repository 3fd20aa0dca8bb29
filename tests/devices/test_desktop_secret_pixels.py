"""A secret typed on a desktop stays out of the saved and sent pixels (a desktop has no UI tree).

The run clicks the Tk form's entry (desktop_app.py) on a real Xvfb, types `{{PIN}}` and looks
again. It runs twice, with PIN = 1234 and then 9876. Without a tree, the loop masks a band the
width of the screen around the point clicked before typing (vlagent/secret_masks.py). The saved
screenshots and the images the model got must be identical between the two runs. The control:
the raw frames after typing differ, inside the entry.

The agent runs in a subprocess with DISPLAY pointed at this test's own Xvfb: pyautogui binds to
a display once, at import, and test_desktop.py's module-wide server may have claimed it in this
process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from system_packages import INSTALL_HINT
from xvfb import missing_tools, wait_for_app, xvfb

pytestmark = pytest.mark.desktop

APP = Path(__file__).with_name("desktop_app.py")
SCREEN = (1024, 768)

AGENT = """
import json, sys
from pathlib import Path
from vlagent import Agent, ScriptedModel
from vlagent.devices import DesktopDevice

cfg = json.load(sys.stdin)
out = Path(cfg["out"])
model = ScriptedModel(cfg["script"])
with DesktopDevice() as device:
    def after(step):
        if step.index == 1:  # typed, and the screen has settled
            device.screenshot().save(out / "raw-after-typing.png")
    result = Agent(model, device, secrets={"PIN": cfg["pin"]}, out_dir=out / "run", on_step=after).run("Type my PIN")
sent = [part["image"] for messages, _ in model.requests for m in messages
        if isinstance(m["content"], list) for part in m["content"] if part.get("type") == "image"]
for i, image in enumerate(sent):
    image.save(out / f"sent-{i:02d}.png")
print(result.status)
"""


def hermes(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def run_once(pin: str, out: Path) -> dict:
    with xvfb(*SCREEN) as server:
        state = out / "app.json"
        out.mkdir()
        app = subprocess.Popen([sys.executable, str(APP), str(state), "100", "100"], env=server.env)
        try:
            entry = tuple(wait_for_app(state, app)["widgets"]["entry"])
            centre = (entry[0] + entry[2] // 2, entry[1] + entry[3] // 2)
            relative = [round(centre[0] * 1000 / SCREEN[0]), round(centre[1] * 1000 / SCREEN[1])]
            script = [hermes(action="left_click", coordinate=relative), hermes(action="type", text="{{PIN}}"),
                      hermes(action="wait", time=0.2), hermes(action="terminate", status="success")]
            proc = subprocess.run([sys.executable, "-c", AGENT], input=json.dumps(
                {"out": str(out), "script": script, "pin": pin}).encode(), env=server.env,
                capture_output=True, timeout=120)
            assert proc.returncode == 0 and proc.stdout.split()[-1] == b"success", proc.stderr.decode()[-2000:]
            typed = json.loads(state.read_text())["entry"]
        finally:
            app.terminate()
            app.wait(timeout=5)
    assert typed == pin, "the secret was really typed into the entry"
    return {
        "entry": entry,
        "raw": Image.open(out / "raw-after-typing.png").convert("RGB"),
        "saved": {p.name: _pixels(p) for p in sorted((out / "run").glob("step_*.png"))},
        "sent": [_pixels(p) for p in sorted(out.glob("sent-*.png"))],
    }



def _pixels(path: Path) -> tuple:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        return rgb.size, rgb.tobytes()


def test_a_secret_typed_on_a_desktop_is_in_no_saved_or_sent_pixels(tmp_path: Path) -> None:
    if missing_tools("Xvfb"):
        pytest.skip(f"Xvfb is not installed ({INSTALL_HINT})")
    pytest.importorskip("tkinter")
    one, two = run_once("1234", tmp_path / "a"), run_once("9876", tmp_path / "b")

    x, y, w, h = one["entry"]
    diff = ImageChops.difference(one["raw"], two["raw"]).getbbox()
    assert diff is not None, "the raw frames after typing should differ: the test could not fail"
    assert x <= diff[0] and y <= diff[1] and diff[2] <= x + w and diff[3] <= y + h, (diff, one["entry"])

    assert list(one["saved"]) == [f"step_{i:03d}.png" for i in range(4)] == list(two["saved"])
    for name in one["saved"]:
        assert one["saved"][name] == two["saved"][name], f"{name} differs between the two secrets"
    assert len(one["sent"]) == len(two["sent"]) >= 4
    for i, (a, b) in enumerate(zip(one["sent"], two["sent"])):
        assert a == b, f"image {i} sent to the model differs between the two secrets"
