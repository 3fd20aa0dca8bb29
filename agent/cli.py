"""The `vlagent` command line (typer + rich)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ._version import __version__
from .errors import UserAbort, UserError, VLAgentError

app = typer.Typer(
    name="vlagent",
    help="Visual agents for phones and desktops on Qwen2-VL-family models.\n\n"
    "Examples:\n\n"
    "  vlagent run 'Turn on Wi-Fi' --device sim --model Qwen/Qwen2-VL-2B-Instruct\n\n"
    "  vlagent run 'Open Settings' --device image:screen.png --model scripted:outputs.json\n\n"
    "  vlagent tiny-model ./tiny   (a random-weight checkpoint for offline tests)",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
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
    goal: Annotated[Optional[str], typer.Argument(help="What the agent should do, in plain words (not with --resume).")] = None,
    device: Annotated[str, typer.Option("--device", "-d", help="Where to act: sim, adb[:SERIAL], desktop[:MONITOR], image:PATH.")] = "sim",
    model: Annotated[str, typer.Option("--model", "-m", help="Qwen2-VL id or path, 'tiny', or scripted:FILE.json.")] = "Qwen/Qwen2-VL-2B-Instruct",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory for trajectory.json and screenshots (default: a new temp dir).")] = None,
    max_steps: Annotated[int, typer.Option(min=1, help="Stop after this many steps.")] = 20,
    max_seconds: Annotated[Optional[float], typer.Option(help="Stop after this much wall time.")] = None,
    history_images: Annotated[int, typer.Option(min=1, help="Screenshots the model sees per step (latest first).")] = 2,
    max_pixels: Annotated[Optional[int], typer.Option(help="Largest image area fed to the model (default 1280*28*28).")] = None,
    tool_format: Annotated[str, typer.Option(help="Tool-call format of the model: hermes or qwen (✿FUNCTION✿).")] = "hermes",
    max_tokens: Annotated[Optional[int], typer.Option(help="Stop once the run used this many model tokens.")] = None,
    secret: Annotated[list[str], typer.Option(help="NAME=VALUE (or NAME alone: the value of $VLAGENT_SECRET_NAME) the model may type as {{NAME}} without seeing it; never recorded. Typing it is guarded: confirm it when asked, or pass --policy allow. Repeatable.")] = [],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and record, but execute nothing on the device.")] = False,
    policy: Annotated[str, typer.Option(help="Sensitive actions (send, call, pay, install, delete, data-losing settings, password entry): ask on the terminal, deny, or allow. Without a terminal, ask denies.")] = "ask",
    allow_app: Annotated[list[str], typer.Option(help="Only act in these apps (package or label). Repeatable.")] = [],
    deny_app: Annotated[list[str], typer.Option(help="Never act in these apps (package or label). Repeatable.")] = [],
    resume: Annotated[Optional[Path], typer.Option(help="Continue the interrupted run in this directory (its goal, its steps so far).")] = None,
) -> None:
    """Run the agent on GOAL until it terminates or a budget runs out.

    Exit status: 0 success, 1 failure or budget exhausted, 2 error, 3 the model asked the user.
    """
    from .guards import Secrets
    from .loop import Agent
    from .policy import Policy
    from .specs import load_model, open_device

    if (goal is None) == (resume is None):
        console.print("[red]Error:[/] give a GOAL, or --resume DIR to continue a run (not both)")
        raise typer.Exit(2)
    if policy not in ("ask", "deny", "allow"):
        console.print(f"[red]Error:[/] --policy {policy!r}: use ask, deny or allow")
        raise typer.Exit(2)
    guard = Policy(
        policy, confirm=_confirm_on_terminal if sys.stdin.isatty() else None,
        allow_apps=allow_app or None, deny_apps=deny_app,
    )
    try:
        secrets = Secrets.parse(secret)
    except ValueError as e:
        console.print(f"[red]Error:[/] {e}")
        raise typer.Exit(2) from None
    options = {"tool_format": tool_format}
    if max_pixels:
        options["max_pixels"] = max_pixels
    try:
        llm = load_model(model, **({} if model.startswith("scripted:") else options))
        with open_device(device, allow_black=True) as dev:  # the loop never shows a black frame
            agent = Agent(
                llm, dev, max_steps=max_steps, max_seconds=max_seconds,
                history_images=history_images, out_dir=out, on_step=_print_step,
                max_tokens=max_tokens, secrets=secrets, dry_run=dry_run, policy=guard,
            )
            if resume is not None:
                console.print(f"[bold]Resuming[/] {resume}  [dim]device={device} model={model}[/]")
                result = agent.resume(resume)
            else:
                console.print(f"[bold]Goal:[/] {goal}  [dim]device={device} model={model}[/]")
                result = agent.run(goal)
    except UserAbort as e:
        console.print(f"[yellow]Stopped:[/] {e}")
        raise typer.Exit(130) from None
    except VLAgentError as e:
        kind = "Error" if isinstance(e, UserError) else type(e).__name__
        console.print(f"[red]{kind}:[/] {e}")
        raise typer.Exit(2) from None
    colour = "green" if result.status == "success" else "yellow"
    console.print(f"[{colour}]{result.status}[/] after {result.steps} step(s)")
    if result.answer:
        typer.echo(result.answer)
    console.print(f"trajectory: {result.trajectory_path}")
    raise typer.Exit(EXIT_CODES.get(result.status, 2))


def _confirm_on_terminal(assessment, subject) -> bool:
    console.print(f"[yellow]The agent wants to {assessment}.[/]")
    for reason in assessment.reasons:
        console.print(f"  [dim]{reason}[/]")
    return typer.confirm("Allow it?", default=False)


def _print_step(step) -> None:
    calls = ", ".join(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in step.calls) or "-"
    errors = f" [red]{'; '.join(step.errors)[:160]}[/]" if step.errors else ""
    model_s = step.timings.get("model", 0.0)
    console.print(f"step {step.index + 1}: {calls}{errors} [dim](model {model_s:.2f}s)[/]", highlight=False)


BUILTIN_TOOLS = ("weather", "flights", "plugins")


@app.command()
def chat(
    model: Annotated[str, typer.Option("--model", "-m", help="Qwen2-VL id or path, 'tiny', server URL, or scripted:FILE.json.")] = "Qwen/Qwen2-VL-2B-Instruct",
    tools: Annotated[list[str], typer.Option("--tool", "-t", help="Built-in tools to offer: weather, flights, plugins (installed vlagent.tools entry points). Repeatable.")] = ["weather"],
    mcp: Annotated[list[str], typer.Option(help="An MCP server to start over stdio, as one command line, e.g. 'python server.py'. Repeatable.")] = [],
    image: Annotated[list[Path], typer.Option("--image", "-i", help="An image for the first message (file or URL). Repeatable.")] = [],
    message: Annotated[Optional[str], typer.Option("--message", "-p", help="Ask this one question and exit instead of chatting.")] = None,
    system: Annotated[Optional[str], typer.Option(help="System prompt.")] = None,
    tool_format: Annotated[str, typer.Option(help="hermes or qwen (✿FUNCTION✿).")] = "hermes",
    max_tool_rounds: Annotated[int, typer.Option(min=0, help="Tool rounds allowed per question.")] = 5,
) -> None:
    """Chat with a function-calling model; images and tools welcome.

    In the chat: '/image PATH' attaches an image to your next message, '/reset' forgets the
    conversation, '/exit' (or Ctrl-D) leaves. The answer streams as the model writes it.
    """
    import contextlib
    import shlex

    from .assistant import Assistant
    from .specs import load_model

    unknown = sorted(set(tools) - set(BUILTIN_TOOLS))
    if unknown:
        console.print(f"[red]Error:[/] unknown tool(s) {unknown}; choose from {list(BUILTIN_TOOLS)}")
        raise typer.Exit(2)
    try:
        with contextlib.ExitStack() as stack:
            chosen = _builtin_tools(tools)
            for line in mcp:
                from .tools.mcp import MCPServer

                command, *args = shlex.split(line)
                chosen += stack.enter_context(MCPServer.stdio(command, args)).tools
            options = {} if model.startswith("scripted:") else {"tool_format": tool_format}
            assistant = Assistant(
                load_model(model, **options), chosen, system=system,
                max_tool_rounds=max_tool_rounds, on_delta=lambda d: typer.echo(d, nl=False),
            )
            console.print(f"[dim]tools: {', '.join(t.name for t in chosen) or 'none'}[/]")
            pending = [str(p) for p in image]
            questions = [message] if message is not None else _prompts()
            for question in questions:
                if question.startswith("/image "):
                    pending.append(question.removeprefix("/image ").strip())
                    continue
                if question == "/reset":
                    assistant.reset()
                    continue
                reply = assistant.ask(question, images=pending)
                pending = []
                typer.echo("")
                for call, result in zip(reply.calls, reply.results):
                    colour = "red" if result.is_error else "dim"
                    console.print(f"[{colour}]  {call.name}({json.dumps(call.arguments, ensure_ascii=False)}) -> {result.text[:200]}[/]", highlight=False)
    except VLAgentError as e:
        console.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(2) from None


def _builtin_tools(names: list[str]) -> list:
    chosen: list = []
    if "weather" in names:
        from .tools.weather import get_weather

        chosen.append(get_weather)
    if "flights" in names:
        from .tools.flights import flight_status, search_flights

        chosen += [flight_status, search_flights]
    if "plugins" in names:
        from .tools import load_plugins

        chosen += load_plugins()
    return chosen


def _prompts():
    """Questions typed at the terminal until /exit or end of input."""
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            return
        if line in ("/exit", "/quit"):
            return
        if line:
            yield line


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Loopback TCP port to listen on.")] = 5555,
    size: Annotated[str, typer.Option(help="Screen size WIDTHxHEIGHT in pixels.")] = "1080x2400",
) -> None:
    """Run a SimPhone in the foreground until Ctrl-C; drive it with `adb connect 127.0.0.1:PORT`."""
    from .devices.sim import serve

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        console.print(f"[red]Error:[/] --size {size!r}: write WIDTHxHEIGHT, e.g. 1080x2400")
        raise typer.Exit(2) from None
    serve(port, (width, height))


def _add_bench() -> None:
    from .bench.cli import bench_app

    app.add_typer(bench_app, name="bench")


_add_bench()

flow_app = typer.Typer(help="Automation flows: YAML scripts of exact and model-grounded steps.", no_args_is_help=True)
app.add_typer(flow_app, name="flow")


@flow_app.command("run")
def flow_run(
    path: Annotated[Path, typer.Argument(help="The flow file (YAML).")],
    device: Annotated[Optional[str], typer.Option("--device", "-d", help="Overrides the flow's device: sim, adb[:SERIAL], desktop[:N].")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Overrides the flow's model (needed by grounded steps the cache does not hold).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Record the run here as a trajectory.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the model even when the grounding cache knows the answer.")] = False,
) -> None:
    """Run a YAML flow. Grounded steps already seen on an unchanged screen cost no model call."""
    from .flows import run_flow

    try:
        result = run_flow(path, device, model, out, cache=not no_cache)
    except VLAgentError as e:
        console.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(2) from None
    table = Table("#", "step", "where", "model calls", "cached", "seconds", title=result.name or str(path))
    for step in result.steps:
        table.add_row(str(step.index + 1), step.kind, step.where, str(step.model_calls), "yes" if step.cached else "", f"{step.seconds:.2f}")
    console.print(table)
    console.print(f"{result.status}: {result.model_calls} model call(s), {result.cache_hits} cache hit(s)")
    raise typer.Exit(0 if result.status == "success" else 1)


@app.command("replay")
def replay_cmd(
    directory: Annotated[Path, typer.Argument(help="A run directory holding trajectory.json.")],
    device: Annotated[str, typer.Option("--device", "-d", help="Where to replay: sim, adb[:SERIAL], desktop[:N].")] = "sim",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Re-grounds steps whose screen differs; without one, a differing screen stops the replay.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Record the replay as a trajectory.")] = None,
) -> None:
    """Replay a run's actions without the model, re-grounding only where the screen differs."""
    from .replay import replay

    try:
        result = replay(directory, device, model, out)
    except VLAgentError as e:
        console.print(f"[red]{type(e).__name__}:[/] {e}")
        raise typer.Exit(2) from None
    console.print(
        f"replayed {result.replayed} step(s), re-grounded {result.regrounded}, "
        f"{result.model_calls} model call(s) in {result.seconds:.1f}s"
    )


@app.command("tiny-model")
def tiny_model(
    directory: Annotated[Path, typer.Argument(help="Where to write the checkpoint.")],
) -> None:
    """Write a tiny random-weight Qwen2-VL checkpoint (real classes, tokenizer, processor).

    It runs the whole pipeline offline in seconds; its outputs are random, not a policy.
    """
    from .testing import tiny_qwen2_vl

    path = tiny_qwen2_vl(directory)
    table = Table("file", "bytes", title=f"tiny Qwen2-VL in {path}")
    for f in sorted(Path(path).iterdir()):
        table.add_row(f.name, f"{f.stat().st_size:,}")
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
