"""Who runs the suite's episodes: worker processes, threads of this process, or Ray actors.

Threads share one GIL: the agent loop, the SimPhone drawing its screens with Pillow and adb I/O
all take turns on it (issue #20: 41 episodes/min at -j 1, 59 at -j 2 on two cores), and a
thread's share of it only shrinks as -j grows. Worker processes scale with cores: each is `python -c ...child_main()`, owns one device slot (its own SimPhone per episode,
or one attached phone) and its own models, and asks this process for an episode at a time over
its stdin/stdout (length-prefixed pickles: both ends are this package). An episode's files and
result.json are written by the worker that ran it, as on a thread.

Which one (`mode`, run_suite's `workers`):
- "processes": needs what each episode is built from to pickle (model specs, policy) and
  models that are not loaded into this process (a checkpoint would be loaded once per
  worker); "auto" picks it when `jobs` > 1 and that holds.
- "threads": a factory defined in a function (a closure over this process's state), a model
  loaded here and shared by the workers, a policy that asks at this terminal.
- `ray=ADDRESS`: Ray actors (ray_workers.py).

Stopping (Ctrl-C, an error in `on_episode`): a worker is told by its stdin closing; its episode
aborts at the next step (UserAbort), its SimPhone stops and leaves adb, and it exits. Workers sit
in their own process group, so a terminal's Ctrl-C reaches only this process, which stops them
in order; if this process dies, even by SIGKILL, their stdin closes all the same and they exit.
One that does not within STOP_GRACE seconds gets SIGTERM (it cleans up as on a stop), then
SIGKILL.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Protocol, Sequence

from ..errors import UserAbort, UserError, VLAgentError
from .baselines import ModelPool
from .runner import EpisodeResult, PolicySpec, _write_json, episode_name, run_episode
from .sim_devices import device_slots
from .tasks import Task, all_tasks

STOP_GRACE = 60.0  # seconds a worker gets to finish its step and clean up once told to stop
# Specs a worker process builds for itself, cheaply and the same as here; others load a model.
PORTABLE_SPECS = ("oracle", "gullible", "attacker", "random")
PORTABLE_PREFIXES = ("random:", "http://", "https://")


@dataclass
class EpisodeJob:
    """What any worker (a thread, a process, a Ray actor) needs to run an episode and record it
    under `ep_root`. It pickles when its models and policy do; the loaded models do not travel
    (`pool` is rebuilt on first use where the job lands, so a process loads its own)."""

    ep_root: Path
    models: list[Any]
    model_options: dict[str, Any]
    policy: PolicySpec
    settle_timeout: float
    history_images: int
    max_seconds: float | None
    pool: ModelPool | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "pool": None}

    def models_pool(self) -> ModelPool:
        if self.pool is None:
            self.pool = ModelPool(self.models, **self.model_options)
        return self.pool

    def run(self, slot: Any, index: int, task: Task, seed: int, stop: Any) -> EpisodeResult:
        """The episode on worker `index`'s device slot; its result.json written last. Raises only
        UserAbort/KeyboardInterrupt (`stop` set: the episode stays unfinished)."""
        pool = self.models_pool()
        ep_dir = self.ep_root / episode_name(task.id, seed)
        try:
            result = _on_device(slot, task, seed, ep_dir, pool, index, stop, self.settle_timeout,
                                self.history_images, self.max_seconds, self.policy)
        except (UserAbort, KeyboardInterrupt):
            raise
        except Exception:   # a bug in the runner or a task: recorded, the run goes on
            return self.lost(index, task, seed, traceback.format_exc()[-2000:])
        self.save(result)
        return result

    def lost(self, index: int, task: Task, seed: int, reason: str) -> EpisodeResult:
        """Record an episode its worker could not finish (a bug, a worker that died) as an
        infrastructure failure, so a rerun runs it again."""
        result = EpisodeResult(task_id=task.id, app=task.app, complexity=task.complexity, seed=seed,
                               max_steps=task.max_steps, outcome="infra", infra_stage="runner", reason=reason,
                               model=self.models_pool().describe(index))
        self.save(result)
        return result

    def save(self, result: EpisodeResult) -> None:
        """result.json, the episode's last file: with it, the episode is finished."""
        _write_json(self.ep_root / episode_name(result.task_id, result.seed) / "result.json", result.model_dump())


def _on_device(slot, task, seed, ep_dir, pool, index, stop, settle_timeout, history_images, max_seconds, policy):
    ep_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with contextlib.ExitStack() as stack:
        try:
            device = stack.enter_context(slot.open(seed))
        except Exception as e:
            return EpisodeResult(task_id=task.id, app=task.app, complexity=task.complexity, seed=seed,
                                 max_steps=task.max_steps, outcome="infra", infra_stage="device",
                                 reason=f"{type(e).__name__}: {e}"[:2000], model=pool.describe(index),
                                 started_at=started, finished_at=time.time(), seconds=time.time() - started)
        return run_episode(task, seed, device, lambda ctx: pool.build(index, ctx), ep_dir,
                           model_name=pool.describe(index), stop=stop, settle_timeout=settle_timeout,
                           history_images=history_images, max_seconds=max_seconds, policy=policy)


class Workers(Protocol):
    def results(self) -> Iterator[EpisodeResult]:
        """Each episode's result as it finishes; ends when every episode is done."""

    def stop(self) -> list[EpisodeResult]:
        """Abort the episodes in flight and wait for the workers; the results that came in meanwhile."""

    def close(self) -> None:
        """Release what is left (after `results` ended, or after `stop`)."""


def start_workers(job: EpisodeJob, todo: list[tuple[Task, int]], *, jobs: int, devices: Sequence[str],
                  sim_size: tuple[int, int], device_options: dict[str, Any], mode: str = "auto",
                  ray: str | None = None) -> Workers:
    """Start `jobs` workers (see the module) on `todo`."""
    if mode not in ("auto", "processes", "threads"):
        raise UserError(f"workers={mode!r}: use auto, processes or threads")
    if ray is not None:
        from .ray_workers import RayWorkers

        return RayWorkers(job, todo, jobs=jobs, devices=devices, sim_size=sim_size, device_options=device_options,
                          address=ray)
    slots = device_slots(list(devices), jobs, sim_size, **device_options)[:jobs]
    why_not = _why_not_processes(job)
    if mode == "processes" and why_not:
        raise UserError(f"episodes cannot run in worker processes: {why_not}; run them on threads "
                        "(workers='threads')")
    if mode == "processes" or (mode == "auto" and len(slots) > 1 and todo and not why_not):
        return ProcessWorkers(job, todo, slots)
    return ThreadWorkers(job, todo, slots)


def _why_not_processes(job: EpisodeJob) -> str | None:
    for spec in job.models:
        if isinstance(spec, str) and spec not in PORTABLE_SPECS and not spec.startswith(PORTABLE_PREFIXES):
            return f"the model {spec!r} would be loaded once per worker (threads share one)"
    try:
        pickle.dumps(job)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        return f"a model factory or policy cannot be sent to another process ({e})"
    return None


# ------------------------------------------------------------------------------------ threads

class ThreadWorkers:
    """Episodes on threads of this process, one device slot each, taking the next from a queue."""

    def __init__(self, job: EpisodeJob, todo: list[tuple[Task, int]], slots: list[Any]):
        self.job = job
        self._work: queue.Queue = queue.Queue()
        for item in todo:
            self._work.put(item)
        self._finished: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._worker, args=(i, slot), name=f"bench-worker-{i}", daemon=True)
                         for i, slot in enumerate(slots)]
        for t in self._threads:
            t.start()

    def _worker(self, index: int, slot: Any) -> None:
        while not self._stop.is_set():
            try:
                task, seed = self._work.get_nowait()
            except queue.Empty:
                return
            try:
                self._finished.put(self.job.run(slot, index, task, seed, self._stop))
            except (UserAbort, KeyboardInterrupt):
                return

    def results(self) -> Iterator[EpisodeResult]:
        while any(t.is_alive() for t in self._threads) or not self._finished.empty():
            try:
                yield self._finished.get(timeout=0.1)
            except queue.Empty:
                continue

    def stop(self) -> list[EpisodeResult]:
        self._stop.set()
        for t in self._threads:
            t.join()
        return [self._finished.get() for _ in range(self._finished.qsize())]

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------- processes

def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("!Q", head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


CHILD = "from vlagent.bench.workers import child_main; child_main()"


class ProcessWorkers:
    """One worker process per device slot; this process hands out the episodes one at a time."""

    def __init__(self, job: EpisodeJob, todo: list[tuple[Task, int]], slots: list[Any]):
        self.job = job
        self._todo = collections.deque(todo)
        self._inbox: queue.Queue = queue.Queue()
        self._inflight: dict[int, tuple[Task, int]] = {}
        self._stopping = False
        self._procs: list[subprocess.Popen] = []
        self._alive: set[int] = set()
        try:
            for index, slot in enumerate(slots):
                proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        start_new_session=True)  # a terminal's Ctrl-C is ours to handle
                self._procs.append(proc)
                self._alive.add(index)
                threading.Thread(target=self._read, args=(index, proc), name=f"bench-worker-{index}-reader",
                                 daemon=True).start()
                _send(proc.stdin, (job, slot, index))
        except BaseException:
            self.stop()
            raise

    def _read(self, index: int, proc: subprocess.Popen) -> None:
        try:
            while True:
                self._inbox.put((index, _recv(proc.stdout)))
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            self._inbox.put((index, None))  # it exited (or broke the protocol, which ends it too)

    def _hand_out(self, index: int) -> None:
        """Give worker `index` its next episode, or tell it there is none (its stdin closes)."""
        proc = self._procs[index]
        try:
            if self._todo and not self._stopping:
                task, seed = self._todo.popleft()
                self._inflight[index] = (task, seed)
                _send(proc.stdin, ("episode", task.id, seed))
            else:
                proc.stdin.close()
        except OSError:  # it is gone; its reader says so
            pass

    def _handle(self, index: int, message: Any) -> EpisodeResult | None:
        if message is None:
            self._alive.discard(index)
            code = self._procs[index].wait()
            lost = self._inflight.pop(index, None)
            if lost is not None and not self._stopping:
                task, seed = lost
                return self.job.lost(index, task, seed, f"the worker process exited ({code}) during the episode")
            if not self._alive and self._todo and not self._stopping:
                raise VLAgentError(f"every worker process exited (the last with code {code}) with "
                                   f"{len(self._todo)} episode(s) left; see the errors above")
            return None
        if message[0] == "result":
            self._inflight.pop(index, None)
            self._hand_out(index)
            return EpisodeResult.model_validate(message[1])
        self._hand_out(index)  # "ready"
        return None

    def results(self) -> Iterator[EpisodeResult]:
        while self._alive:
            result = self._next()
            if result is not None:
                yield result

    def _next(self) -> EpisodeResult | None:
        """The next finished episode a worker reported, if one came within 0.2 s."""
        try:
            index, message = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return None
        return self._handle(index, message)

    def stop(self) -> list[EpisodeResult]:
        self._stopping = True
        for proc in self._procs:
            try:
                proc.stdin.close()
            except OSError:
                pass
        finished = []
        deadline = time.monotonic() + STOP_GRACE
        while self._alive and time.monotonic() < deadline:
            result = self._next()
            if result is not None:
                finished.append(result)
        self.close()
        return finished

    def close(self) -> None:
        """Wait for the workers to exit (their stdin closed), escalating for any that do not."""
        for proc in self._procs:
            try:
                proc.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + STOP_GRACE
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            for proc in self._procs:
                if sig is not None and proc.poll() is None:
                    proc.send_signal(sig)
            for proc in self._procs:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()) if sig is None else 10)
                except subprocess.TimeoutExpired:
                    pass
            if all(proc.poll() is not None for proc in self._procs):
                break
        for proc in self._procs:
            proc.stdout.close()


def child_main() -> None:
    """A worker process: its device slot, then an episode at a time until its stdin closes."""
    signal.signal(signal.SIGTERM, _exit_cleanly)
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a task or model prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    inbox = sys.stdin.buffer
    job, slot, index = _recv(inbox)
    episodes: queue.Queue = queue.Queue()
    stop = threading.Event()

    def listen() -> None:
        try:
            while True:
                episodes.put(_recv(inbox))
        except (EOFError, OSError):
            stop.set()          # no more work, or the suite stopped, or it died: abort and leave
            episodes.put(None)

    threading.Thread(target=listen, name="bench-worker-inbox", daemon=True).start()
    tasks = all_tasks()
    _send(protocol, ("ready",))
    while True:
        message = episodes.get()
        if message is None or stop.is_set():
            return
        _, task_id, seed = message
        try:
            result = job.run(slot, index, tasks[task_id], seed, stop)
        except (UserAbort, KeyboardInterrupt):
            return
        _send(protocol, ("result", result.model_dump()))


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the episode: its SimPhone stops and leaves adb
