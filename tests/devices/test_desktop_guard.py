"""The guard on a desktop, which gives no UI tree: it reads the screen's pixels (Tesseract) for
the words under a click and beside the field being typed into.

A real Xvfb, a real Tk window (a "Clean up" dialog: Delete all files / Cancel, a Password and a
Search field) and a real agent run in a subprocess under `Policy("deny")` with a scripted model
that tries each control. The Tk app writes what reached it, so the test sees what ran: the
delete button and the password field never get anything, Cancel and Search do. The agent runs in
its own process because pyautogui binds to one display per process, at import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from system_packages import INSTALL_HINT
from xvfb import missing_tools, wait_for_app, xvfb

pytestmark = pytest.mark.desktop

SCREEN = (1024, 768)

APP = """
import json, os, sys
import tkinter as tk

state_path = sys.argv[1]
state = {"ready": False, "pressed": [], "password": "", "search": "", "widgets": {}}

def write():
    with open(state_path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(state_path + ".tmp", state_path)

root = tk.Tk()
root.overrideredirect(True)
root.geometry("600x340+100+100")
root.configure(background="#ececec")
font = ("DejaVu Sans", 16)
tk.Label(root, text="Free up space: remove everything in Documents?", font=font, bg="#ececec").place(x=20, y=20)
widgets = {}
for name, label, x in (("delete", "Delete all files", 20), ("cancel", "Cancel", 330)):
    widgets[name] = tk.Button(root, text=label, font=font, command=lambda n=name: (state["pressed"].append(n), write()))
    widgets[name].place(x=x, y=80, width=250, height=44)
for name, label, y in (("password", "Password", 170), ("search", "Search", 250)):
    tk.Label(root, text=label, font=font, bg="#ececec").place(x=20, y=y)
    var = tk.StringVar()
    var.trace_add("write", lambda *_, n=name, v=var: (state.update({n: v.get()}), write()))
    widgets[name] = tk.Entry(root, textvariable=var, font=font, insertofftime=0)
    widgets[name].place(x=160, y=y - 4, width=400, height=40)

def ready():
    root.update_idletasks()
    for name, w in widgets.items():
        state["widgets"][name] = [w.winfo_rootx() + w.winfo_width() // 2, w.winfo_rooty() + w.winfo_height() // 2]
    root.focus_force()
    state["ready"] = True
    write()

root.after(50, ready)
root.mainloop()
"""

AGENT = """
import json, sys
from vlagent import Agent, Policy, ScriptedModel, Trajectory
from vlagent.devices import DesktopDevice

cfg = json.load(sys.stdin)
with DesktopDevice() as device:
    result = Agent(ScriptedModel(cfg["script"]), device, policy=Policy("deny"), out_dir=cfg["out"]).run(
        "Search for the weather")
errors = [e for step in Trajectory.load(result.trajectory_path).steps for e in step.errors]
print(json.dumps({"status": result.status, "errors": errors}))
"""


def call(**arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def test_a_desktop_guard_reads_what_it_cannot_ask_a_ui_tree(tmp_path: Path) -> None:
    if missing_tools("Xvfb"):
        pytest.skip(f"Xvfb is not installed ({INSTALL_HINT})")
    if missing_tools("tesseract"):
        pytest.skip(f"tesseract is not installed ({INSTALL_HINT})")
    pytest.importorskip("tkinter")
    pytest.importorskip("pytesseract")
    state = tmp_path / "app.json"
    with xvfb(*SCREEN) as server:
        app = subprocess.Popen([sys.executable, "-c", APP, str(state)], env=server.env)
        try:
            at = wait_for_app(state, app)["widgets"]

            def click(name: str) -> str:
                x, y = at[name]
                return call(action="left_click", coordinate=[round(x * 1000 / SCREEN[0]), round(y * 1000 / SCREEN[1])])

            script = [click("delete"), click("cancel"), click("password"), call(action="type", text="hunter2"),
                      click("search"), call(action="type", text="weather"), call(action="terminate", status="success")]
            proc = subprocess.run([sys.executable, "-c", AGENT], env=server.env, capture_output=True, timeout=180,
                                  input=json.dumps({"script": script, "out": str(tmp_path / "run")}).encode())
            assert proc.returncode == 0, proc.stderr.decode()[-3000:]
            outcome = json.loads(proc.stdout.decode().splitlines()[-1])
            reached = json.loads(state.read_text())
        finally:
            app.terminate()
            app.wait(timeout=5)
    blocked = outcome["errors"]
    assert len(blocked) == 2, "\n".join(blocked)
    assert "clicking 'Delete" in blocked[0] and "delete" in blocked[0] and "read off the screen" in blocked[0]
    assert "password_entry" in blocked[1] and "Password" in blocked[1]
    assert reached["pressed"] == ["cancel"] and reached["password"] == "" and reached["search"] == "weather"
    assert outcome["status"] == "success"
