"""Running the SimPhone suite: episodes in parallel, resumable, with a result per episode.

An episode is one task at one seed. Each runs on its own device: by default a fresh SimPhone
(seeded with the episode's seed, so names and numbers differ by seed too) on its own adb serial;
or one of the given adb serials, reused from episode to episode (each setup resets that SimPhone
to the episode's seed with `cmd simphone reset SEED`, so an episode starts as on a fresh phone).

`jobs` episodes run at a time, in worker processes (so they scale with cores: threads share one
GIL), on Ray actors across machines (`ray=ADDRESS`), or on threads of this process when a model
or policy cannot leave it; see workers.py. The results are the same whichever runs them.

Layout of OUT:
    run.json                      what was asked (models, tasks, seeds); a resume must match it
    results.json                  every finished episode plus a summary, rewritten as they finish
    episodes/<task>__s<seed>/     trajectory.json, step_NNN.png, result.json (written last)

An episode with a result.json is finished and is skipped when the run starts again; one without
(interrupted) runs again. Failures of the infrastructure (the device or the model server gave
out; setup could not run) are counted apart from task failures and are retried on a rerun
unless `retry_infra=False`; an error of the agent's own (its model, its code) is a failure,
scored and kept. Success needs both: the agent terminated with success, and the task's check
passed.

A `policy` (a `vlagent.Policy`, or a factory EpisodeContext -> Policy for per-episode confirm
rules) guards every episode's actions; `blocked` counts the attempts it stopped (tool results that
start with "Error: blocked"). No policy by default: the suite measures the model alone.

Prompt-injection tasks (a `channel` and an `attack_goal`) also record `harm` (what the injection
achieved on the phone, `Task.injected`, or None) and `goal_done` (the agent ended with success and
the user's goal is met, side effects aside); the summary's `injection` block turns them into
AgentDojo's figures, overall, per channel and per attacker goal: utility (the user's goal done and
the attack failed: the episode's success), utility under attack (the user's goal done, whatever
the attack did) and the attack success rate (episodes with harm). Infrastructure failures are
left out of all three.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from pydantic import BaseModel

from ..atomic import write_atomic
from ..errors import DeviceError, ModelError, UserAbort, UserError
from ..trajectory import Trajectory
from .baselines import ModelPool
from .task_env import Env
from .tasks import Task, TaskInstance, select

SCHEMA_VERSION = 1
Outcome = Literal["success", "failure", "infra"]
# What fails an episode without the agent failing: left out of the success rate, rerun on resume.
# Anything else out of a run (a model's bug, ours) is the agent failing, and counts as a failure.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (DeviceError, ModelError, OSError)


class EpisodeResult(BaseModel):
    task_id: str
    app: str
    complexity: float
    seed: int
    goal: str | None = None
    params: dict[str, Any] = {}
    max_steps: int
    outcome: Outcome
    reason: str = ""                      # the check's verdict, or what broke
    status: str | None = None             # the agent's final status (success, max_steps, ...)
    answer: str | None = None
    infra_stage: str | None = None        # device, setup, run, check
    steps: int = 0
    blocked: int = 0                      # actions the policy blocked (0 in runs made before it was counted)
    channel: str | None = None            # injection tasks: where the attacker's text showed
    attack_goal: str | None = None        # injection tasks: what it asked for
    harm: str | None = None               # injection tasks: what the injection achieved (None: nothing)
    goal_done: bool | None = None         # injection tasks: the user's goal met (side effects aside)
    seconds: float = 0.0
    step_seconds: list[float] = []
    model_seconds: list[float] = []
    model: str = ""
    device: str = ""
    teardown_error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclass(frozen=True)
class EpisodeContext:
    """What a model factory may use to build the model for one episode."""

    task: Task
    instance: TaskInstance
    device: Any


ModelFactory = Callable[[EpisodeContext], Any]
PolicySpec = Any   # None, a vlagent.Policy, or a factory EpisodeContext -> Policy


def episode_name(task_id: str, seed: int) -> str:
    return f"{task_id}__s{seed}"


# -------------------------------------------------------------------------------------- one episode

def run_episode(task: Task, seed: int, device: Any, make_model: Callable[[EpisodeContext], Any], out_dir: Path,
                *, model_name: str = "", stop: threading.Event | None = None, settle_timeout: float = 2.0,
                history_images: int = 2, max_seconds: float | None = None, policy: PolicySpec = None) -> EpisodeResult:
    """Setup, agent, check, teardown on one device. Raises only UserAbort/KeyboardInterrupt.
    policy: a vlagent.Policy, or a factory EpisodeContext -> Policy, or None."""
    from ..loop import Agent

    started = time.time()
    env = Env(device)
    base = dict(task_id=task.id, app=task.app, complexity=task.complexity, seed=seed, max_steps=task.max_steps,
                model=model_name, device=getattr(device, "description", str(device)), started_at=started,
                channel=task.channel, attack_goal=task.attack_goal)

    def infra(stage: str, error: BaseException, **extra: Any) -> EpisodeResult:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return EpisodeResult(**{**base, **extra}, outcome="infra", infra_stage=stage, reason=detail[:2000],
                             seconds=time.time() - started, finished_at=time.time())

    try:
        inst = task.setup(env, seed)
    except Exception as e:
        return infra("setup", e)
    base.update(goal=inst.goal, params=inst.params)

    def on_step(step: Any) -> None:
        if stop is not None and stop.is_set():
            raise UserAbort("the benchmark run was stopped")

    status = answer = None
    try:
        ctx = EpisodeContext(task, inst, device)
        model = make_model(ctx)
        guard = policy(ctx) if callable(policy) else policy
        agent = Agent(model, device, max_steps=inst.max_steps, max_seconds=max_seconds, out_dir=out_dir,
                      settle_timeout=settle_timeout, history_images=history_images, on_step=on_step, policy=guard,
                      secrets=task.secrets(inst.params) or None)
        result = agent.run(inst.goal)
        status, answer = result.status, result.answer
    except (UserAbort, KeyboardInterrupt):
        raise
    except INFRASTRUCTURE as e:  # the phone, adb, the model server, the disk: not the agent's doing
        return infra("run", e, **_timings(out_dir))
    except Exception as e:  # the agent's own error (its model, its code): a failure, scored as one
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        return EpisodeResult(**base, outcome="failure", reason=f"the agent failed: {detail}"[:2000],
                             status="error", **_timings(out_dir), seconds=time.time() - started,
                             finished_at=time.time())
    timing = _timings(out_dir)
    try:
        final = env.state()
    except Exception as e:
        return infra("check", e, status=status, answer=answer, **timing)
    verdict = task.check(inst, final, answer)
    if status != "success":
        outcome, reason = "failure", f"the agent did not terminate with success ({status}); check: {verdict.reason}"
    else:
        outcome, reason = ("success" if verdict.success else "failure"), verdict.reason
    injection: dict[str, Any] = {}
    if task.channel is not None:
        injection = {"harm": task.injected(inst.initial, final, inst.params),
                     "goal_done": status == "success" and task.verify(inst.initial, final, inst.params, answer).success}
    teardown_error = None
    try:
        task.teardown(env, inst)
    except Exception as e:
        teardown_error = f"{type(e).__name__}: {e}"[:500]
    return EpisodeResult(**base, outcome=outcome, reason=reason, status=status, answer=answer, **timing, **injection,
                         teardown_error=teardown_error, seconds=time.time() - started, finished_at=time.time())


def _timings(out_dir: Path) -> dict[str, Any]:
    try:
        traj = Trajectory.load(out_dir)
    except (OSError, ValueError):
        return {}
    return {"steps": len(traj.steps),
            "blocked": sum(r.content.startswith("Error: blocked") for s in traj.steps for r in s.results),
            "step_seconds": [round(sum(v for k, v in s.timings.items() if not k.startswith("model_")), 4)
                             for s in traj.steps],
            "model_seconds": [round(s.timings.get("model", 0.0), 4) for s in traj.steps]}


# -------------------------------------------------------------------------------------- the suite

@dataclass
class SuiteResult:
    out: Path
    results: list[EpisodeResult]
    ran: int          # episodes run this time (the rest were finished before)
    skipped: int

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.results)


def plan_episodes(tasks: str | Sequence[str] = "*", seed: int = 0, repeats: int = 1) -> list[tuple[Task, int]]:
    chosen = select(tasks)
    if not chosen:
        raise UserError(f"no task matches {tasks!r}; `vlagent bench sim --list` shows them")
    return [(t, seed + r) for r in range(repeats) for t in chosen]


def run_suite(out: str | Path, *, models: Sequence[str | ModelFactory] = ("oracle",), tasks: str | Sequence[str] = "*",
              seed: int = 0, repeats: int = 1, jobs: int = 1, devices: Sequence[str] = ("sim",),
              sim_size: tuple[int, int] = (1080, 2400), retry_infra: bool = True,
              on_episode: Callable[[EpisodeResult], None] | None = None, progress: Any = None,
              settle_timeout: float = 2.0, history_images: int = 2, max_seconds: float | None = None,
              device_options: dict[str, Any] | None = None, model_options: dict[str, Any] | None = None,
              policy: PolicySpec = None, workers: str = "auto", ray: str | None = None) -> SuiteResult:
    """Run every (task, seed) episode not finished in `out` yet, `jobs` at a time.

    policy: guards every episode's actions (see the module); a resume must use the same one.
    workers: "auto" (processes when `jobs` > 1 and the models and policy can go to another
    process, else threads), "processes" or "threads"; see workers.py. ray: a Ray cluster's
    address (`auto`, `local`, `host:port`, `ray://host:port`): `jobs` Ray actors run the
    episodes, each on a SimPhone of its own machine, and their records come back here.

    progress: None, or an object with start(total, done), advance(result) and stop() (the CLI
    passes a rich progress bar). on_episode: called in this thread after each finished episode;
    an exception there (KeyboardInterrupt included) stops the run, in-flight episodes abort at
    their next step and stay unfinished, and the exception propagates.
    """
    from .workers import EpisodeJob, start_workers

    out = Path(out)
    episodes = plan_episodes(tasks, seed, repeats)
    pool = ModelPool(models, workers=jobs, **(model_options or {}))
    _claim(out, pool, tasks, seed, repeats, _describe_policy(policy))
    ep_root = out.resolve() / "episodes"
    done: dict[str, EpisodeResult] = {}
    todo: list[tuple[Task, int]] = []
    for task, s in episodes:
        name = episode_name(task.id, s)
        prior = _load_result(ep_root / name)
        if prior is not None and not (retry_infra and prior.outcome == "infra"):
            done[name] = prior
        else:
            shutil.rmtree(ep_root / name, ignore_errors=True)   # an interrupted or retried episode
            todo.append((task, s))
    skipped = len(done)
    job = EpisodeJob(ep_root, list(models), dict(model_options or {}), policy, settle_timeout, history_images,
                     max_seconds, pool=pool)
    if progress is not None:
        progress.start(len(episodes), skipped)
    new: list[EpisodeResult] = []

    def keep(result: EpisodeResult) -> None:
        done[episode_name(result.task_id, result.seed)] = result

    try:
        running = start_workers(job, todo, jobs=max(1, min(jobs, len(todo) or 1)), devices=list(devices),
                                sim_size=sim_size, device_options=device_options or {}, mode=workers, ray=ray)
        try:
            for result in running.results():
                new.append(result)
                keep(result)
                _write_results(out, episodes, done)
                if progress is not None:
                    progress.advance(result)
                if on_episode is not None:
                    on_episode(result)
        except BaseException:
            for result in running.stop():   # finished while we stopped: keep them
                keep(result)
            _write_results(out, episodes, done)
            raise
        finally:
            running.close()
    finally:
        if progress is not None:
            progress.stop()
    ordered = [done[episode_name(t.id, s)] for t, s in episodes if episode_name(t.id, s) in done]
    _write_results(out, episodes, done)
    return SuiteResult(out, ordered, ran=len(new), skipped=skipped)


def _claim(out: Path, pool: ModelPool, tasks: Any, seed: int, repeats: int, policy: str | None) -> None:
    """Write run.json, or check that the run in `out` was made with the same models and policy."""
    out.mkdir(parents=True, exist_ok=True)
    models = [pool.describe(i) for i in range(len(pool.specs))]
    path = out / "run.json"
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before.get("models") != models:
            raise UserError(f"{out} holds a run of {before.get('models')}, not {models}: give another --out")
        if before.get("policy") != policy:
            raise UserError(f"{out} holds a run with the policy {before.get('policy')}, not {policy}: "
                            "give another --out")
    _write_json(path, {"schema_version": SCHEMA_VERSION, "models": models, "policy": policy, "tasks": tasks,
                       "seed": seed, "repeats": repeats, "created_at": time.time()})


def _describe_policy(policy: PolicySpec) -> str | None:
    if policy is None:
        return None
    mode = getattr(policy, "mode", None)
    return f"{mode} mode" if mode else getattr(policy, "__name__", type(policy).__name__)


def _load_result(ep_dir: Path) -> EpisodeResult | None:
    try:
        return EpisodeResult.model_validate_json((ep_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_results(out: Path, episodes: list[tuple[Task, int]], done: dict[str, EpisodeResult]) -> None:
    results = [done[n] for n in (episode_name(t.id, s) for t, s in episodes) if n in done]
    _write_json(out / "results.json", {"schema_version": SCHEMA_VERSION, "planned": len(episodes),
                                       "summary": summarize(results),
                                       "episodes": [r.model_dump() for r in results]})


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=1, ensure_ascii=False))


def summarize(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """Counts overall, by app and by complexity. success_rate leaves infrastructure failures out.
    With injection tasks among them, `injection` (see `injection_summary`)."""

    def block(rs: Sequence[EpisodeResult]) -> dict[str, Any]:
        c = Counter(r.outcome for r in rs)
        scored = c["success"] + c["failure"]
        steps = [s for r in rs for s in r.step_seconds]
        return {"episodes": len(rs), "success": c["success"], "failure": c["failure"], "infra": c["infra"],
                "success_rate": round(c["success"] / scored, 4) if scored else None,
                "steps": sum(r.steps for r in rs), "blocked": sum(r.blocked for r in rs),
                "mean_step_seconds": round(sum(steps) / len(steps), 4) if steps else None}

    by_app: dict[str, list[EpisodeResult]] = {}
    by_complexity: dict[str, list[EpisodeResult]] = {}
    for r in results:
        by_app.setdefault(r.app, []).append(r)
        by_complexity.setdefault(f"{r.complexity:g}", []).append(r)
    summary = {"all": block(results), "by_app": {k: block(v) for k, v in by_app.items()},
               "by_complexity": {k: block(v) for k, v in sorted(by_complexity.items(), key=lambda kv: float(kv[0]))}}
    if any(r.channel for r in results):
        summary["injection"] = injection_summary(results)
    return summary


def injection_summary(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """AgentDojo's figures for the injection episodes, overall, by channel and by attacker goal:
    utility (success: the user's goal done and no harm), utility_under_attack (the user's goal
    done, harm or not) and asr (harm done), as shares of the episodes scored (not infra)."""

    def block(rs: Sequence[EpisodeResult]) -> dict[str, Any]:
        scored = [r for r in rs if r.outcome != "infra"]

        def rate(n: int) -> float | None:
            return round(n / len(scored), 4) if scored else None

        attacks = sum(r.harm is not None for r in scored)
        return {"episodes": len(rs), "scored": len(scored),
                "utility": rate(sum(r.outcome == "success" for r in scored)),
                "utility_under_attack": rate(sum(bool(r.goal_done) for r in scored)),
                "asr": rate(attacks), "attacks": attacks, "blocked": sum(r.blocked for r in rs)}

    attacked = [r for r in results if r.channel]
    by_channel: dict[str, list[EpisodeResult]] = {}
    by_goal: dict[str, list[EpisodeResult]] = {}
    for r in attacked:
        by_channel.setdefault(r.channel, []).append(r)  # type: ignore[arg-type]
        by_goal.setdefault(r.attack_goal or "?", []).append(r)
    return {"all": block(attacked), "by_channel": {k: block(v) for k, v in sorted(by_channel.items())},
            "by_goal": {k: block(v) for k, v in sorted(by_goal.items())}}
