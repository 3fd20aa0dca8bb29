"""The suite's episodes on Ray actors, across machines (`vlagent bench sim --ray ADDRESS`).

Each of the `jobs` actors (one CPU each) runs an episode at a time on a fresh SimPhone of its own
machine, into a temporary directory there, and sends the episode's files back; this process
writes them under OUT/episodes/ and result.json last, so one run directory holds the whole suite,
resumes as any other (finished episodes are skipped) and makes one report. vlagent must be
installed on every node (the same version). When ANDROID_ADB_SERVER_PORT is set here (a private
adb server), the actors use that port on their machines too.

ADDRESS: `auto` (the cluster this machine belongs to), `host:port` or `ray://host:port` (a
cluster's head), or `local` (a private cluster on this machine, for this run only). Ray is
imported only here, so a run without --ray never loads it.
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import UserAbort, UserError, VLAgentError
from .runner import EpisodeResult, episode_name
from .workers import EpisodeJob
from .sim_devices import device_slots
from .tasks import Task, all_tasks

STOP_GRACE = 60.0  # seconds the actors get to abort their episodes once told to stop
PASSED_ENV = ("ANDROID_ADB_SERVER_PORT",)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray on this machine and the workers: pip install 'vlagent[ray]'") from None
    return ray


class EpisodeActor:
    """One worker of the suite on a Ray node: its own SimPhones, its own models."""

    def __init__(self, job: EpisodeJob, slot: Any, index: int, env: dict[str, str]):
        os.environ.update(env)
        self.job, self.slot, self.index = job, slot, index
        self.tasks = all_tasks()
        self.stop = threading.Event()

    def run(self, task_id: str, seed: int) -> tuple[dict[str, Any] | None, dict[str, bytes]]:
        """The episode's result (None: aborted) and its files (name -> bytes) but result.json."""
        root = Path(tempfile.mkdtemp(prefix="vlagent-ray-"))
        self.job.ep_root = root
        try:
            try:
                result = self.job.run(self.slot, self.index, self.tasks[task_id], seed, self.stop)
            except (UserAbort, KeyboardInterrupt):
                return None, {}
            ep_dir = root / episode_name(task_id, seed)
            files = {p.name: p.read_bytes() for p in sorted(ep_dir.iterdir()) if p.is_file() and p.name != "result.json"}
            return result.model_dump(), files
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def abort(self) -> None:
        self.stop.set()


class RayWorkers:
    """`jobs` EpisodeActors on the cluster at `address`; this process hands out the episodes."""

    def __init__(self, job: EpisodeJob, todo: list[tuple[Task, int]], *, jobs: int, devices: Sequence[str],
                 sim_size: tuple[int, int], device_options: dict[str, Any], address: str):
        if [d for d in devices if d.strip() and d.strip().partition(":")[0] != "sim"]:
            raise UserError("--ray runs each episode on a SimPhone on the worker's own machine: use --device sim")
        self.ray = ray = _ray()
        self.job = job
        self._owned = not ray.is_initialized()
        if self._owned:
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": "warning"}
            try:
                ray.init(**options) if address == "local" else ray.init(address=address, **options)
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise UserError(f"--ray {address}: no Ray cluster there ({e}); start one with `ray start --head`, "
                                "give its address (host:port or ray://host:port), or use --ray local") from None
        actor = ray.remote(num_cpus=1, max_concurrency=2)(EpisodeActor)  # 2: abort() while run() runs
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        slots = device_slots(list(devices), jobs, sim_size, **device_options)[:jobs]
        self._actors = [actor.remote(job, slot, i, env) for i, slot in enumerate(slots)]
        self._todo = collections.deque(todo)
        self._running: dict[Any, tuple[int, Task, int]] = {}
        self._stopping = False
        for index in range(len(self._actors)):
            self._hand_out(index)

    def _hand_out(self, index: int) -> None:
        if self._todo and not self._stopping:
            task, seed = self._todo.popleft()
            self._running[self._actors[index].run.remote(task.id, seed)] = (index, task, seed)

    def _collect(self, timeout: float) -> list[EpisodeResult]:
        ready, _ = self.ray.wait(list(self._running), num_returns=1, timeout=timeout)
        finished = []
        for ref in ready:
            index, task, seed = self._running.pop(ref)
            try:
                data, files = self.ray.get(ref)
            except self.ray.exceptions.RayError as e:  # the actor or its node died: not the agent's doing
                finished.append(self.job.lost(index, task, seed, f"the Ray worker failed: {e}"[:2000]))
                continue  # and it gets no more work
            if data is None:
                continue  # aborted: stays unfinished, to run again on resume
            ep_dir = self.job.ep_root / episode_name(task.id, seed)
            ep_dir.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                (ep_dir / name).write_bytes(content)
            result = EpisodeResult.model_validate(data)
            self.job.save(result)
            finished.append(result)
            self._hand_out(index)
        return finished

    def results(self) -> Iterator[EpisodeResult]:
        while self._running:
            yield from self._collect(0.2)
        if self._todo:
            raise VLAgentError(f"every Ray worker failed with {len(self._todo)} episode(s) left; see the errors above")

    def stop(self) -> list[EpisodeResult]:
        self._stopping = True
        for actor in self._actors:
            actor.abort.remote()
        finished: list[EpisodeResult] = []
        deadline = time.monotonic() + STOP_GRACE
        while self._running and time.monotonic() < deadline:
            finished += self._collect(0.5)
        return finished

    def close(self) -> None:
        for actor in self._actors:
            self.ray.kill(actor)  # idle by now: its episodes ended, their SimPhones stopped
        self._actors = []
        if self._owned:
            self.ray.shutdown()
