"""`vlagent bench ...`: benchmark commands (typer). `sim` runs the SimPhone task suite; other
benchmarks add their commands to `bench_app`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..specs import ANIMATIONS_HELP, PROFILE_HELP, PROMPT_STYLE_HELP, model_options, with_animations
from ..terminal import console, fail

bench_app = typer.Typer(
    help="Benchmarks: the SimPhone task suite (sim) and more.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain click help, as the top-level app (see vlagent.cli)
    pretty_exceptions_enable=False,
)


@bench_app.callback()
def bench() -> None:
    """Benchmarks: the SimPhone task suite (sim) and more."""

SIM_EXAMPLES = """Examples:

  vlagent bench sim --model oracle --out runs/oracle -j 4   (proves every task solvable)

  vlagent bench sim --model http://gpu1:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct,http://gpu2:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct --out runs/qwen -j 8

  vlagent bench sim --model random --tasks 'clock.*,notes.*' --seed 3 --repeats 5 --out runs/random

  vlagent bench sim --model gullible --tasks 'injection.*' --policy deny --out runs/guarded   (the guard against prompt injection)

  vlagent bench sim --model attacker --tasks 'injection.*' --policy deny --out runs/asr   (attack success rate against a fully fooled model)
"""


class RichProgress:
    """The runner's progress protocol on a rich progress bar."""

    def __init__(self, console: Console):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[bad]} failed[/] "
                                            "[yellow]{task.fields[infra]} infra[/]"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        self.counts = {"success": 0, "failure": 0, "infra": 0}
        self.task: Any = None

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("episodes", total=total, completed=done, ok=0, bad=0, infra=0)

    def advance(self, result: Any) -> None:
        self.counts[result.outcome] += 1
        self.progress.update(self.task, advance=1, description=result.task_id, ok=self.counts["success"],
                             bad=self.counts["failure"], infra=self.counts["infra"])

    def stop(self) -> None:
        self.progress.stop()


def summary_table(summary: dict) -> Table:
    table = Table(title="SimPhone suite")
    for col in ("app", "episodes", "success", "failure", "infra", "success rate", "s/step", "blocked"):
        table.add_column(col, justify="left" if col == "app" else "right")

    def row(name: str, b: dict, style: str | None = None) -> None:
        rate = "n/a" if b["success_rate"] is None else f"{100 * b['success_rate']:.1f}%"
        step = "" if b["mean_step_seconds"] is None else f"{b['mean_step_seconds']:.2f}"
        table.add_row(name, str(b["episodes"]), str(b["success"]), str(b["failure"]), str(b["infra"]), rate, step,
                      str(b.get("blocked", 0)), style=style)

    for app, b in summary["by_app"].items():
        row(app, b)
    row("all", summary["all"], style="bold")
    return table


def injection_table(summary: dict) -> Table:
    """The injection episodes' utility, utility under attack and attack success rate (runner's
    `injection_summary`), per channel, per attacker goal and overall."""
    table = Table(title="Prompt injection")
    for col in ("channel / goal", "episodes", "utility", "utility under attack", "ASR", "blocked"):
        table.add_column(col, justify="left" if col == "channel / goal" else "right")

    def pct(rate: float | None) -> str:
        return "n/a" if rate is None else f"{100 * rate:.1f}%"

    def row(name: str, b: dict, style: str | None = None) -> None:
        table.add_row(name, str(b["episodes"]), pct(b["utility"]), pct(b["utility_under_attack"]), pct(b["asr"]),
                      str(b["blocked"]), style=style)

    inj = summary["injection"]
    for kind, blocks in (("channel", inj["by_channel"]), ("goal", inj["by_goal"])):
        for name, b in blocks.items():
            row(f"{kind} {name}", b)
    row("all", inj["all"], style="bold")
    return table


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter("give the size as WIDTHxHEIGHT, e.g. 1080x2400") from None
    return w, h


SIM_HELP = (
    "Run the SimPhone task suite with a model and score it.\n\n"
    "Success needs the agent to terminate with success and the task's exact check to pass on the "
    "phone's state. Failures of the device or the model server count apart (infra). Rerun with the "
    "same --out to resume. With --policy, actions the guard blocked are counted per episode (blocked). "
    "Injection tasks add a table per channel and attacker goal: utility (the user's goal done and the "
    "attack failed), utility under attack (the user's goal done) and the attack success rate (ASR)."
)


def _suite_policy(mode: str | None, progress: RichProgress) -> Any:
    """--policy: None, or a vlagent.Policy; `ask` asks at this terminal, one question at a time
    (the progress bar pauses), and declines everything when there is no terminal to ask at."""
    import sys
    import threading

    from ..policy import Policy

    if mode is None:
        return None
    if mode == "user":
        from .tasks import approving_user

        return approving_user
    if mode not in ("deny", "allow", "ask", "user"):
        raise typer.BadParameter("use deny, allow, ask or user", param_hint="--policy")
    if mode != "ask" or not sys.stdin.isatty():
        return Policy(mode)   # ask without a confirm callback blocks: nobody can be asked
    lock = threading.Lock()

    def confirm(assessment: Any, action: Any) -> bool:
        with lock:
            progress.progress.stop()
            try:
                return typer.confirm(f"The agent wants to go on by {assessment}. Allow it?", default=False)
            finally:
                progress.progress.start()

    return Policy("ask", confirm=confirm)


@bench_app.command(help=SIM_HELP, epilog=SIM_EXAMPLES)
def sim(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory: results.json, report.html, a folder per episode. Rerun to resume.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="oracle, gullible (the oracle, but it obeys text on the screen: for the injection tasks), attacker (the oracle, but it first carries out each injection task's attacker plan: the guard alone stands in the way), random[:SEED], or model specs as for `vlagent run` (comma-separated: episodes spread over them, e.g. several server URLs).")] = "oracle",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Episodes at a time, each on its own device, in worker processes (on threads when the model is loaded in this process or --policy ask asks here); with --ray, the number of Ray workers.")] = 1,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="ADDRESS", help="Run the episodes on a Ray cluster (pip install 'vlagent[ray]'): auto, host:port or ray://host:port of its head, or local (a private one on this machine). Each worker runs its episodes on a SimPhone of its own machine; results and report come here.")] = None,
    tasks: Annotated[str, typer.Option("--tasks", "-t", help="Task ids or globs, comma-separated (e.g. 'clock.*,notes.create').")] = "*",
    seed: Annotated[int, typer.Option(help="First seed: it picks names, times and numbers (and the SimPhone's data).")] = 0,
    repeats: Annotated[int, typer.Option(min=1, help="Seeds per task: seed, seed+1, ...")] = 1,
    device: Annotated[str, typer.Option("--device", "-d", help="sim (a fresh SimPhone per episode), or adb:SERIAL,... (SimPhones already on adb, one per worker).")] = "sim",
    sim_size: Annotated[str, typer.Option(help="SimPhone screen WIDTHxHEIGHT (density scales with it).")] = "1080x2400",
    animations: Annotated[str, typer.Option("--animations", metavar="off|real", help=ANIMATIONS_HELP)] = "off",
    retry_infra: Annotated[bool, typer.Option(help="On a rerun, run again the episodes that failed for infrastructure reasons.")] = True,
    report: Annotated[bool, typer.Option(help="Write report.html (screenshots with actions drawn, plots).")] = True,
    history_images: Annotated[int, typer.Option(min=1, help="Screenshots the model sees per step at least (RunConfig.history_images).")] = 2,
    max_pixels: Annotated[Optional[int], typer.Option(help="Largest image area fed to the model.")] = None,
    profile: Annotated[Optional[str], typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    prompt_style: Annotated[Optional[str], typer.Option(metavar="full|bare", help=PROMPT_STYLE_HELP)] = None,
    policy: Annotated[Optional[str], typer.Option("--policy", help="Guard the agent's actions (vlagent.Policy): deny blocks sends, calls, installs, deletions and the like; allow lets them through; ask asks you at this terminal, and without a terminal declines; user is ask answered by each task's simulated user, who approves only what the goal asks for (false alarms then cost tasks). Default: no guard.")] = None,
    list_tasks: Annotated[bool, typer.Option("--list", help="List the tasks and exit.")] = False,
) -> None:
    """Run the SimPhone task suite with a model and score it (help: SIM_HELP)."""
    from ..errors import UserError, VLAgentError
    from .runner import run_suite
    from .tasks import select

    if list_tasks:
        table = Table(title="SimPhone tasks")
        for col in ("id", "app", "complexity", "steps", "checks"):
            table.add_column(col)
        for t in select(tasks):
            table.add_row(t.id, t.app, f"{t.complexity:g}", str(t.max_steps),
                          ("answer: " if t.info else "") + t.description)
        Console().print(table)
        return
    if out is None:
        raise typer.BadParameter("give the run directory with --out DIR (rerun with the same DIR to resume)",
                                 param_hint="--out")
    options = model_options(profile, max_pixels, prompt_style)
    models = [m.strip() for m in model.split(",") if m.strip()]
    progress = RichProgress(console)
    guard = _suite_policy(policy, progress)
    try:
        result = run_suite(out, models=models, tasks=tasks, seed=seed, repeats=repeats, jobs=jobs,
                           devices=with_animations(device, animations).split(","), sim_size=_size(sim_size),
                           retry_infra=retry_infra,
                           progress=progress, history_images=history_images, model_options=options, policy=guard,
                           ray=ray)
    except KeyboardInterrupt:
        console.print(f"[yellow]Stopped.[/] Finished episodes are kept in {out}; run the same command to resume.")
        raise typer.Exit(130) from None
    except (UserError, VLAgentError) as e:
        fail(str(e))
    console.print(summary_table(result.summary))
    if "injection" in result.summary:
        console.print(injection_table(result.summary))
    console.print(f"{result.ran} episodes run, {result.skipped} already finished; results in {out / 'results.json'}")
    if report:
        from .report import write_report

        console.print(f"report: {write_report(out)}")


@bench_app.command()
def dataset(
    name: Annotated[str, typer.Argument(help="aitw, aitz, android_control, screenspot or bfcl.")],
    data: Annotated[Path, typer.Option("--data", help="The dataset's file or folder, in its own format (nothing is downloaded).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model id or path, server URL, or scripted:FILE.json.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write metrics.json and results.jsonl here.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Score only the first N episodes (ScreenSpot, BFCL: examples).")] = None,
    images: Annotated[Optional[Path], typer.Option(help="Folder of the dataset's screenshots, when not beside --data.")] = None,
    level: Annotated[str, typer.Option(help="AndroidControl instructions: high or low.")] = "high",
) -> None:
    """Score a model on a public dataset with the metrics its paper reports."""
    import json

    from ..errors import VLAgentError
    from ..specs import load_model
    from .datasets import run_dataset

    try:
        llm = load_model(model)
        with Progress(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task(name, total=None)

            def progress(done: int, total: int, row: Any) -> None:
                bar.update(task, completed=done, total=total)

            result = run_dataset(name, data, llm, limit=limit, out=out, images_dir=images, level=level,
                                 progress=progress)
    except VLAgentError as e:
        fail(str(e), type(e).__name__)
    table = Table("metric", "value", title=f"{name} — {result['model']}")
    for key, value in _flatten(result["metrics"]):
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else json.dumps(value))
    console.print(table)


def _flatten(metrics: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(metrics, dict):
        return [row for k, v in metrics.items() for row in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), metrics)]


@bench_app.command()
def perf(
    device: Annotated[str, typer.Option("--device", "-d", help="sim or desktop.")] = "sim",
    model: Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help="tiny, a checkpoint directory or a Hugging Face id: both loops run it in this process, so servers and scripted models cannot be compared.")] = "tiny",
    steps: Annotated[int, typer.Option(min=1, help="Steps of each loop (ours and the naive baseline).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of a table.")] = False,
    animations: Annotated[str, typer.Option("--animations", metavar="off|real", help=ANIMATIONS_HELP)] = "off",
) -> None:
    """Time our loop against a naive one built from stock calls, on the same device in one run.

    Prints per-stage p50/p95, the ratios naive/ours, the framework's own overhead per step and
    the RSS growth. Compare figures only within one run: machines are noisy.
    """
    import json

    from ..errors import VLAgentError
    from .perf import run_perf
    from .perf_table import render_table

    try:
        result = run_perf(device=with_animations(device, animations), model=model, steps=steps, as_json=as_json)
    except VLAgentError as e:
        fail(str(e), type(e).__name__)
    if as_json:
        typer.echo(json.dumps(result, indent=1))
    else:
        Console().print(render_table(result))


SOAK_HELP = (
    "Run many agent steps on a SimPhone in this process and check that memory, open file "
    "descriptors and threads stay flat.\n\n"
    "The model's forward pass runs for real every step, but the reply acted on is scripted (open "
    "Settings, press Home, in turn), so the tiny random-weight model measures the plumbing, not a "
    "policy. Steps come as consecutive runs of --run-steps each. Figures are taken after a warm-up: "
    "start, end, min, max, growth and a least-squares slope per 1000 steps. Exit status 1 when RSS "
    "grew more than 50 MB or descriptors or threads by more than 2."
)
SOAK_EXAMPLES = """Examples:

  vlagent bench soak --steps 1000

  vlagent bench soak --steps 200 --model scripted --json > soak.json   (the loop and device alone)
"""


@bench_app.command(help=SOAK_HELP, epilog=SOAK_EXAMPLES)
def soak(
    steps: Annotated[int, typer.Option(min=2, help="Agent steps in all.")] = 1000,
    model: Annotated[str, typer.Option("--model", "-m", help="tiny, a checkpoint directory or Hugging Face id (real forward, scripted reply), or scripted (no model).")] = "tiny",
    sim_size: Annotated[str, typer.Option(help="SimPhone screen WIDTHxHEIGHT (density scales with it).")] = "360x800",
    run_steps: Annotated[int, typer.Option(min=1, help="Steps per agent run; each run rewrites the trajectory in --out (one long run: --run-steps = --steps).")] = 20,
    sample_every: Annotated[int, typer.Option(min=1, help="Sample memory, descriptors and threads every this many steps.")] = 10,
    warmup: Annotated[Optional[int], typer.Option(min=0, help="Steps before the measured window (default: one run or a tenth of the steps).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Directory for the runs' trajectory (default: a temp dir).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of a table.")] = False,
) -> None:
    """Many steps in one process; memory, descriptors and threads must stay flat (help: SOAK_HELP)."""
    import json

    from ..errors import VLAgentError
    from .soak import render_table, run_soak

    columns = (TextColumn("[bold]soak"), BarColumn(), MofNCompleteColumn(),
               TextColumn("RSS {task.fields[rss]} MB, {task.fields[fds]} fds, {task.fields[threads]} threads"),
               TimeElapsedColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("soak", total=steps, rss="-", fds="-", threads="-")

            def progress(done: int, total: int, sample: Any) -> None:
                fields = {} if sample is None else {
                    "rss": f"{sample['rss_mb']:.0f}", "fds": sample["fds"], "threads": sample["threads"]}
                bar.update(task, completed=done, **fields)

            result = run_soak(steps, model=model, sim_size=_size(sim_size), run_steps=run_steps,
                              sample_every=sample_every, warmup=warmup, out_dir=out, progress=progress)
    except KeyboardInterrupt:
        console.print("[yellow]Stopped.[/]")
        raise typer.Exit(130) from None
    except VLAgentError as e:
        fail(str(e), type(e).__name__)
    if as_json:
        typer.echo(json.dumps(result, indent=1))
    else:
        Console().print(render_table(result))
    raise typer.Exit(0 if result["all_flat"] else 1)
