import json

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
    assert result.exit_code == 2 and "huggingface-cli download" in result.output


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
    first = scripted(tmp_path, {"action": "wait", "time": 0})
    result = runner.invoke(app, ["run", "wait then finish", "-d", screenshot(tmp_path), "-m", first, "-o", str(out), "--max-steps", "1"])
    assert result.exit_code == 1 and Trajectory.load(out).status == "max_steps"
    (tmp_path / "outputs.json").unlink()
    second = scripted(tmp_path, {"action": "terminate", "status": "success", "text": "finished"})
    result = runner.invoke(app, ["run", "--resume", str(out), "-d", screenshot(tmp_path), "-m", second, "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    traj = Trajectory.load(out)
    assert (traj.status, traj.answer, len(traj.steps), traj.goal) == ("success", "finished", 2, "wait then finish")
    both = runner.invoke(app, ["run", "goal", "--resume", str(out), "-d", screenshot(tmp_path), "-m", second])
    assert both.exit_code == 2 and "not both" in both.output
