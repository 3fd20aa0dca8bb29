import json
import os
import re
import socket
import subprocess
import sys
import threading

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from vlagent import Trajectory, __version__
from vlagent.cli import app

runner = CliRunner()


def scripted(tmp_path, *arguments):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps([
        f'<tool_call>{json.dumps({"name": "mobile_use", "arguments": a})}</tool_call>' for a in arguments
    ]))
    return f"scripted:{path}"


def screenshot(tmp_path):
    path = tmp_path / "screen.png"
    Image.new("RGB", (1080, 2400), "white").save(path)
    return f"image:{path}"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_run_with_a_scripted_model(tmp_path):
    model = scripted(tmp_path, {"action": "click", "coordinate": [500, 300]},
                     {"action": "terminate", "status": "success", "text": "Settings is open"})
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "Open Settings", "--device", screenshot(tmp_path), "--model", model, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Settings is open" in result.output
    traj = Trajectory.load(out)
    assert traj.status == "success" and len(traj.steps) == 2
    assert traj.steps[0].actions[0].model_dump() == {"type": "tap", "x": 540, "y": 720}


def test_budget_exhausted_exits_1(tmp_path):
    model = scripted(tmp_path, *[{"action": "wait", "time": 0}] * 3)
    result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", model, "--max-steps", "2", "-o", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "max_steps" in result.output


def test_user_errors_say_what_to_fix(tmp_path):
    result = runner.invoke(app, ["run", "x", "--device", "toaster", "--model", scripted(tmp_path)])
    assert result.exit_code == 2 and "unknown device 'toaster'" in result.output and "adb[:SERIAL]" in result.output
    result = runner.invoke(app, ["run", "x", "--device", screenshot(tmp_path), "--model", "scripted:/no/such.json"])
    assert result.exit_code == 2 and "not found" in result.output
    result = runner.invoke(app, ["run", "x", "--device", screenshot(tmp_path), "--model", "/no/such/checkpoint"])
    assert result.exit_code == 2 and "hf download" in result.output


def test_tiny_model_command(tmp_path):
    result = runner.invoke(app, ["tiny-model", str(tmp_path / "tiny")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "tiny" / "config.json").exists() and (tmp_path / "tiny" / "model.safetensors").exists()


def test_help_teaches():
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    for word in ("--device", "--model", "scripted:FILE.json", "Exit status"):
        assert word in result.output


def test_chat_one_question_with_a_scripted_model(tmp_path):
    outputs = tmp_path / "chat.json"
    outputs.write_text(json.dumps(["✿RETURN✿: Hello from a replayed answer."]))
    result = runner.invoke(app, ["chat", "--model", f"scripted:{outputs}", "--tool", "weather", "-p", "Hi"])
    assert result.exit_code == 0, result.output
    assert "Hello from a replayed answer." in result.output and "✿RETURN✿" not in result.output
    assert "tools: get_weather" in result.output


def test_chat_reads_questions_until_exit(tmp_path):
    outputs = tmp_path / "chat.json"
    outputs.write_text(json.dumps(["First answer.", "Second answer."]))
    result = runner.invoke(app, ["chat", "-m", f"scripted:{outputs}", "-t", "plugins"], input="one\n/reset\ntwo\n/exit\nthree\n")
    assert result.exit_code == 0, result.output
    assert "First answer." in result.output and "Second answer." in result.output


def test_chat_rejects_unknown_tools(tmp_path):
    result = runner.invoke(app, ["chat", "-m", "scripted:x.json", "-t", "teleport"])
    assert result.exit_code == 2 and "teleport" in result.output


def test_show_transitions_is_saved_with_the_run(tmp_path):
    model = scripted(tmp_path, {"action": "terminate", "status": "success"})
    for flag, expected in (([], False), (["--show-transitions"], True)):
        out = tmp_path / f"run{expected}"
        result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", model, "-o", str(out), *flag])
        assert result.exit_code == 0, result.output
        assert Trajectory.load(out).config.show_transitions is expected


def test_secret_and_dry_run_flags(tmp_path):
    model = scripted(tmp_path, {"action": "type", "text": "{{PIN}}"}, {"action": "terminate", "status": "success"})
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "unlock", "-d", screenshot(tmp_path), "-m", model, "-o", str(out),
                                 "--secret", "PIN=271828", "--dry-run", "--policy", "allow"])
    assert result.exit_code == 0, result.output
    assert "271828" not in (out / "trajectory.json").read_text()
    assert Trajectory.load(out).steps[0].results[0].content == "dry run: not executed"
    # Without a terminal to ask, typing a secret is a guarded action the default policy refuses.
    guarded = runner.invoke(app, ["run", "unlock", "-d", screenshot(tmp_path), "-m", model, "-o", str(tmp_path / "g"),
                                  "--secret", "PIN=271828"])
    assert guarded.exit_code == 0, guarded.output
    assert "password_entry" in Trajectory.load(tmp_path / "g").steps[0].errors[0]
    bad = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", model, "--secret", "oops"])
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output


def test_resume_a_run_from_its_directory(tmp_path):
    out = tmp_path / "run"
    script = scripted(tmp_path, {"action": "wait", "time": 0},
                      {"action": "terminate", "status": "success", "text": "finished"})
    result = runner.invoke(app, ["run", "wait then finish", "-d", screenshot(tmp_path), "-m", script, "-o", str(out), "--max-steps", "1"])
    assert result.exit_code == 1 and Trajectory.load(out).status == "max_steps"
    # the same script resumes where the run stopped: its first output is not given (and acted on) again
    result = runner.invoke(app, ["run", "--resume", str(out), "-d", screenshot(tmp_path), "-m", script, "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    traj = Trajectory.load(out)
    assert (traj.status, traj.answer, len(traj.steps), traj.goal) == ("success", "finished", 2, "wait then finish")
    assert [a.type for s in traj.steps for a in s.actions] == ["wait", "terminate"]
    both = runner.invoke(app, ["run", "goal", "--resume", str(out), "-d", screenshot(tmp_path), "-m", script])
    assert both.exit_code == 2 and "not both" in both.output


class SilentServer:
    """A loopback TCP server that reads each request's first line and never answers: a network
    that swallows replies, as a machine behind a dead proxy sees the Hub."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.requests: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.connections.append(conn)
            conn.settimeout(2)
            try:
                self.requests.append(conn.recv(4096).decode("latin-1").split("\r\n", 1)[0])
            except OSError:
                self.requests.append("")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()
        for c in self.connections:
            c.close()


def test_a_hub_id_without_network_fails_after_one_probe_naming_hf_download(tmp_path):
    server = SilentServer()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=server.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vlagent.cli", "run", "x", "--device", screenshot(tmp_path),
             "--model", "Qwen/Qwen2-VL-2B-Instruct", "--out", str(tmp_path / "run")],
            capture_output=True, text=True, env=env, timeout=120)
    finally:
        server.close()
    assert result.returncode == 2, result.stderr
    assert "looks offline" in result.stderr and "hf download Qwen/Qwen2-VL-2B-Instruct" in result.stderr
    assert "Traceback" not in result.stderr
    # One probe, and huggingface_hub's download path (which retries with backoff) never began;
    # huggingface_hub's own once-a-day telemetry request is its business, not a download.
    assert [r for r in server.requests if r.startswith("HEAD / ")] == [server.requests[-1]]
    assert not [r for r in server.requests if "Qwen2-VL" in r], server.requests
    assert not (tmp_path / "run").exists()


def test_out_is_checked_before_anything_starts(tmp_path):
    missing_model = "/no/such/checkpoint"  # reached only if --out passed its checks
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", missing_model, "-o", str(a_file)])
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in result.output
    assert a_file.read_text() == "mine"

    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"jpeg")
    for extra in ([], ["--overwrite"]):
        result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", missing_model, "-o", str(other), *extra])
        assert result.exit_code == 2 and "holds no run" in result.output
    assert (other / "cat.jpg").read_bytes() == b"jpeg"


def test_an_existing_run_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "run"
    model = scripted(tmp_path, {"action": "terminate", "status": "success", "text": "first"})
    assert runner.invoke(app, ["run", "one", "-d", screenshot(tmp_path), "-m", model, "-o", str(out)]).exit_code == 0
    before = (out / "trajectory.json").read_bytes()
    again = runner.invoke(app, ["run", "two", "-d", screenshot(tmp_path), "-m", model, "-o", str(out)])
    assert again.exit_code == 2
    assert "already holds a run" in again.output and f"--resume {out}" in again.output and "--overwrite" in again.output
    assert (out / "trajectory.json").read_bytes() == before
    replaced = runner.invoke(app, ["run", "two", "-d", screenshot(tmp_path), "-m", model, "-o", str(out), "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert Trajectory.load(out).goal == "two" and len(Trajectory.load(out).steps) == 1


def test_a_dry_run_says_nothing_was_executed(tmp_path):
    model = scripted(tmp_path, {"action": "click", "coordinate": [500, 300]},
                     {"action": "terminate", "status": "success", "text": "Wi-Fi is on."})
    result = runner.invoke(app, ["run", "Turn on Wi-Fi", "-d", screenshot(tmp_path), "-m", model,
                                 "-o", str(tmp_path / "run"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run:" in result.output and "nothing was executed" in result.output
    assert "success after" not in result.output
    assert "the model would have answered: Wi-Fi is on." in result.output
    assert "Wi-Fi is on." not in result.stdout  # stdout carries answers that are facts


def _commands(group, prefix: tuple[str, ...] = ()):
    """Every command under `group` (typer builds on its own copy of click: duck-typed)."""
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + (name,))


def test_every_flag_is_shown_as_a_flag_in_help():
    flags_seen = 0
    for path, command in _commands(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path
        for param in command.params:
            if getattr(param, "is_flag", False):
                flags_seen += 1
                for opt in param.opts:  # the flag is followed by its help, not by a value
                    assert re.search(rf"{re.escape(opt)}(,|\s/\s|\s{{2,}}|$)", result.output, re.M), (path, opt)
    assert flags_seen >= 8


def test_help_offers_the_models_each_command_accepts(tmp_path):
    run_help = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    for kind in ("scripted:FILE.json", "tiny", "http://HOST:PORT/v1#MODEL", "Qwen/Qwen2-VL-2B-Instruct"):
        assert kind in run_help
    perf_help = runner.invoke(app, ["bench", "perf", "--help"], env={"COLUMNS": "200"}).output
    assert "a server URL, or scripted" not in perf_help and "cannot be compared" in perf_help
    outputs = tmp_path / "s.json"
    outputs.write_text("[]")
    for refused in (f"scripted:{outputs}", "http://127.0.0.1:9/v1"):
        result = runner.invoke(app, ["bench", "perf", "--model", refused])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("command", [["flow", "run", "FLOW"], ["replay", "RUN"]])
def test_flow_and_replay_check_out_too(tmp_path, command):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    argv = [str(tmp_path / "missing") if a in ("FLOW", "RUN") else a for a in command]
    result = runner.invoke(app, [*argv, "--out", str(a_file)])
    assert result.exit_code == 2 and "is a file" in result.output


def test_messages_keep_bracketed_text_and_stay_on_one_line(tmp_path):
    """Errors and goals are text, not rich markup; and a message is not broken at 80 columns."""
    result = runner.invoke(app, ["run", "x", "--device", "desktop:[red]", "--model", scripted(tmp_path)])
    assert result.exit_code == 2
    assert "--device desktop:[red]: the monitor must be a number, e.g. desktop:2" in result.output
    long_path = tmp_path / ("x" * 120)
    long_path.write_text("")
    result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", scripted(tmp_path), "-o", str(long_path)])
    assert f"--out {long_path} is a file" in result.output


def test_model_text_reaches_the_terminal_without_escape_sequences(tmp_path):
    hostile = "done \x1b[2J\x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \x9b31m[ok]"
    model = scripted(tmp_path, {"action": "terminate", "status": "success", "text": hostile})
    result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", model, "-o", str(tmp_path / "r")],
                           color=True)  # as on a terminal: click would pass styles through
    assert result.exit_code == 0, result.output
    assert "done RED  31m[ok]" in result.stdout
    assert not any(c in result.output for c in "\x1b\x07\x9b")
    outputs = tmp_path / "chat.json"
    outputs.write_text(json.dumps([f"✿RETURN✿: {hostile}"]))
    chat = runner.invoke(app, ["chat", "-m", f"scripted:{outputs}", "-t", "weather", "-p", "hi"], color=True)
    assert chat.exit_code == 0 and "RED" in chat.output and "\x1b" not in chat.output


@pytest.mark.parametrize("content", ["a directory", b"\xff\xfe[\x00]\x00", b"\x00\xd5\x81binary"])
def test_a_scripted_file_that_is_not_json_text_is_one_line_not_a_traceback(tmp_path, content):
    path = tmp_path / "outputs.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.mkdir()
    result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", f"scripted:{path}"])
    assert result.exit_code == 2, result.output  # an escaping exception would be exit 1
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1, result.output


def test_prompt_prints_what_the_model_receives(tmp_path, tiny_model_path):
    result = runner.invoke(app, ["prompt", "Turn on Wi-Fi", "-d", screenshot(tmp_path), "-m", str(tiny_model_path)])
    assert result.exit_code == 0, result.output
    # the tiny checkpoint is a qwen2_vl: its profile, named, wrote the ✿ tools block
    assert "profile qwen2-vl (Qwen2-VL)" in result.output
    assert "image 672x1484 (resized 672x1484): 1272 image tokens" in result.output
    assert "<|im_start|>system\nYou are a phone-use agent." in result.output
    assert "✿FUNCTION✿: The tool to use, should be one of [mobile_use]" in result.output
    assert result.output.rstrip("\n").endswith("What is the next action?<|im_end|>\n<|im_start|>assistant")
    forced = runner.invoke(app, ["prompt", "Turn on Wi-Fi", "-d", screenshot(tmp_path), "-m", str(tiny_model_path),
                                 "--profile", "qwen2.5-vl"])
    assert forced.exit_code == 0 and "profile qwen2.5-vl" in forced.output and "<tools>" in forced.output
    assert "The screen's resolution is 672x1484." in forced.output  # pixels of the resized image


def test_prompt_style_bare_leaves_our_text_out(tmp_path, tiny_model_path):
    result = runner.invoke(app, ["prompt", "Turn on Wi-Fi", "-d", screenshot(tmp_path), "-m", str(tiny_model_path),
                                 "--prompt-style", "bare"])
    assert result.exit_code == 0, result.output
    assert "You are a phone-use agent" not in result.output and "What is the next action" not in result.output
    assert "<|im_start|>system\n# Tools" in result.output  # the tool block, as the profile writes it
    assert result.output.rstrip("\n").endswith("<|vision_end|>Turn on Wi-Fi<|im_end|>\n<|im_start|>assistant")
    wrong = runner.invoke(app, ["prompt", "x", "-d", screenshot(tmp_path), "-m", str(tiny_model_path),
                                "--prompt-style", "short"])
    assert wrong.exit_code == 2 and "use full or bare" in wrong.output, wrong.output


def test_prompt_needs_a_real_model_and_a_known_profile(tmp_path, tiny_model_path):
    result = runner.invoke(app, ["prompt", "x", "-d", screenshot(tmp_path), "-m", scripted(tmp_path)])
    assert result.exit_code == 2 and "no prompt" in result.output
    result = runner.invoke(app, ["prompt", "x", "-d", screenshot(tmp_path), "-m", str(tiny_model_path),
                                 "--profile", "llama"])
    assert result.exit_code == 2 and "unknown profile 'llama'" in result.output and "qwen2.5-vl" in result.output


def test_profiles_lists_each_family():
    result = runner.invoke(app, ["profiles"])
    assert result.exit_code == 0
    assert "qwen2-vl\tQwen2-VL (config.json model_type qwen2_vl)" in result.output
    assert "qwen2.5-vl\tQwen2.5-VL (config.json model_type qwen2_5_vl)" in result.output


def test_readme_shows_what_prompt_prints(tmp_path, tiny_model_path):
    """README's `vlagent prompt` example, line for line (its one shortened line aside)."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split('$ vlagent prompt "Turn on Wi-Fi" --device sim --model tiny\n', 1)[1].split("\n```", 1)[0]
    result = runner.invoke(app, ["prompt", "Turn on Wi-Fi", "-d", screenshot(tmp_path), "-m", str(tiny_model_path)])
    assert result.exit_code == 0, result.output
    printed = [line for line in result.output.splitlines() if line]
    shown = [line for line in block.splitlines() if line and "…" not in line]
    assert len(shown) > 20 and [line for line in printed if line in shown] == shown
    assert printed[-1] == shown[-1] == "<|im_start|>assistant"


def _png_header_only(path, width, height):
    """A PNG that claims width x height (1 bit, grey) and holds no pixels: what a decompression
    bomb looks like to Image.open, without allocating one here."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("make,message", [
    (lambda p: _png_header_only(p / "bomb.png", 60_000, 60_000), "decompression bomb"),
    (lambda p: Image.new("RGB", (10_000, 10), "white").save(p / "wide.png") or p / "wide.png", "at most 200:1"),
])
def test_screenshots_the_model_cannot_take_are_one_line_errors(tmp_path, make, message):
    image = make(tmp_path)
    model = scripted(tmp_path, {"action": "terminate", "status": "success"})
    result = runner.invoke(app, ["run", "x", "-d", f"image:{image}", "-m", model, "-o", str(tmp_path / "run")])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs: a real full disk. Mounting needs root (or CAP_SYS_ADMIN); skipped without."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_out_on_a_nearly_full_disk_is_refused_up_front(tmp_path, tiny_disk):
    model = scripted(tmp_path, {"action": "terminate", "status": "success"})
    result = runner.invoke(app, ["run", "x", "-d", screenshot(tmp_path), "-m", model, "-o", str(tiny_disk / "run")])
    assert result.exit_code == 2 and "MB free there" in result.output and "Traceback" not in result.output
    assert list(tiny_disk.iterdir()) == []  # nothing written


def test_a_disk_that_fills_during_a_run_is_a_user_error(tmp_path, tiny_disk):
    """Through the API, which has no up-front check: the first screenshot (noise: ~7 MB of PNG)
    cannot be written, and the run ends saying why."""
    import os as _os

    from vlagent import Agent, ScriptedModel, UserError
    from vlagent.testing import ImageDevice

    noise = Image.frombytes("RGB", (1080, 2400), _os.urandom(1080 * 2400 * 3))
    model = ScriptedModel([f'<tool_call>{json.dumps({"name": "mobile_use", "arguments": {"action": "wait", "time": 0}})}</tool_call>'] * 3)
    with pytest.raises(UserError, match="the disk is full; free space there or choose another --out"):
        Agent(model, ImageDevice(noise), out_dir=tiny_disk / "run", max_steps=3).run("x")


def test_a_long_goal_costs_time_in_proportion_to_its_length(tmp_path):
    """A 100 KB goal once took 76 s through the CLI against 0.5 s through the API (quadratic
    handling of the goal). Ten times the text must cost well under a hundred times the time."""
    import time

    def seconds(goal: str) -> float:
        started = time.perf_counter()
        done = scripted(tmp_path, {"action": "terminate", "status": "success"})
        result = runner.invoke(app, ["run", goal, "-d", screenshot(tmp_path), "-m", done, "-o", str(tmp_path / f"r{len(goal)}")])
        assert result.exit_code == 0, result.output
        return time.perf_counter() - started

    seconds("warm up the imports")
    short, long_ = seconds("open Settings. " * 700), seconds("open Settings. " * 7000)  # ~10 KB, ~100 KB
    assert long_ < 30 * short, (short, long_)
