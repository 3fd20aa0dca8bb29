"""Cold start (issue #20): the README's API imports in a fraction of a second and loads nothing
heavy; Qwen-Agent's prompt builders load without the rest of Qwen-Agent.

Each check runs in a fresh interpreter. Timings are CPU seconds (`time.process_time`) around the
imports only, with bytecode cached as in an installed package, and the bound is generous: CI
machines are noisy, and the point is to catch a heavy import coming back (0.3-0.4 s before the
first fix, ~0.12 s while they still loaded pydantic), not to pin a figure. Measured on 2 shared
cores: ~0.035 s, a third of it the standard library's dataclasses, json, socket and subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What README.md's examples import.
README_API = """
import vlagent
from vlagent import Agent, Policy, TransformersModel, connect
from vlagent.devices import AdbDevice
"""

# Each is imported on first use, where it is needed, never by the imports above.
DEFERRED = (
    "torch", "transformers", "numpy", "httpx", "jsonschema", "jinja2", "asyncio", "qwen_agent",
    "adbutils", "pyautogui", "mss", "tenacity", "json5", "email.utils",
    # What a run needs: the action, trajectory and config models, frames, the step machinery.
    "pydantic", "PIL", "concurrent.futures", "tempfile", "logging", "vlagent.stepping",
)
CPU_BOUND_S = 0.2


def _python(code: str, cache: Path) -> dict:
    """Run `code` in a fresh interpreter whose bytecode is cached in `cache`; return the JSON
    it prints last."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed(imports: str) -> str:
    body = "".join(f"    {line}\n" for line in imports.strip().splitlines())
    return (
        "import json, sys, time\n"
        "def imports():\n" + body +
        "start = time.process_time()\n"
        "imports()\n"
        "cpu = time.process_time() - start\n"
        f"print(json.dumps({{'cpu': cpu, 'loaded': [m for m in {DEFERRED!r} if m in sys.modules]}}))\n"
    )


def test_readme_api_imports_nothing_heavy(tmp_path):
    result = _python(_timed(README_API), tmp_path)
    assert result["loaded"] == [], f"imported at `import vlagent` time: {result['loaded']}"


def test_readme_api_imports_fast(tmp_path):
    code = _timed(README_API)
    _python(code, tmp_path)  # writes the bytecode cache, as installing the package would
    best = min(_python(code, tmp_path)["cpu"] for _ in range(3))
    assert best < CPU_BOUND_S, f"the README's imports took {best:.3f} s of CPU (bound {CPU_BOUND_S} s)"


def test_prompt_builders_load_without_the_rest_of_qwen_agent(tmp_path):
    pytest.importorskip("qwen_agent", reason="the reference builders: pip install -e '.[test]'")
    code = """
import json, sys
from vlagent.prompts import render_messages
tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}]
messages = [{"role": "user", "content": "hi"}]
rendered = {fmt: render_messages(messages, tools, fmt) for fmt in ("qwen", "hermes")}
skipped = [m for m in ("qwen_agent.agent", "qwen_agent.llm.base", "openai", "dashscope", "tiktoken") if m in sys.modules]

# The rest of Qwen-Agent still loads, in place, the first time it is asked for.
import qwen_agent
from qwen_agent.llm import BaseChatModel
from qwen_agent.llm.fncall_prompts.qwen_fncall_prompt import QwenFnCallPrompt
from qwen_agent.llm.schema import Message
from vlagent.prompts import _builder
assert qwen_agent.Agent and qwen_agent.__version__ and BaseChatModel
assert type(_builder("qwen")) is QwenFnCallPrompt and qwen_agent.llm.schema.Message is Message
print(json.dumps({"skipped": skipped, "rendered": rendered}))
"""
    result = _python(code, tmp_path)
    assert result["skipped"] == []
    assert "✿FUNCTION✿" in result["rendered"]["qwen"][0]["content"]
    assert "<tool_call>" in result["rendered"]["hermes"][0]["content"]
