"""A canary secret is typed on the phone and never seen anywhere else.

`--secret PIN=VALUE` (Python: `Agent(secrets={"PIN": VALUE})`): the model writes `{{PIN}}`, the
value is typed on the device, and nothing recorded or sent elsewhere holds it. These tests check
that end to end, with a canary that is unique per test and hard to carry unaltered (shell and JSON
metacharacters, a non-ASCII letter, a random hex core; any 12 digits of the core count as a leak):

- the agent runs in a separate process (the `vlagent run` CLI, or a script on the Python API with
  a function tool), with every logger at DEBUG written to a file;
- the model is an OpenAI-compatible server on loopback (tests/agent/openai_servers.py) that records
  every request as received and answers from a script of tool calls: a ScriptedModel-style
  server, it judges nothing;
- the weather tool talks to an Open-Meteo-shaped server on loopback that records every request;
- the phone is a SimPhone driven through the real adb binary, in this process: the phone is where
  the value must arrive, and its state shows it did.

Then every byte of the run directory (PNG text chunks decompressed), the agent process's stdout,
stderr and log, and every request either server received are searched for the canary in the
encodings it could travel in (raw, JSON, URL, Python repr, shell quoting, base64 at any offset,
and its random core alone, which survives any escaping).

What such a search cannot see: the screenshots sent to the model show the typed text as pixels.
The last tests cover two leaks this search found and that are fixed: a black screen's UI-tree
note, and a failed typing command's error (device errors now name typing by its length, and
`Secrets.scrub` also catches the value's JSON, repr, URL, shell and base64 forms).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import uuid
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from openai_servers import FakeOpenAIServer, Reply, chat

SERVERS = str(Path(__file__).parents[1] / "tools" / "servers")  # FakeAPI and the provider answers
if SERVERS not in sys.path:
    sys.path.insert(0, SERVERS)
from fake_http import Answer, FakeAPI  # noqa: E402
from provider_fixtures import GEOCODING_PARIS, forecast  # noqa: E402

pytestmark = pytest.mark.adb

SIZE = (560, 1232)
NOTES = "com.simphone.notes:id/"
FRAGMENT = 12  # hex digits of the canary's random core: 48 bits, never there by chance


# -- the search ------------------------------------------------------------------------------------

def new_canary() -> str:
    return f"Zq7$'\"; é-{uuid.uuid4().hex}"


def _b64_forms(data: bytes) -> set[bytes]:
    """Base64 of `data` as it reads inside any longer base64 text: one form per offset modulo 3,
    without the characters at either end that depend on the neighbouring bytes."""
    forms = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data)
        start = (pad * 8 + 5) // 6  # characters that still hold bits of the padding
        stop = len(data) + pad - (len(data) + pad) % 3  # bytes that fill whole 3-byte groups
        forms.add(encoded[start:stop * 4 // 3])
    return {f for f in forms if len(f) >= 16} | {f.replace(b"+", b"-").replace(b"/", b"_") for f in forms}


def encodings(canary: str) -> dict[str, bytes]:
    """Name -> bytes of every form of the canary worth searching for."""
    core = canary.rpartition("-")[2]
    raw = canary.encode()
    forms = {
        "raw": raw,
        "core (the random hex, whatever escaping surrounds it)": core.encode(),
        "json": json.dumps(canary)[1:-1].encode(),
        "json-unicode": json.dumps(canary, ensure_ascii=False)[1:-1].encode(),
        "url": quote(canary, safe="").encode(),
        "url-plus": quote_plus(canary).encode(),
        "repr": repr(canary)[1:-1].encode(),
        "shell": shlex.quote(canary).encode(),
        "latin-1": canary.encode("latin-1"),
        "utf-16": canary.encode("utf-16-le"),
    }
    for i, form in enumerate(sorted(_b64_forms(raw) | _b64_forms(core.encode()))):
        forms[f"base64 #{i}"] = form
    for i in range(0, len(core) - FRAGMENT + 1):  # a message cut short still leaks a part
        forms[f"core[{i}:{i + FRAGMENT}]"] = core[i:i + FRAGMENT].encode()
    return forms


def _png_texts(data: bytes) -> list[bytes]:
    """The text chunks of a PNG (tEXt, zTXt and iTXt, decompressed); [] for anything else."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return []
    texts, at = [], 8
    while at + 8 <= len(data):
        length, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        body = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"tEXt":
            texts.append(body)
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            texts.append(key + b"\0" + zlib.decompress(rest[1:]))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            lang, _, rest = rest.partition(b"\0")
            translated, _, text = rest.partition(b"\0")
            texts.append(b"\0".join((key, lang, translated, zlib.decompress(text) if compressed else text)))
    return texts


def leaks(blob: bytes, canary: str) -> list[str]:
    """The encodings of `canary` found in `blob` (PNG text chunks included)."""
    found = []
    for piece in [blob, *_png_texts(blob)]:
        found += [name for name, form in encodings(canary).items() if form in piece]
    return found


def search(sources: dict[str, bytes], canary: str) -> dict[str, list[str]]:
    """{where: encodings found} over every source, only where something was found."""
    return {where: found for where, blob in sources.items() if (found := leaks(blob, canary))}


class LeakFound(AssertionError):
    """The canary was found: the known-leak tests expect exactly this, and no other failure."""


def assert_no_leak(sources: dict[str, bytes], canary: str) -> None:
    found = search(sources, canary)
    if found:
        raise LeakFound(f"LEAK: the canary secret {canary!r} was found in {json.dumps(found, indent=1)}")


def run_dir_files(root: Path) -> dict[str, bytes]:
    files = {f"file {p.relative_to(root)}": p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    assert any(name.endswith("trajectory.json") for name in files), files.keys()
    assert any(name.endswith(".png") for name in files), files.keys()
    return files


def test_the_search_finds_the_canary_in_every_encoding_it_looks_for() -> None:
    """The positive control: the search must not pass for want of looking."""
    canary = new_canary()
    payloads = {
        "raw": f"typed {canary} ok".encode(),
        "json": json.dumps({"text": canary}).encode(),
        "url": f"GET /v1/search?name={quote(canary)}&count=1".encode(),
        "form": f"name={quote_plus(canary)}".encode(),
        "repr": f"error: input text {canary!r} failed".encode(),
        "shell": f"`input text {shlex.quote(canary)}` failed".encode(),
        "a fragment of the core": f"...{canary[-14:]}".encode(),
    }
    for prefix in (b"", b"x", b"xy"):  # base64 at every offset, inside a longer message
        payloads[f"base64+{len(prefix)}"] = b"msg " + base64.b64encode(prefix + b"PIN " + canary.encode() + b" end")
    payloads["png zTXt"] = _png_with_text(b"Comment", f"note: {canary}".encode())
    for name, blob in payloads.items():
        assert leaks(blob, canary), name
    assert leaks(b"typed {{PIN}} ok", canary) == []
    assert leaks(_png_with_text(b"Comment", b"nothing here"), canary) == []


def _png_with_text(key: bytes, text: bytes) -> bytes:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key.decode(), text.decode(), zip=True)
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


# -- the rig: adb, a SimPhone, the agent in a process of its own -------------------------------------

@pytest.fixture
def phone(adb_port: int):
    """A SimPhone on adb with a new note open (its title field focused); yields (server, the Save
    button's centre in Qwen2-VL's 0-1000 units)."""
    from vlagent.devices import AdbDevice
    from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb

    w, h = SIZE
    with SimPhoneServer(width=w, height=h, density=round(420 * w / 1080)) as server:
        connect_adb(server)
        try:
            with AdbDevice(server.serial, ime_settle=0) as device:
                device.open_app("Notes")
                device.execute(_tap(_centre(device.ui_tree(), NOTES + "new_note")))
                save = _centre(device.ui_tree(), NOTES + "save")
            assert server.phone.state()["focused_field"]["resource_id"] == NOTES + "title"
            yield server, (round(save[0] * 1000 / w), round(save[1] * 1000 / h))
        finally:
            disconnect_adb(server)


def _centre(xml: str, resource_id: str) -> tuple[int, int]:
    match = re.search(rf'resource-id="{re.escape(resource_id)}"[^>]*bounds="\[(\d+),(\d+)\]\[(\d+),(\d+)\]"', xml)
    assert match, f"no {resource_id} on the screen"
    left, top, right, bottom = map(int, match.groups())
    return (left + right) // 2, (top + bottom) // 2


def _tap(point: tuple[int, int]):
    from vlagent import actions as A

    return A.Tap(x=point[0], y=point[1])


def hermes(name: str, **arguments) -> str:
    """One tool call in Hermes text, as Qwen2-VL writes it."""
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def call(name: str, **arguments) -> Reply:
    """A chat completion whose text is one Hermes tool call, as a Qwen2-VL server sends it."""
    return Reply(json=chat(hermes(name, **arguments)))


# The agent's process: every logger at DEBUG into the file named first, then the real entry point.
CLI_BOOT = (
    "import logging, sys\n"
    "logging.basicConfig(filename=sys.argv.pop(1), level=logging.DEBUG, force=True,\n"
    "                    format='%(asctime)s %(name)s %(levelname)s %(message)s')\n"
    "from vlagent.cli import main\n"
    "main()\n"
)
API_SCRIPT = """
import json, logging, sys
logging.basicConfig(filename=sys.argv[1], level=logging.DEBUG, force=True,
                    format="%(asctime)s %(name)s %(levelname)s %(message)s")
from vlagent import Agent, OpenAIModel, Policy
from vlagent.devices import AdbDevice
from vlagent.tools.weather import make_get_weather

cfg = json.load(sys.stdin)  # the canary comes on stdin: not in argv, not in the environment
model = OpenAIModel(cfg["model_url"], "fake-model", native_tools=False)
weather = make_get_weather(cfg["weather_url"], cfg["weather_url"], attempts=1)
with AdbDevice(cfg["serial"]) as device:
    agent = Agent(model, device, tools=[weather], secrets={"PIN": cfg["canary"]}, policy=Policy("allow"),
                  out_dir=cfg["out"], max_steps=6, on_step=lambda step: print("step", step.model_dump_json()))
    result = agent.run(cfg["goal"])
print("result", json.dumps({"status": result.status, "answer": result.answer}))
"""


def _agent_env() -> dict[str, str]:
    # No API keys of the developer's on their way to a loopback server.
    return {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}


def _process_output(proc: subprocess.CompletedProcess, log: Path) -> dict[str, bytes]:
    return {"stdout": proc.stdout, "stderr": proc.stderr, "log": log.read_bytes()}


def _requests(model: FakeOpenAIServer, api: FakeAPI | None = None) -> dict[str, bytes]:
    out = {f"model request {i} {r.method} {r.path}": r.raw for i, r in enumerate(model.requests)}
    if api is not None:
        out.update({f"tool request {i}": raw for i, raw in enumerate(api.raw)})
    return out


# -- the tests -------------------------------------------------------------------------------------

def test_vlagent_run_types_the_secret_and_leaks_it_nowhere(phone, tmp_path: Path) -> None:
    """`vlagent run --secret PIN=<canary>`: type {{PIN}} into a note's title, save, answer with
    {{PIN}}; the note on the phone has the canary as its title, and nothing else holds it."""
    server, save = phone
    canary = new_canary()
    out, log = tmp_path / "run", tmp_path / "cli.log"
    script = [
        call("mobile_use", action="type", text="{{PIN}}"),
        call("mobile_use", action="click", coordinate=list(save)),
        call("mobile_use", action="terminate", status="success", text="Saved the note {{PIN}}."),
    ]
    with FakeOpenAIServer(*script, models=["fake-model"]) as model:
        proc = subprocess.run(
            [sys.executable, "-c", CLI_BOOT, str(log), "run", "Write my PIN as a new note's title and save it",
             "--device", f"adb:{server.serial}", "--model", f"{model.url}/v1#fake-model",
             "--secret", f"PIN={canary}", "--policy", "allow", "--out", str(out), "--max-steps", "5"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=180, env=_agent_env(),
        )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    # The secret was really used: the phone has it, typed exactly.
    assert [n["title"] for n in server.phone.state()["notes"]][-1] == canary
    # The model wrote the placeholder, and it is what the record and the model's history hold.
    assert len(model.chat_requests) == 3
    assert b"{{PIN}}" in model.chat_requests[-1].raw and b"{{PIN}}" in (out / "trajectory.json").read_bytes()
    assert "Saved the note {{PIN}}." in proc.stdout.decode()

    sources = {**run_dir_files(out), **_process_output(proc, log), **_requests(model)}
    assert_no_leak(sources, canary)


def test_the_python_api_with_a_tool_types_the_secret_and_leaks_it_nowhere(phone, tmp_path: Path) -> None:
    """`Agent(secrets=...)` with the weather tool: type {{PIN}}, call get_weather(city="{{PIN}}")
    (the tool gets the placeholder, never the value), answer with {{PIN}}."""
    server, _ = phone
    canary = new_canary()
    out, log = tmp_path / "run", tmp_path / "api.log"
    script = [
        call("mobile_use", action="type", text="{{PIN}}"),
        call("get_weather", city="{{PIN}}"),
        call("mobile_use", action="terminate", status="success", text="{{PIN}}: 21.4 °C in Paris"),
    ]
    with FakeOpenAIServer(*script, models=["fake-model"]) as model, FakeAPI() as weather:
        weather.route("/v1/search", Answer(200, GEOCODING_PARIS))
        weather.route("/v1/forecast", lambda q: Answer(200, forecast(q)))
        cfg = {"model_url": f"{model.url}/v1", "weather_url": weather.url, "serial": server.serial,
               "canary": canary, "out": str(out), "goal": "Type my PIN, then tell me the weather"}
        proc = subprocess.run([sys.executable, "-c", API_SCRIPT, str(log)], input=json.dumps(cfg).encode(),
                              capture_output=True, timeout=180, env=_agent_env())
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    result = json.loads(proc.stdout.decode().rpartition("result ")[2])
    assert result == {"status": "success", "answer": "{{PIN}}: 21.4 °C in Paris"}
    # The secret was really used on the phone...
    assert server.phone.state()["focused_field"]["text"] == canary
    # ...and the tool ran, against the loopback server, with the placeholder.
    assert [q["name"] for q in weather.hits("/v1/search")] == ["{{PIN}}"] and weather.hits("/v1/forecast")
    assert b"21.4" in model.chat_requests[-1].raw, "the tool's result went back to the model"

    sources = {**run_dir_files(out), **_process_output(proc, log), **_requests(model, weather)}
    assert_no_leak(sources, canary)


# -- places that leaked once: a black frame's UI-tree stand-in, a failed typing command's error --------

def _prompt_texts(model) -> bytes:
    """Every text part of every message a ScriptedModel was sent, as JSON."""
    texts = []
    for messages, _ in model.requests:
        for m in messages:
            content = m.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            texts += [p.get("text") for p in parts if p.get("type") == "text"]
    return json.dumps(texts, ensure_ascii=False).encode()


def test_a_black_screen_after_typing_the_secret_keeps_it_from_the_model(phone, tmp_path: Path) -> None:
    """A secure (black) screen after typing, on a device that hands black frames to the loop
    (`AdbDevice(allow_black=True)`): the model is shown the UI tree's labels instead of the frame,
    and the focused field's text is the secret."""
    from vlagent import Agent, Policy, ScriptedModel
    from vlagent.devices import AdbDevice

    server, _ = phone
    canary = new_canary()
    model = ScriptedModel([hermes("mobile_use", action="type", text="{{PIN}}"),
                           hermes("mobile_use", action="wait", time=0.1),  # the frame after it is black
                           hermes("mobile_use", action="terminate", status="success")])

    def go_secure(step) -> None:
        if step.index == 0:  # after the typing: the app turns on FLAG_SECURE
            server.phone.secure = True

    with AdbDevice(server.serial, ime_settle=0, allow_black=True) as device:  # black frames reach the loop
        result = Agent(model, device, secrets={"PIN": canary}, policy=Policy("allow"), out_dir=tmp_path / "run",
                       on_step=go_secure).run("Type my PIN").status
    assert result == "success"
    assert server.phone.state()["focused_field"]["text"] == canary
    prompts = _prompt_texts(model)
    assert b"The screen capture came back black" in prompts, "the black-frame path was taken"
    sources = {"prompts": prompts, **run_dir_files(tmp_path / "run")}
    assert_no_leak(sources, canary)


def test_a_failed_typing_command_does_not_leak_the_secret(phone, tmp_path: Path, monkeypatch) -> None:
    """The phone refuses ADBKeyboard's broadcast (as Android does when the IME is not allowed):
    the run stops with a DeviceCommandError, which the trajectory records and the CLI prints."""
    from typer.testing import CliRunner

    from vlagent.cli import app
    from vlagent.devices.adb import AdbDevice

    real_shell = AdbDevice._shell

    def refusing_shell(self, command: str, **kwargs):
        if command.startswith("am broadcast") and "ADB_INPUT" in command:
            return ("Exception occurred while executing 'broadcast':\n"
                    "java.lang.SecurityException: Permission Denial: not allowed to send broadcast", 255)
        return real_shell(self, command, **kwargs)

    monkeypatch.setattr(AdbDevice, "_shell", refusing_shell)
    server, _ = phone
    canary = new_canary()
    out = tmp_path / "run"
    with FakeOpenAIServer(call("mobile_use", action="type", text="{{PIN}}"), models=["fake-model"]) as model:
        ran = CliRunner().invoke(app, [
            "run", "Type my PIN", "--device", f"adb:{server.serial}", "--model", f"{model.url}/v1#fake-model",
            "--secret", f"PIN={canary}", "--policy", "allow", "--out", str(out), "--max-steps", "3"])
    assert ran.exit_code == 2, ran.output
    assert "DeviceCommandError" in ran.output
    traj = json.loads((out / "trajectory.json").read_text())
    assert traj["status"] == "error" and "ADBKeyboard" in traj["error"]
    sources = {"cli output": ran.output.encode(), **run_dir_files(out), **_requests(model)}
    assert_no_leak(sources, canary)
