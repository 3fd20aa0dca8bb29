"""DesktopDevice against a real X server: Xvfb, a real Tk app, real pyautogui, mss and XTest.

The X screen is 2048x968, carved with RandR 1.5 into two 1024x768 monitors, the second one
shifted right and down (left=1024, top=200) so that an offset bug in either axis shows. The
Tk app (desktop_app.py) reports what landed on its widgets, in root coordinates.

pyautogui connects to $DISPLAY once, at import, so one Xvfb serves the whole module and
pyautogui is imported only after it started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from vlagent import actions as A
from vlagent.errors import ActionOutOfBounds, ToolArgumentsError, UserAbort, UserError

try:  # tests/ has no __init__.py files: pytest puts this folder on sys.path
    from xvfb import display_env, missing_tools, xvfb
except ImportError:  # pragma: no cover - if tests/devices becomes a package
    from .xvfb import display_env, missing_tools, xvfb
from system_packages import INSTALL_HINT

pytestmark = pytest.mark.desktop

APP = Path(__file__).with_name("desktop_app.py")
SCREEN = (2048, 968)
MONITORS = [("LEFT", 1024, 768, 0, 0), ("RIGHT", 1024, 768, 1024, 200)]
BACKGROUND = (0x2A, 0x7F, 0x62)  # desktop_app.BACKGROUND
PAD = (0xF0, 0xC0, 0x20)


# -- fixtures ---------------------------------------------------------------------------------

@contextmanager
def _screen():
    """Xvfb carved into MONITORS; without xrandr or RandR-1.5-aware mss (10.2+), a plain
    1024x768 screen: the same monitor 1, and the monitor-2 test skips."""
    with xvfb(*SCREEN) as server:
        if not missing_tools("xrandr"):
            server.set_monitors(MONITORS)
            import mss

            with (getattr(mss, "MSS", None) or mss.mss)(display=server.display) as sct:
                server.multi_monitor = len(sct.monitors) == 3
            if server.multi_monitor:
                yield server
                return
    with xvfb(*MONITORS[0][1:3]) as server:
        server.multi_monitor = False
        yield server


@pytest.fixture(scope="module")
def x_server():
    if missing_tools("Xvfb"):
        pytest.skip(f"Xvfb is not installed ({INSTALL_HINT})")
    if "pyautogui" in sys.modules:
        pytest.skip("pyautogui was imported before Xvfb started; it stays bound to that display")
    with _screen() as server, display_env(server):
        yield server


@pytest.fixture(autouse=True)
def pointer_home(x_server):
    """Each test starts with the pointer mid-screen and leaves no fail-safe corner behind."""
    import pyautogui

    pyautogui.FAILSAFE = False
    pyautogui.moveTo(900, 700)
    pyautogui.FAILSAFE = True
    yield pyautogui


@pytest.fixture
def device(x_server):
    from vlagent.devices import DesktopDevice

    with DesktopDevice() as dev:
        yield dev


class App:
    """The Tk form running on the Xvfb display, and what it reports."""

    def __init__(self, server, path: Path, x: int, y: int):
        self.path = path
        self.proc = subprocess.Popen([sys.executable, str(APP), str(path), str(x), str(y)], env=server.env)
        self.wait_for(lambda s: s["ready"], what="the app to start")

    def state(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"ready": False}

    def wait_for(self, predicate, timeout: float = 5.0, what: str = "the app state") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if state.get("ready") and predicate(state):
                return state
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Tk app exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last state: {state}")
            time.sleep(0.02)

    def settled(self, quiet: float = 0.2) -> dict:
        """The state once the app has stopped writing for `quiet` seconds."""
        state = self.wait_for(lambda s: True)
        while True:
            time.sleep(quiet)
            latest = self.state()
            if latest.get("seq") == state.get("seq"):
                return latest
            state = latest

    def center(self, name: str, origin: tuple[int, int] = (0, 0)) -> tuple[int, int]:
        """A widget's centre, relative to a monitor whose top-left is `origin`."""
        x, y, w, h = self.state()["widgets"][name]
        return x + w // 2 - origin[0], y + h // 2 - origin[1]

    def at(self, name: str, origin: tuple[int, int] = (0, 0)) -> dict[str, int]:
        """center() as action arguments: A.Click(**app.at("button"))."""
        x, y = self.center(name, origin)
        return {"x": x, "y": y}

    def slider(self, value: str, origin: tuple[int, int] = (0, 0)) -> tuple[int, int]:
        """Where the scale's slider sits at `value` ("0", "50" or "100")."""
        x, y = self.state()["scale_points"][value]
        return x - origin[0], y - origin[1]


@pytest.fixture
def launch(x_server, tmp_path):
    apps: list[App] = []

    def start(x: int = 100, y: int = 100) -> App:
        apps.append(App(x_server, tmp_path / f"state{len(apps)}.json", x, y))
        return apps[-1]

    yield start
    for app in apps:
        app.proc.terminate()
        app.proc.wait(timeout=5)


def press_at(app: App, count: int) -> dict:
    """The pad's `count`-th mouse press, once released (held_ms set)."""
    state = app.wait_for(lambda s: len(s["presses"]) >= count and s["presses"][-1]["held_ms"] is not None,
                         what=f"{count} presses on the pad")
    return state["presses"][count - 1]


# -- seeing -----------------------------------------------------------------------------------

def test_screenshot_shows_what_x_shows(x_server, device, launch):
    app = launch(100, 100)
    image = device.screenshot()
    assert image.mode == "RGB" and image.size == device.size == (1024, 768)
    assert image.getpixel((105, 105)) == BACKGROUND  # the window's corner, inside it
    assert image.getpixel(app.center("pad")) == PAD
    assert image.getpixel((900, 700)) == (0, 0, 0)  # bare Xvfb root window
    assert device.scale == 1.0 and device.kind == "desktop"
    # Pixel for pixel what the server holds, read by another path (core GetImage, not XShm).
    # The form may still be drawing its focus ring just after it reports ready, so the
    # comparison is made on a screenshot that X shows unchanged before and after it.
    from Xlib import X, display

    box = (80, 90, 680, 540)
    conn = display.Display(x_server.display)
    try:
        def x_pixels() -> bytes:
            raw = conn.screen().root.get_image(80, 90, 600, 450, X.ZPixmap, 0xFFFFFFFF).data
            return Image.frombytes("RGB", (600, 450), raw, "raw", "BGRX").tobytes()

        for _ in range(50):
            before, shot, after = x_pixels(), device.screenshot().crop(box).tobytes(), x_pixels()
            if before == after:
                break
            time.sleep(0.05)
    finally:
        conn.close()
    # Counts, not the bytes: a failing bytes comparison prints a megabyte of diff under CI.
    assert sum(a != b for a, b in zip(before, after)) == 0, "the form never stopped repainting"
    assert sum(a != b for a, b in zip(shot, before)) == 0 and len(shot) == len(before)


def test_screenshots_from_other_threads(device, launch):
    launch(100, 100)
    with ThreadPoolExecutor(2) as pool:
        images = list(pool.map(lambda _: device.screenshot(), range(4)))
    assert all(im.getpixel((105, 105)) == BACKGROUND for im in images)


def test_cursor_is_drawn_when_asked(x_server, launch, pointer_home):
    from vlagent.devices import DesktopDevice

    app = launch(100, 100)
    px, py = app.center("pad")
    pointer_home.moveTo(px, py)
    with DesktopDevice(draw_cursor=True) as dev:
        image = dev.screenshot()
    assert image.getpixel((px, py)) != PAD  # the arrow's tip
    assert image.getpixel((px + 2, py + 8)) == (255, 255, 255)  # inside the arrow
    assert image.getpixel((px + 30, py + 30)) == PAD


def test_bad_monitor_lists_the_monitors(x_server):
    from vlagent.devices import DesktopDevice

    with pytest.raises(UserError, match=r"no monitor 7.*1: 1024x768 at \(0, 0\)"):
        DesktopDevice(7).connect()
    with DesktopDevice(0) as everything:
        assert everything.size == (x_server.width, x_server.height)


def test_explicit_display_without_the_environment(x_server, launch, monkeypatch):
    from vlagent.devices import DesktopDevice

    app = launch(100, 100)
    monkeypatch.delenv("DISPLAY")
    with DesktopDevice(display=x_server.display) as dev:
        assert dev.screenshot().getpixel((105, 105)) == BACKGROUND
        dev.execute(A.Click(**app.at("entry")))
        dev.execute(A.TypeText(text="ok ✓"))  # the XTest typist gets the display too
        app.wait_for(lambda s: s["entry"] == "ok ✓", what="typing on the explicit display")
    with pytest.raises(UserError, match="already connected to display"):
        DesktopDevice(display=":4242").connect()


# -- mouse ------------------------------------------------------------------------------------

def test_clicks_land_on_button_checkbox_and_pad(device, launch, pointer_home):
    app = launch(100, 100)
    device.execute(A.Click(**app.at("button")))
    device.execute(A.Tap(**app.at("check")))
    app.wait_for(lambda s: s["submitted"] == 1 and s["agree"], what="button and checkbox")

    x, y = app.center("pad")
    device.execute(A.Click(x=x + 7, y=y - 5, button="right"))
    first = press_at(app, 1)
    assert (first["button"], first["x"], first["y"], first["double"]) == (3, x + 7, y - 5, False)
    device.execute(A.Click(x=x, y=y, button="middle"))
    assert press_at(app, 2)["button"] == 2
    device.execute(A.Click(x=x - 20, y=y + 10, clicks=2))
    double = press_at(app, 4)
    assert (double["button"], double["x"], double["y"], double["double"]) == (1, x - 20, y + 10, True)
    assert double["held_ms"] < 200  # a click, not a press-and-hold

    device.execute(A.MouseMove(x=x + 30, y=y + 30))
    assert tuple(pointer_home.position()) == (x + 30, y + 30)
    device.execute(A.Click())  # where the pointer is
    assert press_at(app, 5)["x"] == x + 30

    device.execute(A.LongPress(x=x, y=y, duration_ms=400))
    assert press_at(app, 6)["held_ms"] >= 380


def test_drag_moves_the_scale(device, launch):
    app = launch(100, 100)
    (x0, y0), (x50, y50), (x100, y100) = app.slider("0"), app.slider("50"), app.slider("100")
    device.execute(A.Drag(start=(x0, y0), x=x50, y=y50, duration_ms=150))
    app.wait_for(lambda s: abs(s["scale"] - 50) <= 1, what="the scale at 50")
    device.execute(A.MouseMove(x=x50, y=y50))
    device.execute(A.Drag(x=x100, y=y100, duration_ms=0))  # from where the pointer is
    app.wait_for(lambda s: s["scale"] == 100, what="the scale at 100")
    device.execute(A.Swipe(x1=x100, y1=y100, x2=x0 - 40, y2=y0))
    app.wait_for(lambda s: s["scale"] == 0, what="the scale back at 0")


def test_scroll_scrolls_the_list_under_the_pointer(device, launch):
    app = launch(100, 100)
    x, y = app.center("listbox")
    device.execute(A.Scroll(amount=-3, x=x, y=y))
    top = app.settled()["list_top"]
    assert top > 0
    device.execute(A.Scroll(amount=1))  # at the pointer, which stayed on the list
    app.wait_for(lambda s: 0 <= s["list_top"] < top, what="the list to scroll up")
    device.execute(A.Scroll(amount=10, x=x, y=y))
    app.wait_for(lambda s: s["list_top"] == 0, what="the list back at the top")


def test_off_screen_and_unsupported_actions_are_model_errors(device):
    for action in (A.Click(x=1024, y=10), A.Tap(x=5, y=768), A.Drag(start=(-1, 5), x=10, y=10),
                   A.Scroll(amount=1, x=5000, y=5)):
        with pytest.raises(ActionOutOfBounds, match="0-1023 x 0-767"):
            device.execute(action)
    for action, message in ((A.OpenApp(name="firefox"), "not supported on desktop"),
                            (A.SystemButton(button="home"), "no home button"),
                            (A.Key(keys=("ctrl", "hyperdrive")), "unknown key")):
        with pytest.raises(ToolArgumentsError, match=message):
            device.execute(action)
    with pytest.raises(ValueError, match="handled by the agent loop"):
        device.execute(A.Wait(seconds=0))


# -- keyboard ---------------------------------------------------------------------------------

def click_entry(device, app):
    device.execute(A.Click(**app.at("entry")))


def test_typing_ascii_and_key_combos(device, launch):
    app = launch(100, 100)
    click_entry(device, app)
    device.execute(A.TypeText(text="Hello, World! a@b.c #1 ~{x}"))
    app.wait_for(lambda s: s["entry"] == "Hello, World! a@b.c #1 ~{x}", what="ASCII typing")
    device.execute(A.Key(keys=("Control", "A")))  # model spellings, normalised
    device.execute(A.TypeText(text="replaced"))
    app.wait_for(lambda s: s["entry"] == "replaced", what="ctrl+a then typing to replace")
    device.execute(A.Key(keys=("ctrl+a",)))
    device.execute(A.Key(keys=("BackSpace",)))
    device.execute(A.Key(keys=("Return",)))
    device.execute(A.SystemButton(button="back"))
    device.execute(A.SystemButton(button="enter"))
    state = app.wait_for(lambda s: s["keys"][-2:] == ["alt+Left", "Return"], what="the keys")
    assert state["keys"][-7:] == ["Control_L", "ctrl+a", "BackSpace", "Return", "Alt_L", "alt+Left", "Return"]
    assert state["entry"] == ""


def test_typing_unicode(device, launch):
    app = launch(100, 100)
    click_entry(device, app)
    text = "héllo 日本語 Ωμέγα ñ ü € 😀 한국어"
    device.execute(A.TypeText(text=text))
    app.wait_for(lambda s: s["entry"] == text, what="Unicode typing")
    # Tab and newline are key presses, as typed by a person: Tab moves the focus to the button.
    device.execute(A.TypeText(text=" 東京\tok\n"))
    state = app.wait_for(lambda s: s["keys"][-1:] == ["Return"], what="Tab and Return")
    assert state["keys"][-6:] == ["U6771", "U4EAC", "Tab", "o", "k", "Return"]
    assert state["entry"] == text + " 東京"


# Characters pyautogui and xdotool got wrong: `<` came out as `>` (a US shift table on another
# keymap), uppercase non-ASCII as lowercase (a lone alphabetic keysym), others dropped under load.
EXACT = [
    "<>|~^", "a<b>c && d||e", "ÅÇÉÄÖÜ", "Straße ÀÉÎÕÛ", "ÆØÅ æøå", "{\"key\": [1, 2]}", "`~!@#$%^&*()_+-=",
    "東京タワー", "北京 上海 广州", "한국어 텍스트", "Ωμέγα Σίσυφος", "Привет, МИР", "emoji 😀🚀🧮",
    "ĞğİıŞş", "ŁódźŹŻ", "naïve café", "x=1; y<=2 ? 'a' : \"b\"", "Zoë Ünal Çelik", "¿¡Olé!?", "½ ¼ ¾ ° ± §",
]


@pytest.fixture
def cpu_load():
    """A busy process per core while the test runs: typing must not depend on a quiet machine."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield
    for proc in procs:
        proc.kill()
        proc.wait()


def test_typing_is_exact_under_load(device, launch, cpu_load):
    app = launch(100, 100)
    typed = []
    for text in EXACT:
        click_entry(device, app)
        device.execute(A.Key(keys=("ctrl", "a")))
        device.execute(A.TypeText(text=text))
        typed.append(app.wait_for(lambda s, t=text: s["entry"] == t, timeout=20.0, what=f"typing {text!r}")["entry"])
    assert typed == EXACT  # 20 of 20, character for character


@pytest.mark.skipif(bool(missing_tools("xclip")), reason=f"xclip is not installed ({INSTALL_HINT})")
def test_text_with_more_new_characters_than_spare_keys_is_pasted(device, launch, tmp_path, monkeypatch):
    """Binding them one after another would race the app's keymap lookups: paste instead."""
    app = launch(100, 100)
    click_entry(device, app)
    many = "".join(chr(0x4E00 + i) for i in range(0, 400, 7))  # 58 distinct CJK characters
    only_xclip = tmp_path / "bin"
    only_xclip.mkdir()
    os.symlink(shutil.which("xclip"), only_xclip / "xclip")
    monkeypatch.setenv("PATH", str(only_xclip))
    device.execute(A.TypeText(text=many))
    app.wait_for(lambda s: s["entry"] == many, what="pasted text")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(UserError, match="apt-get install xclip"):
        device.execute(A.TypeText(text=many[::-1]))


# -- monitors and scale -----------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_a_recording_reaches_the_model_as_many_video_tokens_as_computed(device, launch, tmp_path, video_tokens):
    from vlagent import video as V
    from vlagent.video_io import open_video

    launch()
    started = time.monotonic()
    path = device.record(1.5, tmp_path / "desk.mp4", fps=4.0)
    assert 1.2 <= time.monotonic() - started < 10
    source = open_video(path)
    assert (source.total_frames, source.fps) == (6, 4.0)
    first = source.frames([0])[0]
    assert first.shape == (device.size[1], device.size[0], 3)  # the monitor, at its own size
    written, computed = video_tokens(V.Video(path, fps=4.0))
    assert written == computed > 0


def test_second_monitor_offsets(x_server, launch, pointer_home):
    if not x_server.multi_monitor:
        pytest.skip("mss does not list RandR 1.5 monitors (needs mss>=10.2 and xrandr)")
    from vlagent.devices import DesktopDevice

    left, top = MONITORS[1][3], MONITORS[1][4]
    app = launch(left + 200, top + 150)
    with DesktopDevice(2) as dev:
        assert dev.size == (1024, 768)
        image = dev.screenshot()
        assert image.getpixel((205, 155)) == BACKGROUND and image.getpixel((195, 145)) == (0, 0, 0)
        origin = (left, top)
        x, y = app.center("pad", origin)
        dev.execute(A.Click(x=x, y=y))
        assert (press_at(app, 1)["x"], press_at(app, 1)["y"]) == (left + x, top + y)
        dev.execute(A.Click(**app.at("button", origin)))
        app.wait_for(lambda s: s["submitted"] == 1, what="the button on monitor 2")
        x50, y50 = app.slider("50", origin)
        dev.execute(A.Drag(start=app.slider("0", origin), x=x50, y=y50, duration_ms=100))
        app.wait_for(lambda s: abs(s["scale"] - 50) <= 1, what="the scale dragged on monitor 2")
        dev.execute(A.Scroll(amount=-2, **app.at("listbox", origin)))
        app.wait_for(lambda s: s["list_top"] > 0, what="the list scrolled on monitor 2")
        with pytest.raises(ActionOutOfBounds):
            dev.execute(A.Click(x=1024, y=0))


def make_retina_device(**kwargs):
    """A DesktopDevice whose captures have two pixels per pointer unit, as on a Retina Mac.

    Only the capture is doubled (nearest-neighbour, exactly what a 2x framebuffer of this
    picture holds); the pointer and the clicks are the real X ones. Xvfb's pointer space equals
    its framebuffer, so this is how the scale path gets an honest end-to-end test here.
    """
    from vlagent.devices import DesktopDevice

    class RetinaCapture(DesktopDevice):
        def _grab(self) -> Image.Image:
            image = super()._grab()
            return image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)

    return RetinaCapture(**kwargs)


def test_scale_is_detected_and_clicks_land(x_server, launch):
    app = launch(100, 100)
    with make_retina_device(draw_cursor=True) as dev:
        assert dev.scale == 2.0 and dev.size == (1024, 768)
        image = dev.screenshot()
        assert image.size == (2048, 1536)
        px, py = app.center("pad")
        dev.execute(A.Click(x=px, y=py))
        assert (press_at(app, 1)["x"], press_at(app, 1)["y"]) == (px, py)
        image = dev.screenshot()
        assert image.getpixel((2 * px + 4, 2 * py + 16)) == (255, 255, 255)  # arrow drawn at 2x
        assert image.getpixel((2 * px + 60, 2 * py + 60)) == PAD


def test_explicit_scale_sets_the_pointer_space(x_server, pointer_home):
    from vlagent.devices import DesktopDevice

    # Told scale=2 on a 1:1 screen: size is half the screenshot, and points go to the pointer
    # unchanged (the loop, not the device, converts screenshot pixels to pointer units).
    with DesktopDevice(scale=2.0) as dev:
        assert dev.size == (512, 384) and dev.screenshot().size == (1024, 768)
        dev.execute(A.MouseMove(x=300, y=200))
        assert tuple(pointer_home.position()) == (300, 200)
        with pytest.raises(ActionOutOfBounds):
            dev.execute(A.MouseMove(x=600, y=10))
    with make_retina_device(scale=2.0) as dev:
        assert dev.size == (1024, 768)


# -- the agent loop ---------------------------------------------------------------------------

def call(**arguments) -> str:
    """What a Qwen model writes to call the desktop UI tool (hermes format)."""
    body = json.dumps({"name": "computer_use", "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def relative(point: tuple[float, float], size: tuple[int, int]) -> list[float]:
    """Pointer units to the model's relative-1000 coordinates (aimed at the pixel's middle)."""
    return [round((point[0] + 0.5) * 1000 / size[0], 3), round((point[1] + 0.5) * 1000 / size[1], 3)]


def form_script(app: App, size: tuple[int, int]) -> list[str]:
    def rel(point: tuple[int, int]) -> list[float]:
        return relative(point, size)

    return [
        call(action="left_click", coordinate=rel(app.center("entry"))),
        call(action="type", text="Ada Lovelace 🧮"),
        call(action="left_click", coordinate=rel(app.center("check"))),
        call(action="mouse_move", coordinate=rel(app.slider("0"))),
        call(action="left_click_drag", coordinate=rel(app.slider("50"))),
        call(action="scroll", pixels=-2, coordinate=rel(app.center("listbox"))),
        "The form is filled; submitting.\n" + call(action="left_click", coordinate=rel(app.center("button"))),
        call(action="terminate", status="success", text="submitted"),
    ]


@pytest.mark.parametrize("retina", [False, True], ids=["plain", "retina-capture"])
def test_agent_fills_the_form(x_server, launch, tmp_path, retina):
    import vlagent
    from vlagent.devices import DesktopDevice
    from vlagent.trajectory import Trajectory

    app = launch(100, 100)
    device = make_retina_device() if retina else DesktopDevice()
    script = form_script(app, (1024, 768))
    agent = vlagent.Agent(vlagent.ScriptedModel(script), device, max_steps=10, out_dir=tmp_path / "run",
                          settle_timeout=1.0)
    result = agent.run("Fill in the form and submit it")
    assert result.status == "success" and result.answer == "submitted" and result.steps == len(script)
    state = app.wait_for(lambda s: s["submitted"] == 1, what="the form submitted")
    assert state["entry"] == "Ada Lovelace 🧮" and state["agree"] is True
    assert abs(state["scale"] - 50) <= 1 and state["list_top"] > 0
    traj = Trajectory.load(tmp_path / "run")
    assert traj.status == "success" and len(traj.steps) == len(script)
    assert traj.steps[0].screenshot_size == ((2048, 1536) if retina else (1024, 768))
    assert traj.steps[0].device_size == (1024, 768)
    assert traj.steps[0].actions == [A.Click(**app.at("entry"))]


def test_cli_run_on_the_desktop_fills_the_form(x_server, launch, tmp_path):
    """`vlagent run ... --device desktop:1` end to end, in its own process on the same X server."""
    import os
    import subprocess
    import sys

    from vlagent.trajectory import Trajectory

    app = launch(100, 100)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(form_script(app, (1024, 768))))
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "vlagent.cli", "run", "Fill in the form and submit it",
         "--device", "desktop:1", "--model", f"scripted:{script}", "--out", str(out),
         "--policy", "allow"],  # the driver under test, not the guard (which reads the screen for typing)
        capture_output=True, text=True, timeout=120, env={**os.environ, "DISPLAY": os.environ["DISPLAY"]},
    )
    assert result.returncode == 0, result.stderr
    state = app.wait_for(lambda s: s["submitted"] == 1, what="the form submitted")
    assert state["entry"] == "Ada Lovelace 🧮" and state["agree"] is True
    assert Trajectory.load(out).status == "success"


def test_failsafe_corner_stops_the_run(x_server, launch, tmp_path, pointer_home):
    import vlagent
    from vlagent.devices import DesktopDevice
    from vlagent.devices.desktop import FAILSAFE_MESSAGE
    from vlagent.trajectory import Trajectory

    app = launch(100, 100)
    button = relative(app.center("button"), (1024, 768))
    script = [
        call(action="left_click", coordinate=button),
        call(action="mouse_move", coordinate=[0, 0]),  # the pointer flung into a corner
        call(action="left_click", coordinate=button),
        call(action="terminate", status="success"),
    ]
    agent = vlagent.Agent(vlagent.ScriptedModel(script), DesktopDevice(), max_steps=10,
                          out_dir=tmp_path / "run", settle_timeout=0.5)
    with pytest.raises(UserAbort, match="fail-safe"):
        agent.run("Press submit twice")
    assert tuple(pointer_home.position()) == (0, 0)
    traj = Trajectory.load(tmp_path / "run")
    assert traj.status == "interrupted" and traj.error == FAILSAFE_MESSAGE
    assert [s.actions for s in traj.steps[:2]] == [[A.Click(**app.at("button"))], [A.MouseMove(x=0, y=0)]]
    # The step cut short is kept, its result saying why; its click never reached the screen.
    assert traj.steps[2].results[-1].is_error and "fail-safe" in traj.steps[2].results[-1].content
    assert all((tmp_path / "run" / s.screenshot).is_file() for s in traj.steps)
    assert app.state()["submitted"] == 1  # the second click never happened
