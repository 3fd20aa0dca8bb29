"""`vlagent bench soak`: many agent steps in one process; memory, descriptors and threads must stay flat.

`run_soak(steps=1000)` starts a SimPhone, connects it to adb and drives it through `AdbDevice`
with the Agent, step after step, sampling the process every `sample_every` steps: resident
memory (RSS), open file descriptors, OS threads, Python threads and live Python objects. After a
warm-up (first allocations, lazy imports, the model's caches, the allocator's first growth) each
figure is summarised as start, end, min, max, growth (the median of the window's last fifth of
samples minus that of its first fifth: RSS swings by tens of MB from step to step) and a
least-squares slope per 1000 steps. The SimPhone runs in this process, so its memory and threads
are measured too.

The steps come as consecutive Agent runs of `run_steps` steps each (one Agent object, reused),
each writing its trajectory to the same directory, so the disk use stays bounded too; a single
long run works as well (its prompt summarises only the latest older steps).

The model: "tiny" (the random-weight Qwen2-VL built locally) or a checkpoint directory runs its
real forward pass every step (prefill and `max_new_tokens` decoded tokens), but the reply the
loop acts on is scripted, as in `vlagent bench perf`: open Settings, press Home, in turn, so every
step acts and the screen changes whatever the weights say. The tiny model measures the plumbing,
not a policy. "scripted" skips the forward pass altogether (the loop and the device alone).

The record's cost per step (`measure_records`, issue #20): a copy of the soak's last real step,
recorded `steps` times into one trajectory as the loop records a step (the write-ahead, the
`acted` mark, the step's end; each write waited for), timed per step; in the same run, at the
first and last steps, the whole-file atomic rewrite the writer used to do. Flat means the cost at
the end of the run over that at its start (medians of a window each) stays near 1.
"""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..atomic import write_atomic
from ..errors import UserError
from ..models.base import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, Completion
from ..models.memory_release import release_free_heap
from .perf import GOAL
from .perf_baseline import AdbRig
from .perf_machine import machine_info, rss_mb
from .perf_probe import ScriptedForward
from .sim_devices import SimPhones

# 360x800 phone pixels (density scaled to match): ~370 image tokens per screenshot; a tiny-model step
# took ~0.24 s here against ~0.5 s at 540x1200 (2 CPU cores), and the memory figures do not depend
# on the size. Half of what is left is the loop's settle wait (two captures 0.1 s apart).
DEFAULT_SIM_SIZE = (360, 800)
STAGES = ("capture", "preprocess", "model", "act", "settle", "record")  # the loop's own timings
METRICS = ("rss_mb", "fds", "threads", "python_threads", "python_objects")
# What "flat" means after the warm-up, per metric: the most growth allowed (see `_summary`).
FLAT_LIMITS = {"rss_mb": 50.0, "fds": 2, "threads": 2, "python_threads": 2}

Progress = Callable[[int, int, "dict[str, Any] | None"], None]


def run_soak(
    steps: int = 1000,
    *,
    model: str = "tiny",
    sim_size: tuple[int, int] = DEFAULT_SIM_SIZE,
    run_steps: int = 20,
    sample_every: int = 10,
    warmup: int | None = None,
    max_new_tokens: int = 8,
    history_images: int = 2,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run `steps` agent steps on a SimPhone and return the JSON-ready figures.

    model: "tiny", a checkpoint directory or Hugging Face id (real forward, scripted reply) or
    "scripted" (no forward). run_steps: steps per Agent run. warmup: steps before the window
    the figures are taken over (default: the larger of one run and a tenth of the steps, at most
    half of them). progress(done, total, sample) is called after every step, with the sample
    taken then (None between samples).
    """
    if steps < 2:
        raise UserError("bench soak needs at least 2 steps")
    if run_steps < 1 or sample_every < 1:
        raise UserError("bench soak: --run-steps and --sample-every must be at least 1")
    warmup = min(max(run_steps, steps // 10), steps // 2) if warmup is None else max(0, min(warmup, steps - 1))
    llm = _soak_model(model, max_new_tokens)
    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="vlagent-soak-"))
    record = _Record(steps, sample_every, progress)
    started = time.monotonic()
    # A SimPhone of sim_size (density scaled) through adb and AdbDevice, as the suite runner has them.
    with SimPhones(sim_size).open(seed=0) as device:
        from ..loop import Agent

        rig = AdbRig(device)  # the Settings icon's place, and the replies perf scripts with it
        record.samples.append(_sample(0))  # model loaded, device connected, nothing run yet
        # history_roll=1: a fixed window, so every step's prompt is as long as the last and the
        # working set is the same each step; with the rolling window it swings with the prompt
        # (2 to 5 screens: a full prefill's attention mask alone grows by ~100 MB), and RSS
        # growth would not tell a leak from the phase of the roll.
        agent = Agent(llm, device, max_steps=run_steps, history_images=history_images, history_roll=1,
                      out_dir=root, on_step=record.on_step, max_consecutive_errors=run_steps + 1,
                      repeat_limit=run_steps + 1)
        while record.done < steps:
            n = min(run_steps, steps - record.done)
            # Tap Settings on even steps (counted over the whole soak), Home on odd ones: each run
            # carries on from the screen the previous one left.
            llm.replies = [rig.reply((record.done + i) % 2 == 0, llm) for i in range(n)]
            agent.config.max_steps = n
            record.mark = time.perf_counter()
            result = agent.run(GOAL)
            record.statuses[result.status] = record.statuses.get(result.status, 0) + 1
            if result.status != "max_steps":
                raise RuntimeError(f"bench soak: run {sum(record.statuses.values())} stopped early "
                                   f"({result.status}); see {root}")
        description = device.description
    result = record.result(warmup)
    result.update(run_steps=run_steps, sample_every=sample_every, model=llm.description, device=description,
                  sim_size=list(sim_size), seconds=round(time.monotonic() - started, 1),
                  machine=machine_info(), out_dir=str(root))
    result["seconds_per_step"] = round(result["seconds"] / max(1, result["steps"]), 4)
    from ..trajectory import Trajectory

    template = Trajectory.load(root).steps[-1]
    result["records"] = measure_records(steps, template=template, out_dir=root / "records")
    return result


RECORD_WINDOW = 20  # steps per end of the run whose median record cost is compared


def measure_records(steps: int = 1000, *, template: Any, out_dir: str | Path,
                    window: int = RECORD_WINDOW) -> dict[str, Any]:
    """Record `steps` copies of the Step `template` into one trajectory in `out_dir`, as the loop
    does, and time each step's writes; then the old whole-file rewrite is timed on the same
    trajectory, as it stood at each of the first and last `window` steps (afterwards, not in
    between: its megabytes of fsync'd writes would slow our appends' syncs). Returns
    milliseconds per step (medians of those windows), their ratios late/early and the file sizes."""
    import statistics

    from ..trajectory import Trajectory, TrajectoryWriter

    out_dir = Path(out_dir)
    window = max(1, min(window, steps // 2))
    traj = Trajectory(goal=GOAL, model="records", device="records", coordinate_system="relative-1000")
    writer = TrajectoryWriter(out_dir / "ours", traj)
    naive_path = out_dir / "naive" / TrajectoryWriter.FILENAME
    ours: list[float] = []
    naive: dict[int, float] = {}
    written: dict[int, tuple[int, int]] = {}  # bytes written for a step: ours, the whole-file rewrite
    timed = [*range(window), *range(steps - window, steps)]
    grew: dict[int, int] = {}
    writer.write()
    for index in range(steps):
        step = template.model_copy(deep=True, update={"index": index, "screenshot": f"step_{index:03d}.png"})
        size = writer.path.stat().st_size
        t = time.perf_counter()
        for _ in _record_stages(traj, step):
            writer.write()
        ours.append(time.perf_counter() - t)
        grew[index] = writer.path.stat().st_size - size + 3 * 4  # each write also rewrites the closing
    grown = writer.path.stat().st_size
    writer.close()
    for index in timed:  # the same three writes, the way the writer made them before issue #20
        then = traj.model_copy(update={"steps": traj.steps[:index + 1]})
        t = time.perf_counter()
        rewritten = 0
        for _ in _record_stages(then, then.steps[index], again=True):
            text = then.model_dump_json(indent=1)
            write_atomic(naive_path, text, durable=True)
            rewritten += len(text.encode("utf-8"))
        naive[index] = time.perf_counter() - t
        written[index] = (grew[index], rewritten)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 3)

    def kb(which: int, indices: range) -> float:
        return round(statistics.median(written[i][which] for i in indices) / 1000, 2)

    first, last = range(window), range(steps - window, steps)
    early, late = ms(ours[:window]), ms(ours[-window:])
    naive_early, naive_late = ms([naive[i] for i in first]), ms([naive[i] for i in last])
    return {"steps": steps, "window": window,
            "ms_per_step": {"early": early, "late": late}, "ratio": round(late / early, 2),
            "kb_per_step": {"early": kb(0, first), "late": kb(0, last)},
            "naive_ms_per_step": {"early": naive_early, "late": naive_late},
            "naive_ratio": round(naive_late / naive_early, 2),
            "naive_kb_per_step": {"early": kb(1, first), "late": kb(1, last)},
            "file_bytes": grown, "compacted_bytes": writer.path.stat().st_size,
            "naive_file_bytes": naive_path.stat().st_size}


def _record_stages(traj: Any, step: Any, *, again: bool = False) -> Any:
    """The loop's three records of a step: its write-ahead (appended, `acting`), the `acted`
    mark and its end; yields after setting each up. again: the step is in already."""
    step.acting, step.acted = True, False
    if not again:
        traj.steps.append(step)
    yield "write-ahead"
    step.acted = True
    yield "acted"
    step.acting = False
    yield "end"


class _Record:
    """What the soak keeps per step (numbers only, nothing of the step itself) and its samples."""

    def __init__(self, steps: int, sample_every: int, progress: Progress | None) -> None:
        self.steps, self.sample_every, self.progress = steps, sample_every, progress
        self.done = 0
        self.mark = time.perf_counter()
        self.samples: list[dict[str, Any]] = []
        self.step_seconds: list[float] = []
        self.stage_seconds: dict[str, list[float]] = {stage: [] for stage in STAGES}
        self.errors = self.prompt_tokens_max = self.trajectory_steps_max = 0
        self.statuses: dict[str, int] = {}

    def on_step(self, step: Any) -> None:
        self.done += 1
        self.step_seconds.append(time.perf_counter() - self.mark)
        for stage, seconds in self.stage_seconds.items():
            seconds.append(step.timings.get(stage, 0.0))
        self.errors += len(step.errors)
        self.prompt_tokens_max = max(self.prompt_tokens_max, step.usage.get("prompt_tokens", 0))
        self.trajectory_steps_max = max(self.trajectory_steps_max, step.index + 1)
        sample = _sample(self.done) if self.done % self.sample_every == 0 or self.done == self.steps else None
        if sample is not None:
            self.samples.append(sample)
        if self.progress is not None:
            self.progress(self.done, self.steps, sample)
        self.mark = time.perf_counter()  # sampling and progress are not the next step's time

    def result(self, warmup: int) -> dict[str, Any]:
        import numpy as np

        window = [s for s in self.samples if s["step"] >= warmup]
        if len(window) < 2:  # too few samples after the warm-up: use the last two there are
            window = self.samples[-2:]
        figures = {m: _summary([(s["step"], s[m]) for s in window]) for m in METRICS}
        flat = {m: figures[m]["growth"] <= limit for m, limit in FLAT_LIMITS.items()}
        p50, p95 = np.percentile(self.step_seconds, [50, 95]) if self.step_seconds else (0.0, 0.0)
        return {
            "steps": self.done,
            "runs": sum(self.statuses.values()),
            "warmup_steps": warmup,
            "window": {"from_step": window[0]["step"], "to_step": window[-1]["step"], "samples": len(window)},
            "step_seconds": {"p50": round(float(p50), 4), "p95": round(float(p95), 4),
                             "max": round(max(self.step_seconds, default=0.0), 4)},
            "stages_ms_p50": {k: round(float(np.median(v)) * 1000, 2) for k, v in self.stage_seconds.items() if v},
            "figures": figures,
            "limits": FLAT_LIMITS,
            "flat": flat,
            "all_flat": all(flat.values()),
            "errors": self.errors,
            "statuses": self.statuses,
            "prompt_tokens_max": self.prompt_tokens_max,
            "trajectory_steps_max": self.trajectory_steps_max,
            "samples": self.samples,
        }


# -- the pieces --------------------------------------------------------------------------------------

class _ScriptOnly:
    """No model at all: the scripted replies alone (the loop and the device under soak)."""

    coordinate_system = "relative-1000"
    min_pixels, max_pixels = DEFAULT_MIN_PIXELS, DEFAULT_MAX_PIXELS
    description = "scripted (no model forward)"

    def __init__(self) -> None:
        self.replies: list[str] = []

    def generate(self, messages: list, tools: list | None = None, **options: Any) -> Completion:
        return Completion(text=self.replies.pop(0) if self.replies else "")


def _soak_model(spec: str, max_new_tokens: int) -> Any:
    if spec == "scripted":
        return _ScriptOnly()
    if spec.startswith(("scripted:", "http://", "https://")):
        raise UserError("bench soak runs the model in this process: tiny, a checkpoint directory, a Hugging Face "
                        "id, or scripted (no model); a server's memory is not this process's")
    from ..specs import load_model

    return ScriptedForward(load_model(spec).load(), max_new_tokens)


def _sample(step: int) -> dict[str, Any]:
    """The process's figures now. Garbage is collected and glibc's free heap handed back first
    (`malloc_trim`): freed memory glibc keeps in its per-thread arenas (the SimPhone's server
    threads, the writer's, torch's) counts in RSS until some later allocation reuses it, and
    which step that happens at is noise of tens of MB (the model's own release keeps RSS within
    a 32 MB band of a floor it may raise; measured over 600 steps: 855-913 MB as found, 826-860
    after the release, with no Python allocation growing by more than 70 KB); a leak is memory
    still held after both."""
    gc.collect()
    release_free_heap()
    return {"step": step, "rss_mb": round(rss_mb(), 2), "fds": _open_fds(), "threads": _os_threads(),
            "python_threads": threading.active_count(), "python_objects": len(gc.get_objects())}


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # less the descriptor listdir itself holds
    except FileNotFoundError:  # not Linux
        import psutil

        return psutil.Process().num_fds()


def _os_threads() -> int:
    import psutil

    return psutil.Process().num_threads()


def _summary(points: list[tuple[int, float]]) -> dict[str, Any]:
    """start, end, min, max of the samples; growth: the median of the last fifth of them minus
    the median of the first fifth (RSS swings within a band of tens of MB from one step to the
    next as the model's buffers are freed and trimmed, so a single start or end sample would
    measure where in that band it fell); the least-squares slope, per 1000 steps."""
    import numpy as np

    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    slope = float(np.polyfit(xs, ys, 1)[0]) * 1000 if len(points) >= 3 and np.ptp(xs) > 0 else 0.0
    k = max(1, len(ys) // 5)
    growth = float(np.median(ys[-k:]) - np.median(ys[:k]))
    return {"start": ys[0].item(), "end": ys[-1].item(), "min": ys.min().item(), "max": ys.max().item(),
            "growth": round(growth, 2) + 0.0, "slope_per_1000_steps": round(slope, 2) + 0.0}


def _records_caption(records: dict[str, Any] | None) -> str:
    if not records:
        return ""
    ms, naive = records["ms_per_step"], records["naive_ms_per_step"]
    return (f"\nrecord per step: {ms['early']:.2f} ms at the start, {ms['late']:.2f} ms after {records['steps']} "
            f"steps (x{records['ratio']:g}); whole-file rewrite: {naive['early']:.2f} -> {naive['late']:.2f} ms "
            f"(x{records['naive_ratio']:g})")


METRIC_NAMES = {"rss_mb": "RSS MB", "fds": "open fds", "threads": "OS threads",
                "python_threads": "Py threads", "python_objects": "Py objects"}


def render_table(result: dict[str, Any]) -> Any:
    """A rich Table of the figures after the warm-up, with the flatness verdicts."""
    from rich.table import Table

    w = result["window"]
    table = Table(title=f"vlagent bench soak: {result['steps']} steps, {result['device']}, {result['model']}",
                  caption=f"after a {result['warmup_steps']}-step warm-up: steps {w['from_step']}-{w['to_step']}, "
                          f"{w['samples']} samples; {result['seconds']:.0f} s, "
                          f"{result['seconds_per_step']:.3f} s/step; {result['errors']} step error(s)"
                          + _records_caption(result.get("records")))
    for name in ("", "start", "end", "min", "max", "growth", "per 1k steps", "flat"):
        table.add_column(name, justify="left" if name == "" else "right")
    for metric in METRICS:
        f = result["figures"][metric]
        limit = result["limits"].get(metric)
        verdict = "" if limit is None else (
            f"[green]yes[/] ≤+{limit:g}" if result["flat"][metric] else f"[red]NO[/] >+{limit:g}")
        table.add_row(METRIC_NAMES[metric], *(f"{f[k]:,.1f}" if metric == "rss_mb" else f"{f[k]:,.0f}"
                                              for k in ("start", "end", "min", "max")),
                      f"{f['growth']:+,.1f}", f"{f['slope_per_1000_steps']:+,.1f}", verdict)
    return table


__all__ = ["run_soak", "measure_records", "render_table", "DEFAULT_SIM_SIZE", "FLAT_LIMITS", "METRICS"]
