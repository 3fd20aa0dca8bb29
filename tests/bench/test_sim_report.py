"""report.html (self-contained, rendered by a real headless Chromium) and trajectory GIFs."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from PIL import Image

from sim_fixtures import adb_env, find_chromium, run
from system_packages import INSTALL_HINT

TASKS = ["browser.raffle_number", "notes.create", "contacts.phone_lookup"]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "run"
    with adb_env():
        run(out, models=["oracle"], tasks=",".join(TASKS), jobs=2)
    return out


def test_report_is_self_contained(bench_run):
    from vlagent.bench.report import write_report

    page = write_report(bench_run).read_text(encoding="utf-8")
    for task in TASKS:
        assert task in page
    assert page.count("data:image/jpeg;base64,") >= 6, "every step's screenshot is embedded"
    assert "src='http" not in page and 'src="http' not in page
    assert "mobile_use" in page, "the model's raw text is shown"
    assert "capture" in page and " ms" in page, "timings are shown"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "Plots need matplotlib" in page
    else:
        assert page.count("data:image/png;base64,") == 3, "success by app, by complexity, step latency"


def test_report_without_matplotlib(bench_run, tmp_path, monkeypatch):
    from vlagent.bench.report import write_report

    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    page = write_report(bench_run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Plots need matplotlib" in page and "data:image/png" not in page
    assert all(task in page for task in TASKS)


def test_report_renders_in_chromium(bench_run, tmp_path):
    from vlagent.bench.report import write_report

    chromium = find_chromium()
    if chromium is None:
        pytest.skip(f"no chromium on this machine to render the report ({INSTALL_HINT})")
    page = write_report(bench_run)
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,2000"]
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'profile-a'}", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50, "the rendered page is blank"
    shutil.copy(shot, "/tmp/bench_report.png")
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'profile-b'}", "--dump-dom", page.as_uri()],
                         capture_output=True, timeout=120, text=True, stdin=subprocess.DEVNULL).stdout
    assert all(task in dom for task in TASKS) and "SimPhone benchmark" in dom


def test_trajectory_gif(bench_run, tmp_path):
    from vlagent.bench.report import trajectory_gif
    from vlagent.trajectory import Trajectory

    episode = bench_run / "episodes" / "browser.raffle_number__s0"
    gif = trajectory_gif(episode, tmp_path / "raffle.gif", width=200)
    steps = len(Trajectory.load(episode).steps)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == steps and im.width == 200


def test_actions_are_drawn_on_screenshots(bench_run):
    from vlagent.bench.report import annotate
    from vlagent.trajectory import Trajectory

    episode = bench_run / "episodes" / "notes.create__s0"
    traj = Trajectory.load(episode)
    tap = next(s for s in traj.steps if s.actions and s.actions[0].type == "tap")
    with Image.open(episode / tap.screenshot) as im:
        before = im.convert("RGB")
    after = annotate(before, tap)
    x, y = tap.actions[0].x, tap.actions[0].y
    assert after.getpixel((x, y)) == (230, 40, 40) != before.getpixel((x, y))
    raffle = Trajectory.load(bench_run / "episodes" / "browser.raffle_number__s0")
    swipe = next(s for s in raffle.steps if s.actions and s.actions[0].type == "swipe")
    assert annotate(Image.new("RGB", swipe.screenshot_size, "white"), swipe).getcolors(1 << 16) is not None
