"""Background recording and the frame preparation that overlaps settle (no device needed)."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from vlagent.errors import UserError
from vlagent.settle import settle_and_prepare, wait_until_stable
from vlagent.trajectory import Step, Trajectory, TrajectoryWriter


def _traj() -> Trajectory:
    return Trajectory(goal="g", model="m", device="d", coordinate_system="relative-1000")


def test_background_writer_keeps_files_in_order_and_complete_after_close(tmp_path):
    traj = _traj()
    writer = TrajectoryWriter(tmp_path, traj, background=True)
    for i in range(5):
        name = writer.save_screenshot(i, Image.new("RGB", (300, 600), (i * 40, 0, 0)))
        traj.steps.append(Step(index=i, started_at=0.0, screenshot=name, screenshot_size=(300, 600),
                               device_size=(300, 600)))
        writer.write()
    writer.close()
    on_disk = json.loads((tmp_path / "trajectory.json").read_text())
    assert [s["screenshot"] for s in on_disk["steps"]] == [f"step_{i:03d}.png" for i in range(5)]
    for i in range(5):
        with Image.open(tmp_path / f"step_{i:03d}.png") as im:
            assert im.getpixel((0, 0)) == (i * 40, 0, 0)
    assert not [t for t in threading.enumerate() if t.name.startswith("vlagent-record")]


def test_a_failed_background_write_is_raised_not_lost(tmp_path):
    out = tmp_path / "run"
    writer = TrajectoryWriter(out, _traj(), background=True)
    shutil.rmtree(out)  # the disk goes away under the run
    writer.save_screenshot(0, Image.new("RGB", (10, 10)))
    with pytest.raises(UserError, match="run: No such file or directory; check that directory"):
        writer.close()


def _frames(*shades):
    it = iter(shades)
    return lambda: Image.new("RGB", (96, 192), (next(it),) * 3)


def test_settle_returns_the_first_of_the_matching_pair_with_its_preparation():
    prepared = []

    def prepare(frame):
        prepared.append(frame.getpixel((0, 0))[0])
        return frame.getpixel((0, 0))[0]

    with ThreadPoolExecutor(1) as pool:
        frame, settled, job = settle_and_prepare(_frames(10, 120, 120, 200), prepare, pool, interval=0.01)
    assert settled and frame.getpixel((0, 0)) == (120, 120, 120)
    assert job.result() == 120
    assert prepared.count(120) == 1 and 200 not in prepared  # the twin is compared, never prepared


def test_settle_returns_the_second_of_a_pair_that_is_alike_but_still_moving():
    """120 then 121: within the tolerance, but not still (a transition's eased tail): the later
    frame, the nearer to where the screen stops, is returned and prepared."""
    with ThreadPoolExecutor(1) as pool:
        frame, settled, job = settle_and_prepare(_frames(10, 120, 121, 200), lambda f: f.getpixel((0, 0))[0],
                                                 pool, interval=0.01)
    assert settled and frame.getpixel((0, 0)) == (121, 121, 121) and job.result() == 121


def test_settle_gives_up_at_the_bound_and_plain_waiting_returns_the_newest_frame():
    with ThreadPoolExecutor(1) as pool:
        moving = iter(range(0, 250, 10))
        frame, settled, job = settle_and_prepare(lambda: Image.new("L", (96, 192), next(moving)),
                                                 lambda f: f.getpixel((0, 0)), pool, timeout=0.05, interval=0.02)
    assert not settled and job.result() == frame.getpixel((0, 0))
    frame, settled = wait_until_stable(_frames(10, 50, 51), interval=0.01)
    assert settled and frame.getpixel((0, 0)) == (51, 51, 51)
