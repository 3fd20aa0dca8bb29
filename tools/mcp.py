"""The tools of an MCP server as vlagent Tools, over stdio or streamable HTTP (official `mcp` SDK).

    with MCPServer.stdio("python", ["my_server.py"]) as server:
        agent = Agent(model, device, tools=server.tools)

The SDK is async and the agent loop is not: each MCPServer runs an event loop on a daemon thread
that owns the connection (anyio needs one task to open and close it), and a tool call from any
thread is a coroutine handed to that loop with `asyncio.run_coroutine_threadsafe`.

What the model sees: text content as text, images as PIL image parts, `isError` results, a
request past the tool's timeout (cancelled on the server too) and a server that went away as
ToolExecutionErrors naming the server. Argument schemas are the servers' own `inputSchema`s.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures as cf
import inspect
import io
import json
import logging
import os
import tempfile
import threading
from contextlib import AsyncExitStack
from typing import Any, Awaitable, Callable, Mapping, Sequence

import jsonschema

from ..errors import ToolExecutionError, UserError
from .base import DEFAULT_TIMEOUT, RawTool

__all__ = ["MCPServer"]

_log = logging.getLogger("vlagent.tools")


class MCPServer:
    """A connection to one MCP server; `tools` holds its tools while connected.

    Made by `stdio` or `http`. timeout: seconds a call may take (None: no limit). prefix: put
    before each tool name, to keep two servers' `search` apart.
    """

    def __init__(
        self, name: str, opener: Callable[[AsyncExitStack], Awaitable[tuple[Any, Any]]], *,
        timeout: float | None = DEFAULT_TIMEOUT, connect_timeout: float = 60.0, prefix: str = "",
        concurrent: bool = True,
    ) -> None:
        self.name, self._opener = name, opener
        self.timeout, self.connect_timeout, self.prefix, self.concurrent = timeout, connect_timeout, prefix, concurrent
        self.tools: list[RawTool] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: Any = None
        self._stop = asyncio.Event()
        self._done: cf.Future = cf.Future()
        self._stderr: Any = None  # stdio servers: where their stderr goes, to explain a crash

    @classmethod
    def stdio(
        cls, command: str, args: Sequence[str] = (), env: Mapping[str, str] | None = None, *,
        cwd: str | None = None, name: str | None = None, **options: Any,
    ) -> MCPServer:
        """A server started as a subprocess speaking MCP on stdin/stdout. `env` is added to a
        minimal default environment (the SDK's), not to all of ours: secrets stay with us."""
        _require_sdk()
        from mcp import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=command, args=list(args), env=dict(env or {}), cwd=cwd)
        stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")

        async def opener(stack: AsyncExitStack) -> tuple[Any, Any]:
            streams = await stack.enter_async_context(stdio_client(params, errlog=stderr))
            return streams[0], streams[1]

        server = cls(name or " ".join([os.path.basename(command), *args[:1]]), opener, **options)
        server._stderr = stderr
        return server

    @classmethod
    def http(
        cls, url: str, *, headers: Mapping[str, str] | None = None, name: str | None = None, **options: Any
    ) -> MCPServer:
        """A server at a streamable-HTTP endpoint, e.g. "http://127.0.0.1:8000/mcp"."""
        _require_sdk()
        from mcp.client.streamable_http import streamable_http_client

        async def opener(stack: AsyncExitStack) -> tuple[Any, Any]:
            client = None
            if headers:  # the SDK's own client has no headers; this one mirrors its timeouts
                import httpx2

                client = await stack.enter_async_context(
                    httpx2.AsyncClient(headers=dict(headers), timeout=httpx2.Timeout(30.0, read=300.0))
                )
            streams = await stack.enter_async_context(streamable_http_client(url, http_client=client))
            return streams[0], streams[1]

        return cls(name or url, opener, **options)

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> MCPServer:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> list[RawTool]:
        """Start the server or reach it, initialise the session and list its tools."""
        if self._loop is not None:
            raise RuntimeError(f"MCP server {self.name!r} is already connected")
        loop = self._loop = asyncio.new_event_loop()
        threading.Thread(target=_run_loop, args=(loop,), name=f"vlagent-mcp-{self.name}", daemon=True).start()
        ready: cf.Future = cf.Future()
        self._stop = asyncio.Event()
        self._done = asyncio.run_coroutine_threadsafe(self._serve(ready), loop)
        try:
            listed = ready.result(self.connect_timeout)
        except KeyboardInterrupt:
            self.close()
            raise
        except BaseException as e:  # the server's failure arrives as whatever anyio raised, groups included
            tail = self._stderr_tail()
            self.close()
            while isinstance(getattr(e, "exceptions", None), tuple) and e.exceptions:  # anyio's groups
                e = e.exceptions[0]
            why = f"no answer in {self.connect_timeout:g} s" if isinstance(e, cf.TimeoutError) else f"{type(e).__name__}: {e}"
            raise UserError(f"could not connect to MCP server {self.name!r}: {why}{tail}") from None
        self.tools = [t for t in map(self._tool, listed) if t is not None]
        return self.tools

    def close(self, grace: float = 5.0) -> None:
        """End the session (and the subprocess); the tools then fail with a clear error."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        loop.call_soon_threadsafe(self._stop.set)
        try:
            self._done.result(grace)
        except cf.TimeoutError:  # stuck opening or closing: cancel it outright
            self._done.cancel()
        except (Exception, asyncio.CancelledError):  # closing a broken connection: nothing to report
            pass
        loop.call_soon_threadsafe(loop.stop)

    async def _serve(self, ready: cf.Future) -> None:
        """Own the connection from open to close, in one task as anyio requires."""
        from mcp import ClientSession
        from mcp.types import PaginatedRequestParams

        try:
            async with AsyncExitStack() as stack:
                read, write = await self._opener(stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                tools, cursor = [], None
                while True:
                    page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                    tools += page.tools
                    if not (cursor := page.next_cursor):
                        break
                self._session = session
                ready.set_result(tools)
                await self._stop.wait()
        except BaseException as e:
            if not ready.done():
                ready.set_exception(e)
        finally:
            self._session = None

    # -- calls ------------------------------------------------------------------------------

    def _tool(self, spec: Any) -> RawTool | None:
        schema = dict(spec.input_schema or {"type": "object"})
        schema.setdefault("properties", {})

        def call(**arguments: Any) -> Any:
            return self.call(spec.name, arguments, made.timeout)  # a timeout set on the Tool counts

        try:
            description = inspect.cleandoc(spec.description or "") or spec.name
            made = RawTool(self.prefix + spec.name, description, schema, call, timeout=self.timeout,
                           concurrent=self.concurrent, annotations=spec.annotations)
        except jsonschema.SchemaError as e:  # one broken tool must not hide the others
            _log.warning("MCP server %r: skipping tool %r, its inputSchema is invalid: %s", self.name, spec.name, e.message)
            return None
        return made

    def call(self, name: str, arguments: dict[str, Any], timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Run tool `name` on the server, for at most `timeout` seconds (None: no limit); its
        content as text or parts, or a ToolExecutionError."""
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        session, loop = self._session, self._loop
        if session is None or loop is None:
            raise ToolExecutionError(f"MCP server {self.name!r} is not connected")
        since = self._stderr_end()
        future = asyncio.run_coroutine_threadsafe(
            session.call_tool(name, arguments, read_timeout_seconds=timeout), loop
        )
        timed_out = ToolExecutionError(f"{name} on MCP server {self.name!r} timed out after {timeout or 0:g} s")
        try:  # the SDK gives up first (and cancels the request on the server); this is a backstop
            result = future.result(None if timeout is None else timeout + 5)
        except cf.TimeoutError:
            future.cancel()
            raise timed_out from None
        except MCPError as e:
            if e.code == REQUEST_TIMEOUT:
                raise timed_out from None
            if e.code == CONNECTION_CLOSED:
                raise ToolExecutionError(
                    f"MCP server {self.name!r} is gone (its connection closed){self._stderr_tail(since)}"
                ) from None
            raise ToolExecutionError(f"MCP server {self.name!r} refused {name}: {e.message}") from None
        content = _content(result.content, result.structured_content)
        if result.is_error:
            text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
            raise ToolExecutionError(f"{name} failed on MCP server {self.name!r}: {text or 'no details'}")
        return content

    def _stderr_end(self) -> int:
        try:
            return os.fstat(self._stderr.fileno()).st_size if self._stderr is not None else 0
        except (OSError, ValueError):
            return 0

    def _stderr_tail(self, since: int = 0, limit: int = 500) -> str:
        """What a stdio server wrote to stderr since `since`, to say why it failed. Read with
        pread: the server writes through a shared file offset that a seek here would move."""
        if self._stderr is None:
            return ""
        try:
            start = max(since, self._stderr_end() - 4 * limit)
            data = os.pread(self._stderr.fileno(), 4 * limit, start)
        except (OSError, ValueError, AttributeError):  # AttributeError: no pread (Windows)
            return ""
        text = " ".join(data.decode("utf-8", "replace").split())[-limit:]
        return f"; its stderr said: {text}" if text else ""


def _require_sdk() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        major = int(version("mcp").split(".")[0])
    except (PackageNotFoundError, ValueError):
        major = 0
    if major < 2:
        raise UserError("the MCP bridge needs the official MCP SDK 2.x: pip install 'mcp>=2.3'")


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def _content(blocks: list[Any], structured: Any) -> str | list[dict[str, Any]]:
    """MCP content blocks as vlagent content: one string when it is all text, else parts."""
    from PIL import Image, UnidentifiedImageError

    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append({"type": "text", "text": block.text})
        elif kind == "image":
            try:
                image = Image.open(io.BytesIO(base64.b64decode(block.data, validate=True)))
                image.load()
                parts.append({"type": "image", "image": image})
            except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as e:
                parts.append({"type": "text", "text": f"[undecodable {block.mime_type} image: {type(e).__name__}]"})
        elif kind == "resource" and getattr(block.resource, "text", None) is not None:
            parts.append({"type": "text", "text": block.resource.text})
        elif kind == "resource_link":
            parts.append({"type": "text", "text": f"[resource {block.uri}]"})
        else:  # audio, binary resources: the model cannot take them; say they were there
            parts.append({"type": "text", "text": f"[{kind} content omitted]"})
    if not parts and structured is not None:
        return json.dumps(structured, ensure_ascii=False)
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts

