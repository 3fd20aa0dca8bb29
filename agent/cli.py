"""The `vlagent` command line (typer + rich): the app, the agent's own commands (run, prompt), the
SimPhone and checkpoint utilities (sim, tiny-model, profiles), and where the other commands join
it: chat (cli_chat.py), flow and replay (cli_flows.py), bench (bench/cli.py), data and train
(training/cli.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from click.core import ParameterSource
from rich.markup import escape
from rich.table import Table

from ._version import __version__
from .cli_chat import chat
from .cli_flows import flow_app, replay_cmd
from .errors import UserAbort, UserError, VLAgentError
from .terminal import confirm_on_terminal, console, fail, printable
from .specs import ANIMATIONS_HELP, DEVICE_HELP, MODEL_HELP, PROFILE_HELP, PROMPT_STYLE_HELP, model_options

app = typer.Typer(
    name="vlagent",
    help="Visual agents for phones and desktops on Qwen2-VL-family models.\n\n"
    "\b\nExamples:\n"
    "  vlagent run 'Turn on Wi-Fi' --device sim --model scripted:examples/wifi_scripted.json\n"
    "  vlagent run 'Turn on Wi-Fi' --device adb --model Qwen/Qwen2-VL-2B-Instruct\n"
    "  vlagent run 'Open Settings' --device sim --model http://localhost:8000/v1#Qwen/Qwen2.5-VL-7B-Instruct\n"
    "  vlagent flow run examples/flow_wifi.yaml\n"
    "  vlagent tiny-model ./tiny   (a random-weight checkpoint for offline tests)",
    no_args_is_help=True,
    # click's own help layout: typer's rich panels label every flag `<bool>` (typer 0.29) as if
    # it took a value, and rich markup would eat bracketed text such as adb[:SERIAL].
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
EXIT_CODES = {
    "success": 0, "failure": 1, "max_steps": 1, "timeout": 1, "max_tokens": 1, "stuck": 1,
    "too_many_errors": 1, "ask_user": 3,
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vlagent {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    """Visual agents for phones and desktops on Qwen2-VL-family models."""


@app.command()
def run(
    ctx: typer.Context,
    goal: Annotated[Optional[str], typer.Argument(metavar="GOAL", help="What the agent should do, in plain words (not with --resume).")] = None,
    device: Annotated[str, typer.Option("--device", "-d", metavar="DEVICE", help=f"Where to act: {DEVICE_HELP}. --device sim connects through the adb server on $ANDROID_ADB_SERVER_PORT (default 5037), starting one if none runs.")] = "sim",
    animations: Annotated[str, typer.Option("--animations", metavar="off|real", help=ANIMATIONS_HELP)] = "off",
    model: Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help=f"Who decides: {MODEL_HELP}.")] = "Qwen/Qwen2-VL-2B-Instruct",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", metavar="DIR", help="Run directory for trajectory.json and screenshots: new or empty (default: a new temp dir).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the run already in --out DIR.")] = False,
    max_steps: Annotated[int, typer.Option(min=1, help="Stop after this many steps.")] = 20,
    max_seconds: Annotated[Optional[float], typer.Option(metavar="SECONDS", help="Stop after this much wall time.")] = None,
    history_images: Annotated[int, typer.Option(min=1, help="Screenshots the model sees per step at least (RunConfig.history_images: the window grows in chunks so prompts extend each other).")] = 2,
    max_pixels: Annotated[Optional[int], typer.Option(metavar="PIXELS", help="Largest image area fed to the model (default 1280*28*28).")] = None,
    profile: Annotated[Optional[str], typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    prompt_style: Annotated[Optional[str], typer.Option(metavar="full|bare", help=PROMPT_STYLE_HELP)] = None,
    max_tokens: Annotated[Optional[int], typer.Option(metavar="TOKENS", help="Stop once the run used this many model tokens.")] = None,
    secret: Annotated[list[str], typer.Option(metavar="NAME[=VALUE]", help="NAME=VALUE (or NAME alone: the value of $VLAGENT_SECRET_NAME) the model may type as {{NAME}} without seeing it; never recorded. Typing it is guarded: confirm it when asked, or pass --policy allow. Repeatable.")] = [],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and record, but execute nothing on the device.")] = False,
    show_transitions: Annotated[bool, typer.Option("--show-transitions", help="Show the model, before each screen, a video of what the screen did while the last action took effect (a toast that came and went, an animation): for models that read video, at its video tokens' cost.")] = False,
    policy: Annotated[str, typer.Option(metavar="ask|deny|allow", help="Sensitive actions (send, call, pay, install, delete, data-losing settings, password entry): ask on the terminal, deny, or allow. Without a terminal, ask denies.")] = "ask",
    allow_app: Annotated[list[str], typer.Option(metavar="APP", help="Only act in these apps (package or label). Repeatable.")] = [],
    deny_app: Annotated[list[str], typer.Option(metavar="APP", help="Never act in these apps (package or label). Repeatable.")] = [],
    resume: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Continue the interrupted run in this directory (its goal, its steps so far).")] = None,
) -> None:
    """Run the agent on GOAL until it terminates or a budget runs out.

    Exit status: 0 success, 1 failure or budget exhausted, 2 error, 3 the model asked the user.
    """
    from .guards import Secrets
    from .loop import Agent
    from .models.scripted import ScriptedModel
    from .policy import Policy
    from .specs import load_model, open_device, with_animations
    from .trajectory import prepare_run_dir

    if (goal is None) == (resume is None):
        fail("give a GOAL, or --resume DIR to continue a run (not both)")
    if resume is not None and out is not None:
        fail("--resume DIR continues the run in DIR; leave out --out")
    if policy not in ("ask", "deny", "allow"):
        fail(f"--policy {policy!r}: use ask, deny or allow")
    guard = Policy(
        policy, confirm=confirm_on_terminal if sys.stdin.isatty() else None,
        allow_apps=allow_app or None, deny_apps=deny_app,
    )
    try:
        secrets = Secrets.parse(secret)
        device = with_animations(device, animations)
        if out is not None:
            prepare_run_dir(out, overwrite=overwrite)
    except (ValueError, UserError) as e:
        fail(str(e))
    options = model_options(profile, max_pixels, prompt_style)
    try:
        llm = load_model(model, **({} if model.startswith("scripted:") else options))
        if hasattr(llm, "load"):  # a missing or unreachable checkpoint fails before the device starts
            llm.load()
        with open_device(device, allow_black=True) as dev:  # the loop never shows a black frame
            agent = Agent(
                llm, dev, max_steps=max_steps, max_seconds=max_seconds,
                history_images=history_images, out_dir=out, on_step=_print_step,
                max_tokens=max_tokens, secrets=secrets, dry_run=dry_run, policy=guard,
                show_transitions=show_transitions,
            )
            console.print(f"[dim]{escape(_describe_device(device, dev))}  model={escape(model)}[/]", highlight=False)
            if dry_run:
                console.print("[bold yellow]Dry run:[/] the model plans and every step is recorded; "
                              "nothing is executed on the device.")
            if resume is not None:
                console.print(f"[bold]Resuming[/] {escape(str(resume))}")
                # The run keeps its settings but for those given here; its own script goes on where
                # the run stopped (a step undone: its output again).
                given = {name: value for name, value in (("max_steps", max_steps), ("max_seconds", max_seconds),
                         ("history_images", history_images), ("max_tokens", max_tokens), ("dry_run", dry_run),
                         ("show_transitions", show_transitions))
                         if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT}
                result = agent.resume(resume, same_script=isinstance(llm, ScriptedModel), **given)
            else:
                console.print(f"[bold]Goal:[/] {escape(goal)}", highlight=False)
                result = agent.run(goal)
    except UserAbort as e:
        console.print(f"[yellow]Stopped:[/] {escape(str(e))}")
        raise typer.Exit(130) from None
    except VLAgentError as e:
        fail(str(e), "Error" if isinstance(e, UserError) else type(e).__name__)
    if dry_run:
        # Nothing happened on the device, so neither the status nor the model's answer is a fact.
        console.print(f"[yellow]dry run[/] ended after {result.steps} step(s); the model's plan ended "
                      f"with status {result.status!r}, but nothing was executed")
        if result.answer:
            console.print(f"the model would have answered: {printable(result.answer)}", highlight=False, markup=False)
    else:
        colour = "green" if result.status == "success" else "yellow"
        console.print(f"[{colour}]{result.status}[/] after {result.steps} step(s)")
        if result.answer:
            typer.echo(printable(result.answer))
    console.print(f"trajectory: {result.trajectory_path}", highlight=False)
    raise typer.Exit(EXIT_CODES.get(result.status, 2))


@app.command("prompt")
def prompt_cmd(
    goal: Annotated[str, typer.Argument(metavar="GOAL", help="The task, as you would give it to `vlagent run`.")],
    device: Annotated[str, typer.Option("--device", "-d", metavar="DEVICE", help=f"Whose screen goes in the prompt: {DEVICE_HELP}.")] = "sim",
    model: Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help="A checkpoint (dir or Hugging Face id), tiny, or a server URL.")] = "Qwen/Qwen2-VL-2B-Instruct",
    profile: Annotated[Optional[str], typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    prompt_style: Annotated[Optional[str], typer.Option(metavar="full|bare", help=PROMPT_STYLE_HELP)] = None,
    max_pixels: Annotated[Optional[int], typer.Option(metavar="PIXELS", help="Largest image area fed to the model (default 1280*28*28).")] = None,
) -> None:
    """Print exactly what the model receives for GOAL's first step: the text with its special
    tokens, each image's token count, and the profile that wrote it. Nothing is done on the device.

    For a checkpoint (or tiny) it is the prompt text `generate` tokenizes, each image still one
    <|image_pad|> (widened to its token count at tokenization); for a server URL it is the
    messages sent, which the server's chat template turns into text.
    """
    from .coords import smart_resize
    from .loop import Agent
    from .specs import load_model, open_device

    if model.startswith("scripted:"):
        fail("a scripted model replays answers and has no prompt; give a checkpoint, tiny or a server URL")
    options = model_options(profile, max_pixels, prompt_style)
    try:
        llm = load_model(model, **options)
        if hasattr(llm, "load"):
            llm.load()
        with open_device(device, allow_black=True) as dev:
            messages, tools = Agent(llm, dev).first_prompt(goal)
        text = llm.render(messages, tools)
    except VLAgentError as e:
        fail(str(e), "Error" if isinstance(e, UserError) else type(e).__name__)
    p = llm.profile
    console.print(f"profile {p.name} ({p.family}): tool calls {p.tool_format}, coordinates {p.coordinate_system}",
                  highlight=False, markup=False)
    for m in messages:
        for part in m["content"] if isinstance(m["content"], list) else []:
            if part.get("type") == "image":
                w, h = part["image"].size
                rh, rw = smart_resize(h, w, min_pixels=llm.min_pixels, max_pixels=llm.max_pixels)
                console.print(f"image {w}x{h} (resized {rw}x{rh}): {(rh // 28) * (rw // 28)} image tokens",
                              highlight=False, markup=False)
    typer.echo(text)


def _describe_device(spec: str, device: Any) -> str:
    """The device line of a run's header; for SimPhone it names the adb server it went through,
    since `--device sim` uses (or starts) whatever adb server $ANDROID_ADB_SERVER_PORT names."""
    if spec.partition(":")[0] != "sim":
        return f"device={spec}"
    port = os.environ.get("ANDROID_ADB_SERVER_PORT") or "5037"
    return (f"device=sim (SimPhone {device.serial} through the adb server on 127.0.0.1:{port}; "
            f"set ANDROID_ADB_SERVER_PORT to use another)")


def _print_step(step) -> None:
    calls = ", ".join(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in step.calls) or "-"
    errors = f" [red]{escape(printable('; '.join(step.errors)[:160]))}[/]" if step.errors else ""
    model_s = step.timings.get("model", 0.0)
    console.print(f"step {step.index + 1}: {escape(printable(calls))}{errors} [dim](model {model_s:.2f}s)[/]", highlight=False)


app.command()(chat)


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Loopback TCP port to listen on.")] = 5555,
    size: Annotated[str, typer.Option(help="Screen size WIDTHxHEIGHT in pixels.")] = "1080x2400",
    animations: Annotated[str, typer.Option("--animations", metavar="off|real", help=ANIMATIONS_HELP)] = "off",
) -> None:
    """Run a SimPhone in the foreground until Ctrl-C; drive it with `adb connect 127.0.0.1:PORT`."""
    from .devices.sim import serve

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        fail(f"--size {size!r}: write WIDTHxHEIGHT, e.g. 1080x2400")
    if animations not in ("off", "real"):
        fail(f"--animations {animations!r}: use off or real")
    serve(port, (width, height), animations=animations)


def _add_bench() -> None:
    from .bench.cli import bench_app

    app.add_typer(bench_app, name="bench")


_add_bench()


def _add_training() -> None:
    from .training.cli import TRAIN_HELP, data_app, train_cmd

    app.add_typer(data_app, name="data")
    app.command("train", help=TRAIN_HELP)(train_cmd)


_add_training()

app.add_typer(flow_app, name="flow")
app.command("replay")(replay_cmd)


@app.command("tiny-model")
def tiny_model(
    directory: Annotated[Path, typer.Argument(help="Where to write the checkpoint.")],
    family: Annotated[str, typer.Option(metavar="FAMILY", help="qwen2-vl or qwen2.5-vl: the model classes, config.json model_type and so the profile.")] = "qwen2-vl",
    size: Annotated[str, typer.Option(metavar="SIZE", help="tiny (~0.2M parameters: plumbing) or small (~3M, a tokenizer that knows the agent's prompts: `vlagent train` teaches it a SimPhone task on a CPU in minutes).")] = "tiny",
) -> None:
    """Write a tiny random-weight checkpoint (real classes, tokenizer, processor) of a family.

    It runs the whole pipeline offline in seconds; its outputs are random, not a policy, until
    trained (`vlagent train --help`).
    """
    from .testing import TINY_FAMILIES, TINY_SIZES, tiny_checkpoint

    if family not in TINY_FAMILIES:
        fail(f"--family {family!r}: use one of {', '.join(TINY_FAMILIES)}")
    if size not in TINY_SIZES:
        fail(f"--size {size!r}: use one of {', '.join(TINY_SIZES)}")
    path = tiny_checkpoint(directory, family, size)
    table = Table("file", "bytes", title=f"{size} {family} checkpoint in {path}")
    for f in sorted(Path(path).iterdir()):
        table.add_row(f.name, f"{f.stat().st_size:,}")
    console.print(table)


@app.command("profiles")
def profiles_cmd() -> None:
    """List the model profiles: each family's trained format, as --profile takes it.

    A checkpoint's profile is read from its config.json model_type, a served model's from its
    name; --profile overrides both (for a fine-tune whose name says nothing, say).
    """
    from .profiles import PROFILES

    for p in PROFILES.values():
        typer.echo(f"{p.name}\t{p.family} (config.json model_type {', '.join(p.model_types)})\n"
                   f"\ttool calls: {p.tool_format}; coordinates: {p.coordinate_system}; "
                   f"stop: {' '.join(p.stop) or 'none'}\n\t{p.note}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
