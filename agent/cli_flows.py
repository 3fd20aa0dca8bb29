"""Commands that repeat recorded work on a device: `vlagent flow run` (YAML flows of exact and
model-grounded steps) and `vlagent replay` (a run's actions again, re-grounded where the screen
differs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .errors import VLAgentError
from .terminal import console, fail


flow_app = typer.Typer(help="Automation flows: YAML scripts of exact and model-grounded steps.",
                       no_args_is_help=True, rich_markup_mode=None)


@flow_app.command("run")
def flow_run(
    path: Annotated[Path, typer.Argument(help="The flow file (YAML).")],
    device: Annotated[Optional[str], typer.Option("--device", "-d", help="Overrides the flow's device: sim, adb[:SERIAL], desktop[:N].")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Overrides the flow's model (needed by grounded steps the cache does not hold).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", metavar="DIR", help="Record the run here as a trajectory (a new or empty directory).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the run already in --out DIR.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model even when the grounding cache knows the answer.")] = False,
) -> None:
    """Run a YAML flow. Grounded steps already seen on an unchanged screen cost no model call."""
    from .flows import run_flow
    from .trajectory import prepare_run_dir

    try:
        if out is not None:
            prepare_run_dir(out, overwrite=overwrite)
        result = run_flow(path, device, model, out, cache=not no_cache)
    except VLAgentError as e:
        fail(str(e), type(e).__name__)
    table = Table("#", "step", "where", "model calls", "cached", "seconds", title=result.name or str(path))
    for step in result.steps:
        table.add_row(str(step.index), step.kind, step.where, str(step.model_calls), "yes" if step.cached else "", f"{step.seconds:.2f}")
    console.print(table)
    console.print(f"{result.status}: {result.model_calls} model call(s), {result.cache_hits} cache hit(s)")
    raise typer.Exit(0 if result.status == "success" else 1)


def replay_cmd(
    directory: Annotated[Path, typer.Argument(help="A run directory holding trajectory.json.")],
    device: Annotated[str, typer.Option("--device", "-d", help="Where to replay: sim, adb[:SERIAL], desktop[:N].")] = "sim",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Re-grounds steps whose screen differs; without one, a differing screen stops the replay.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", metavar="DIR", help="Record the replay as a trajectory (a new or empty directory).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the run already in --out DIR.")] = False,
) -> None:
    """Replay a run's actions without the model, re-grounding only where the screen differs."""
    from .replay import replay
    from .trajectory import prepare_run_dir

    try:
        if out is not None:
            prepare_run_dir(out, overwrite=overwrite)
        result = replay(directory, device, model, out)
    except VLAgentError as e:
        fail(str(e), type(e).__name__)
    console.print(
        f"replayed {result.replayed} step(s), re-grounded {result.regrounded}, "
        f"{result.model_calls} model call(s) in {result.seconds:.1f}s"
    )
