"""The suite's episodes in worker processes (issue #20): the same results as one job, resumable,
and stopped cleanly, by the caller, by Ctrl-C at a terminal and by SIGKILL of the suite itself:
no worker process is left, and no SimPhone stays on adb.

Real components only: worker processes running SimPhones through the real adb binary. The
speed-up itself (episodes/min at -j 2 over -j 1) is measured, not asserted: see the report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim_fixtures import SMALL, adb_server, finished_episodes, run  # noqa: F401  (a fixture)

pytestmark = pytest.mark.adb

CHEAP = ["settings.wifi", "settings.bluetooth", "system.open_app", "notes.delete", "clock.toggle_alarm",
         "contacts.delete"]
SAME = ("task_id", "seed", "outcome", "reason", "status", "answer", "steps", "goal", "params", "infra_stage")


def _workers(pid: int | None = None) -> list:
    """The worker processes of this process (or of `pid`), alive now: its direct children running
    child_main, not a worker's own short-lived children (its `adb start-server`, say)."""
    import psutil

    def cmdline(p) -> str:
        try:
            return " ".join(p.cmdline())
        except psutil.NoSuchProcess:  # it ended between the listing and this read: not alive now
            return ""

    return [p for p in psutil.Process(pid).children() if "child_main" in cmdline(p)]


def _sim_serials(port: int) -> set[str]:
    """SimPhones the adb server knows (they connect as 127.0.0.1:PORT)."""
    import adbutils

    return {d.serial for d in adbutils.AdbClient(port=port).list() if d.serial.startswith("127.0.0.1:")}


def _gone(pids: list[int], within: float) -> bool:
    import psutil

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not [p for p in pids if alive(p)]:
            return True
        time.sleep(0.1)
    return False


def test_processes_give_the_results_of_one_job(adb_server, tmp_path):
    seen: list[int] = []
    one = run(tmp_path / "j1", models=["oracle"], tasks=",".join(CHEAP), seed=3)
    two = run(tmp_path / "j2", models=["oracle"], tasks=",".join(CHEAP), seed=3, jobs=2,
              on_episode=lambda r: seen.append(len(_workers())))
    assert seen and max(seen) == 2, "two worker processes ran the episodes"
    assert [r.model_dump(include=set(SAME)) for r in two.results] == [r.model_dump(include=set(SAME)) for r in one.results]
    assert {r.outcome for r in two.results} == {"success"}
    for r in two.results:  # each episode's record was written by its worker, complete
        from vlagent.trajectory import Trajectory

        traj = Trajectory.load(tmp_path / "j2" / "episodes" / f"{r.task_id}__s3")
        assert traj.status == "success" and len(traj.steps) == r.steps
    assert not _workers() and not _sim_serials(adb_server)


def test_a_stopped_run_leaves_no_worker_nor_phone_and_resumes(adb_server, tmp_path):
    out = tmp_path / "run"
    at_stop: list[int] = []

    def stop_after_one(result):
        at_stop.extend(p.pid for p in _workers())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(out, models=["oracle"], tasks=",".join(CHEAP), jobs=2, on_episode=stop_after_one)
    assert len(at_stop) == 2 and _gone(at_stop, within=5), "the workers exited before run_suite returned"
    assert not _sim_serials(adb_server), "their SimPhones left adb"
    first = finished_episodes(out)
    assert 1 <= first <= 2, "the one reported, and perhaps the other worker's, finished while stopping"
    assert len(json.loads((out / "results.json").read_text())["episodes"]) == first

    ran = []
    result = run(out, models=["oracle"], tasks=",".join(CHEAP), jobs=2, on_episode=lambda r: ran.append(r.task_id))
    assert (result.ran, result.skipped) == (len(CHEAP) - first, first) and len(ran) == len(CHEAP) - first
    assert {r.outcome for r in result.results} == {"success"} and finished_episodes(out) == len(CHEAP)


CLI = [sys.executable, "-c", "from vlagent.cli import main; main()", "bench", "sim", "--model", "oracle", "-j", "2",
       "--tasks", ",".join(CHEAP), "--sim-size", "x".join(map(str, SMALL)), "--no-report"]


def _start_cli(out: Path) -> subprocess.Popen:
    """`vlagent bench sim -j 2` as a terminal runs it: the leader of its own process group."""
    return subprocess.Popen([*CLI, "--out", str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for_a_result(proc: subprocess.Popen, out: Path) -> list[int]:
    """Wait for the first finished episode; the worker processes' pids then."""
    deadline = time.monotonic() + 120
    while not list(out.glob("episodes/*/result.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.05)
    return [p.pid for p in _workers(proc.pid)]


def test_ctrl_c_at_the_terminal_stops_the_workers_and_a_rerun_resumes(adb_server, tmp_path):
    out = tmp_path / "cli"
    proc = _start_cli(out)
    workers = _wait_for_a_result(proc, out)
    assert len(workers) == 2
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal sends: the foreground group
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "Stopped." in output and "Traceback" not in output, output
    assert _gone(workers, within=5) and not _sim_serials(adb_server)
    done = finished_episodes(out)
    rerun = subprocess.run([*CLI, "--out", str(out)], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(CHEAP) - done} episodes run, {done} already finished" in " ".join((rerun.stdout + rerun.stderr).split())
    assert finished_episodes(out) == len(CHEAP)


def test_a_suite_killed_with_sigkill_leaves_no_worker_nor_phone(adb_server, tmp_path):
    out = tmp_path / "cli"
    proc = _start_cli(out)
    workers = _wait_for_a_result(proc, out)
    assert len(workers) == 2
    proc.kill()
    proc.communicate(timeout=30)
    # Their stdin closed with the suite: each aborts its episode at the next step, stops its phone.
    assert _gone(workers, within=60), "orphaned worker processes"
    assert not _sim_serials(adb_server)
    from vlagent.trajectory import Trajectory

    cut = [Trajectory.load(ep) for ep in (out / "episodes").iterdir()
           if (ep / "trajectory.json").exists() and not (ep / "result.json").exists()]
    assert any(t.status == "interrupted" for t in cut), "an episode in flight was aborted, not run to its end"


def test_what_cannot_leave_this_process_runs_on_threads(adb_server, tmp_path):
    from vlagent.bench.baselines import OracleModel
    from vlagent.errors import UserError

    def oracle(ctx):  # a closure: it cannot be sent to a worker process
        return OracleModel(ctx.task.solution(ctx.instance.params), ctx.device.ui_tree)

    seen: list[int] = []
    result = run(tmp_path / "auto", models=[oracle], tasks="settings.wifi,system.open_app", jobs=2,
                 on_episode=lambda r: seen.append(len(_workers())))
    assert seen == [0, 0] and {r.outcome for r in result.results} == {"success"}
    with pytest.raises(UserError, match="cannot be sent to another process"):
        run(tmp_path / "forced", models=[oracle], tasks="settings.wifi", jobs=2, workers="processes")
    with pytest.raises(UserError, match="loaded once per worker"):
        run(tmp_path / "model", models=["/models/some-checkpoint"], tasks="settings.wifi", jobs=2, workers="processes")


def test_ray_is_never_imported_without_ray(adb_server, tmp_path):
    """A whole `bench sim -j 2` in a fresh interpreter, then: no `ray` among its modules. And with
    --ray but no Ray installed (hidden from the interpreter), the error says what to install."""
    code = f"""
import sys
from vlagent.bench.runner import run_suite
run_suite({str(tmp_path / 'run')!r}, models=["oracle"], tasks="system.open_app,settings.wifi", jobs=2,
          sim_size={SMALL!r})
assert "ray" not in sys.modules, "ray was imported"
sys.modules["ray"] = None  # as if Ray were not installed
from vlagent.bench.cli import bench_app
from typer.testing import CliRunner
out = CliRunner().invoke(bench_app, ["sim", "--out", {str(tmp_path / 'ray')!r}, "--ray", "auto"])
print(out.output)
assert out.exit_code != 0
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pip install 'vlagent[ray]'" in " ".join(done.stdout.split())
