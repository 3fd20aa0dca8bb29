"""Each function-calling example runs as a script, with a ScriptedModel standing in for the model
(replayed outputs, not a model's judgement) and loopback servers standing in for the providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fake_http import Answer, FakeAPI
from provider_fixtures import AA1004, GEOCODING_PARIS, flights, forecast

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_example(name: str, outputs: list[str], tmp_path: Path, *args: str, env: dict | None = None) -> str:
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(outputs))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--model", f"scripted:{script}", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 240), "skyblue").save(path)
    return str(path)


def test_weather_assistant(tmp_path, photo):
    with FakeAPI() as api:
        api.route("/v1/search", Answer(200, GEOCODING_PARIS))
        api.route("/v1/forecast", lambda q: Answer(200, forecast(q)))
        out = run_example(
            "weather_assistant.py",
            ['<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', "Mild and partly cloudy."],
            tmp_path, "--image", photo,
            env={"VLAGENT_OPEN_METEO_URL": api.url, "VLAGENT_OPEN_METEO_GEOCODING_URL": api.url},
        )
        assert len(api.hits("/v1/forecast")) == 1
    assert "get_weather({'city': 'Paris'})" in out and '"place": "Paris"' in out
    assert out.strip().endswith("Mild and partly cloudy.")


def test_flight_from_photo(tmp_path, photo):
    with FakeAPI() as api:
        api.route("/v1/flights", Answer(200, flights(AA1004)))
        out = run_example(
            "flight_from_photo.py",
            ['<tool_call>{"name": "flight_status", "arguments": {"flight_number": "AA1004"}}</tool_call>',
             "AA1004 left SFO 13 minutes late."],
            tmp_path, "--image", photo,
            env={"VLAGENT_AVIATIONSTACK_URL": f"{api.url}/v1", "AVIATIONSTACK_API_KEY": "test-key"},
        )
        (query,) = api.hits("/v1/flights")
    assert query["flight_iata"] == "AA1004" and query["access_key"] == "test-key"
    assert "AA1004 left SFO 13 minutes late." in out


def test_custom_tool(tmp_path):
    out = run_example(
        "custom_tool.py",
        ['<tool_call>{"name": "tip", "arguments": {"bill": 84.5, "percent": 15, "rounding": "sideways"}}</tool_call>',
         '<tool_call>{"name": "tip", "arguments": {"bill": 84.5, "percent": 15, "rounding": "up"}}</tool_call>',
         "Tip 12.68, pay 98."],
        tmp_path, "What is 15% of a 84.50 bill?",
    )
    assert out.strip() == "Tip 12.68, pay 98."


def test_custom_tool_schema_and_result():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import custom_tool
    finally:
        sys.path.remove(str(EXAMPLES))
    assert custom_tool.tip.parameters["properties"]["rounding"]["enum"] == ["none", "up"]
    assert custom_tool.tip(bill=84.5, percent=15, rounding="up") == {"tip": 12.68, "total": 98.0}
