"""`vlagent chat`: a function-calling model at the terminal, with built-in, plugin and MCP tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from .errors import VLAgentError
from .specs import PROFILE_HELP
from .terminal import confirm_on_terminal, console, fail, printable


BUILTIN_TOOLS = ("weather", "flights", "plugins")


def chat(
    model: Annotated[str, typer.Option("--model", "-m", help="Qwen2-VL id or path, 'tiny', server URL, or scripted:FILE.json.")] = "Qwen/Qwen2-VL-2B-Instruct",
    tools: Annotated[list[str], typer.Option("--tool", "-t", help="Built-in tools to offer: weather, flights, plugins (installed vlagent.tools entry points). Repeatable.")] = ["weather"],
    mcp: Annotated[list[str], typer.Option(help="An MCP server to start over stdio, as one command line, e.g. 'python server.py'. Repeatable.")] = [],
    image: Annotated[list[Path], typer.Option("--image", "-i", help="An image for the first message (file or URL). Repeatable.")] = [],
    video: Annotated[list[Path], typer.Option("--video", help="A video file (MP4, WebM, ...) for the first message. The model sees 2 frames a second of it (4 to 768, an even count), each at 128-768 visual tokens, as Qwen's qwen-vl-utils samples videos; a server model gets the file as a video_url. Repeatable.")] = [],
    message: Annotated[Optional[str], typer.Option("--message", "-p", help="Ask this one question and exit instead of chatting.")] = None,
    system: Annotated[Optional[str], typer.Option(help="System prompt.")] = None,
    profile: Annotated[Optional[str], typer.Option(metavar="PROFILE", help=PROFILE_HELP)] = None,
    max_tool_rounds: Annotated[int, typer.Option(min=0, help="Tool rounds allowed per question.")] = 5,
    policy: Annotated[str, typer.Option(metavar="ask|deny|allow", help="Tool calls that may send, pay, delete and the like, or whose tool declares nothing (an MCP tool without a read-only annotation): ask on the terminal, deny, or allow. Without a terminal, ask denies.")] = "ask",
) -> None:
    """Chat with a function-calling model; images, videos and tools welcome.

    In the chat: '/image PATH' ('/video PATH') attaches an image (a video) to your next message,
    '/reset' forgets the conversation, '/exit' (or Ctrl-D) leaves. The answer streams as the
    model writes it.
    """
    import contextlib
    import shlex

    from .assistant import Assistant
    from .policy import Policy
    from .specs import load_model

    if policy not in ("ask", "deny", "allow"):
        fail(f"--policy {policy!r}: use ask, deny or allow")
    unknown = sorted(set(tools) - set(BUILTIN_TOOLS))
    if unknown:
        fail(f"unknown tool(s) {unknown}; choose from {list(BUILTIN_TOOLS)}")
    try:
        with contextlib.ExitStack() as stack:
            chosen = _builtin_tools(tools)
            for line in mcp:
                from .tools.mcp import MCPServer

                command, *args = shlex.split(line)
                chosen += stack.enter_context(MCPServer.stdio(command, args)).tools
            options = {"profile": profile} if profile and not model.startswith("scripted:") else {}
            assistant = Assistant(
                load_model(model, **options), chosen, system=system,
                max_tool_rounds=max_tool_rounds, on_delta=lambda d: typer.echo(printable(d), nl=False),
                policy=Policy(policy, confirm=confirm_on_terminal if sys.stdin.isatty() else None),
            )
            console.print(f"[dim]tools: {', '.join(t.name for t in chosen) or 'none'}[/]")
            pending = [str(p) for p in image]
            pending_videos = [str(p) for p in video]
            questions = [message] if message is not None else _prompts()
            for question in questions:
                if question.startswith("/image "):
                    pending.append(question.removeprefix("/image ").strip())
                    continue
                if question.startswith("/video "):
                    pending_videos.append(question.removeprefix("/video ").strip())
                    continue
                if question == "/reset":
                    assistant.reset()
                    continue
                reply = assistant.ask(question, images=pending, videos=pending_videos)
                pending, pending_videos = [], []
                typer.echo("")
                for call, result in zip(reply.calls, reply.results):
                    colour = "red" if result.is_error else "dim"
                    line = f"  {call.name}({json.dumps(call.arguments, ensure_ascii=False)}) -> {result.text[:200]}"
                    console.print(f"[{colour}]{escape(printable(line))}[/]", highlight=False)
    except VLAgentError as e:
        fail(str(e), type(e).__name__)


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
