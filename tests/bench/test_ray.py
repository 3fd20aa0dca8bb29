"""`vlagent bench sim --ray ADDRESS` (issue #20): the suite's episodes on Ray actors, one result
set and report here, the same results as one job in this process, resumable.

The cluster is real and local: `ray start --head --block` on a port of its own, in a process group
of its own (stopped by its pid at the end). Starting it takes ~10 s, hence `slow`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from sim_fixtures import SMALL, adb_env, finished_episodes, run, run_until_interrupted

pytestmark = [pytest.mark.adb, pytest.mark.slow]

TASKS = ["settings.wifi", "system.open_app", "notes.delete", "clock.toggle_alarm", "contacts.delete"]
SAME = ("task_id", "seed", "outcome", "reason", "status", "answer", "steps", "goal", "params", "infra_stage")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit in 107 bytes
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={temp}", "--block"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        seen = []
        for line in head.stdout:
            seen.append(line)
            if "Ray runtime started" in line:
                break
        else:
            pytest.fail("ray start failed:\n" + "".join(seen[-30:]))
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # `ray start --block` stops its processes, taking ~30 s
        try:
            head.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # the group: the raylet, the GCS and the workers
            head.wait(30)
        head.stdout.close()
        shutil.rmtree(temp, ignore_errors=True)


def test_a_suite_on_a_ray_cluster_matches_one_job_and_resumes(cluster, tmp_path):
    with adb_env():
        one = run(tmp_path / "j1", models=["oracle"], tasks=",".join(TASKS), seed=5)
        out = tmp_path / "ray"
        run_until_interrupted(out, models=["oracle"], tasks=",".join(TASKS), seed=5, jobs=2, ray=cluster)
        first = finished_episodes(out)
        assert 2 <= first < len(TASKS)
        from typer.testing import CliRunner

        from vlagent.bench.cli import bench_app

        resumed = CliRunner().invoke(bench_app, ["sim", "--model", "oracle", "--out", str(out), "-j", "2", "--ray",
                                                 cluster, "--tasks", ",".join(TASKS), "--seed", "5",
                                                 "--sim-size", "x".join(map(str, SMALL))])
    assert resumed.exit_code == 0, resumed.output
    assert f"{len(TASKS) - first} episodes run, {first} already finished" in " ".join(resumed.output.split())
    data = json.loads((out / "results.json").read_text())
    got = sorted((e for e in data["episodes"]), key=lambda e: TASKS.index(e["task_id"]))
    want = sorted((json.loads(r.model_dump_json()) for r in one.results), key=lambda e: TASKS.index(e["task_id"]))
    assert [{k: e[k] for k in SAME} for e in got] == [{k: e[k] for k in SAME} for e in want]
    assert {e["outcome"] for e in got} == {"success"}
    from vlagent.trajectory import Trajectory

    for e in got:  # the workers' files came back: the record and every screenshot it names
        ep = out / "episodes" / f"{e['task_id']}__s5"
        traj = Trajectory.load(ep)
        assert len(traj.steps) == e["steps"] and all((ep / s.screenshot).is_file() for s in traj.steps)
    assert (out / "report.html").is_file()
    import adbutils

    with adb_env() as port:  # every actor's SimPhones left adb
        assert not [d for d in adbutils.AdbClient(port=port).list() if d.serial.startswith("127.0.0.1:")]
